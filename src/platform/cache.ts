import type { Redis } from 'ioredis'
import { LRUCache } from 'lru-cache'
import type { Metrics } from './metrics.js'
import type { RedisHandle } from './redis.js'
import { currentCaller } from './request-context.js'

/*
 * In-process LRU in front of an optional shared Redis tier, with one compute per key per process.
 * Redis is an optimisation, never a dependency: while it is down or failing every operation is served by
 * this process alone (its bounded command timeout and disabled offline queue keep that fast), and it is
 * used again as soon as the client reports ready.
 */

export interface TwoTierCacheOptions {
  /** Metrics label and key namespace, e.g. 'math'. */
  name: string
  metrics: CacheMetrics
  /** Local LRU bound; a value's length (characters, or bytes) counts as its size. 0 disables the local tier. */
  maxBytes: number
  redis?: RedisHandle
  /** Longer values stay local only, sparing Redis memory and its single thread. 0 = never to Redis. */
  redisMaxValueBytes: number
  redisTtlSeconds: number
  /**
   * Bytes that may be added to Redis per TTL window by all callers together, and by one caller (the
   * request's user, else its address); past either, values stay in the local tier. 0 = no bound.
   */
  redisBudgetBytes?: number
  redisCallerBudgetBytes?: number
  log?: { warn(obj: object, msg: string): void }
}

export type CacheSource = 'local' | 'redis' | 'computed' | 'shared'

type Loaded<V> = { value: V | string; source: 'redis' | 'computed' }

/** The metrics every cache counts in, each under its own name as the cache label. */
export type CacheMetrics = Pick<
  Metrics,
  'cacheLocalBytes' | 'cacheRequests' | 'cacheRedisErrors' | 'cacheOverBudget' | 'cacheShared'
>

/*
 * SET within a byte budget, atomically: the entry is written only if its size still fits both the caller's
 * and the total budget of the current window, which starts at the window's first write and lasts one TTL.
 * An entry lives at most one TTL past its window, so Redis holds at most two windows' budgets of entries.
 */
const BUDGETED_SET_SCRIPT = `
local size = tonumber(ARGV[3])
for i = 2, 3 do
  local limit = tonumber(ARGV[2 + i])
  if limit > 0 and tonumber(redis.call('GET', KEYS[i]) or '0') + size > limit then return 0 end
end
for i = 2, 3 do
  redis.call('INCRBY', KEYS[i], size)
  if redis.call('TTL', KEYS[i]) < 0 then redis.call('EXPIRE', KEYS[i], ARGV[2]) end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
`

/** What Redis spends on a key beyond its name and value (dict entry, object headers, expiry): charged too. */
const REDIS_ENTRY_OVERHEAD_BYTES = 96
/**
 * Values are strings, or for a cache created as TwoTierCache<string | Buffer>, also bytes: a big value is
 * then kept as the very buffer it was computed into (no copy, no string), and sent to Redis as it is. Redis
 * answers with strings, so a reader of such a cache gets either.
 */
export class TwoTierCache<V extends string | Buffer = string> {
  private readonly local: LRUCache<string, V | string> | undefined
  private readonly inflight = new Map<string, Promise<Loaded<V>>>()
  private readonly metrics: CacheMetrics
  private redisDown = false

  constructor(private readonly options: TwoTierCacheOptions) {
    this.local =
      options.maxBytes > 0
        ? new LRUCache<string, V | string>({
            maxSize: options.maxBytes,
            sizeCalculation: (value) => Math.max(1, value.length),
          })
        : undefined
    this.metrics = options.metrics
    const cache = options.name
    // Read at scrape time: evictions happen inside lru-cache, where no hook would see every size change.
    this.metrics.cacheLocalBytes.readFrom((gauge) => gauge.set({ cache }, this.local?.calculatedSize ?? 0))
    // Every series this cache can produce exists from the start at 0, so a first burst shows in rate().
    for (const tier of ['local', 'redis'] as const)
      for (const outcome of ['hit', 'miss'] as const)
        this.metrics.cacheRequests.inc({ cache, tier, outcome }, 0)
    this.metrics.cacheRedisErrors.inc({ cache }, 0)
    this.metrics.cacheShared.inc({ cache }, 0)
  }

  async get(key: string): Promise<{ value: V | string; tier: 'local' | 'redis' } | undefined> {
    const local = this.getLocal(key)
    if (local !== undefined) return { value: local, tier: 'local' }
    const remote = await this.getRemote(key)
    if (remote === undefined) return undefined
    this.local?.set(key, remote)
    return { value: remote, tier: 'redis' }
  }

  async set(key: string, value: V): Promise<void> {
    this.local?.set(key, value)
    const max = this.options.redisMaxValueBytes
    if (max > 0 && value.length <= max) {
      const ttl = this.options.redisTtlSeconds
      const total = this.options.redisBudgetBytes ?? 0
      const perCaller = this.options.redisCallerBudgetBytes ?? 0
      if (total === 0 && perCaller === 0) {
        await this.redisCall('set', (client) => client.set(this.redisKey(key), value, 'EX', ttl))
        return
      }
      const redisKey = this.redisKey(key)
      const stored = await this.redisCall(
        'set',
        (client) =>
          client.eval(
            BUDGETED_SET_SCRIPT,
            3,
            redisKey,
            this.budgetKey(currentCaller()),
            this.budgetKey('all'),
            value,
            ttl,
            value.length + redisKey.length + REDIS_ENTRY_OVERHEAD_BYTES,
            perCaller,
            total,
          ) as Promise<number>,
      )
      if (stored === 0) this.metrics.cacheOverBudget.inc({ cache: this.options.name })
    }
  }

  /**
   * Local, then Redis (a Redis hit is copied into the local tier), then compute. Concurrent calls for the
   * same key in this process share ONE compute (single-flight); a compute that rejects is not cached and
   * every waiter gets the rejection.
   */
  async getOrCompute(
    key: string,
    compute: () => Promise<V>,
  ): Promise<{ value: V | string; source: CacheSource }> {
    const local = this.getLocal(key)
    if (local !== undefined) return { value: local, source: 'local' }
    const pending = this.inflight.get(key)
    if (pending) {
      this.metrics.cacheShared.inc({ cache: this.options.name })
      return { value: (await pending).value, source: 'shared' }
    }
    const flight: Promise<Loaded<V>> = this.load(key, compute, () => this.inflight.get(key) === flight)
    this.inflight.set(key, flight)
    try {
      return await flight
    } finally {
      if (this.inflight.get(key) === flight) this.inflight.delete(key)
    }
  }

  async delete(key: string): Promise<void> {
    this.local?.delete(key)
    // Later callers must not join a compute that may have read the state this delete is about.
    this.inflight.delete(key)
    await this.redisCall('del', (client) => client.del(this.redisKey(key)))
  }

  private async load(key: string, compute: () => Promise<V>, current: () => boolean): Promise<Loaded<V>> {
    const remote = await this.getRemote(key)
    if (remote !== undefined) {
      if (current()) this.local?.set(key, remote)
      return { value: remote, source: 'redis' }
    }
    const value = await compute()
    // Deleted meanwhile: the value may predate the change; its callers get it, but it is not kept.
    if (current()) await this.set(key, value)
    return { value, source: 'computed' }
  }

  private getLocal(key: string): V | string | undefined {
    if (!this.local) return undefined
    const value = this.local.get(key)
    this.count('local', value === undefined ? 'miss' : 'hit')
    return value
  }

  /** undefined on a miss and when Redis is not there to ask. */
  private async getRemote(key: string): Promise<string | undefined> {
    const value = await this.redisCall('get', (client) => client.get(this.redisKey(key)))
    if (value === undefined) return undefined
    this.count('redis', value === null ? 'miss' : 'hit')
    return value ?? undefined
  }

  /** Runs a command if Redis is configured and ready; undefined when it could not. Never throws. */
  private async redisCall<T>(
    operation: string,
    command: (client: Redis) => Promise<T>,
  ): Promise<T | undefined> {
    const redis = this.options.redis
    if (!redis) return undefined
    if (!redis.isReady()) {
      this.redisFailed(operation)
      return undefined
    }
    try {
      const result = await command(redis.client)
      if (this.redisDown) {
        this.redisDown = false
        this.options.log?.warn({ cache: this.options.name }, 'cache: redis tier restored')
      }
      return result
    } catch (error) {
      this.redisFailed(operation, error)
      return undefined
    }
  }

  private redisFailed(operation: string, error?: unknown): void {
    this.metrics.cacheRedisErrors.inc({ cache: this.options.name })
    if (this.redisDown) return
    this.redisDown = true
    this.options.log?.warn(
      { cache: this.options.name, operation, err: error },
      'cache: redis tier unavailable; serving from this process only until it returns',
    )
  }

  private count(tier: 'local' | 'redis', outcome: 'hit' | 'miss'): void {
    this.metrics.cacheRequests.inc({ cache: this.options.name, tier, outcome })
  }

  private redisKey(key: string): string {
    return `cache:${this.options.name}:${key}`
  }

  private budgetKey(owner: string): string {
    return `cache-budget:${this.options.name}:${owner}`
  }
}
