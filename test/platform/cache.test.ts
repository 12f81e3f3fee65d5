import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TwoTierCache, type TwoTierCacheOptions } from '../../src/platform/cache.js'
import { createMetrics, type Metrics } from '../../src/platform/metrics.js'
import { connectRedis, type RedisHandle } from '../../src/platform/redis.js'

// Read here rather than from ../helpers.js, which loads the whole app; the CI rule is the same.
const redisUrl = process.env.TEST_REDIS_URL
if (!redisUrl && (process.env.CI === 'true' || process.env.REQUIRE_TEST_SERVICES === '1')) {
  throw new Error('CI requires TEST_REDIS_URL: the Redis cache tests must run')
}

const silent = pino({ level: 'silent' })

function recordingLog() {
  const messages: string[] = []
  return { messages, warn: (_obj: object, msg: string) => void messages.push(msg) }
}

function newCache(options: Partial<TwoTierCacheOptions> = {}) {
  return new TwoTierCache({
    name: 'test',
    metrics: createMetrics(),
    maxBytes: 1_000_000,
    redisMaxValueBytes: 1_000_000,
    redisTtlSeconds: 60,
    ...options,
  })
}

async function metricValue({ registry }: Metrics, name: string, labels: Record<string, string>) {
  const metric = registry.getSingleMetric(name)
  if (!metric) throw new Error(`metric ${name} not registered`)
  const { values } = await metric.get()
  const sample = values.find((value) =>
    Object.entries(labels).every(([label, wanted]) => value.labels[label] === wanted),
  )
  return sample?.value ?? 0
}

/** A compute that stays pending until released, so callers can pile up behind it. */
function gate() {
  let release!: (value: string) => void
  let fail!: (error: Error) => void
  let calls = 0
  const promise = new Promise<string>((resolve, reject) => {
    release = resolve
    fail = reject
  })
  return {
    release,
    fail,
    get calls() {
      return calls
    },
    compute: () => {
      calls += 1
      return promise
    },
  }
}

describe('TwoTierCache, local tier', () => {
  it('misses, then hits after set, and counts both', async () => {
    const metrics = createMetrics()
    const cache = newCache({ metrics })
    expect(await cache.get('k')).toBeUndefined()
    await cache.set('k', '12345')
    expect(await cache.get('k')).toEqual({ value: '12345', tier: 'local' })
    expect(await metricValue(metrics, 'cache_requests_total', { tier: 'local', outcome: 'miss' })).toBe(1)
    expect(await metricValue(metrics, 'cache_requests_total', { tier: 'local', outcome: 'hit' })).toBe(1)
  })

  it('is bounded in bytes: evicts the least recently used, and never keeps a value larger than the bound', async () => {
    const metrics = createMetrics()
    const cache = newCache({ metrics, maxBytes: 10 })
    await cache.set('a', '1111')
    await cache.set('b', '2222')
    await cache.set('c', '3333')
    expect(await cache.get('a')).toBeUndefined()
    expect(await cache.get('b')).toEqual({ value: '2222', tier: 'local' })
    expect(await cache.get('c')).toEqual({ value: '3333', tier: 'local' })
    expect(await metricValue(metrics, 'cache_local_bytes', { cache: 'test' })).toBe(8)

    await cache.set('huge', '12345678901')
    expect(await cache.get('huge')).toBeUndefined()
    expect(await cache.get('b')).toBeDefined()
  })

  it('with maxBytes 0 keeps nothing and computes every time', async () => {
    const cache = newCache({ maxBytes: 0 })
    await cache.set('k', 'v')
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.getOrCompute('k', async () => '1')).toEqual({ value: '1', source: 'computed' })
    expect(await cache.getOrCompute('k', async () => '2')).toEqual({ value: '2', source: 'computed' })
  })

  it('shares one compute among concurrent callers of one key', async () => {
    const metrics = createMetrics()
    const cache = newCache({ metrics })
    const pending = gate()
    const calls = Array.from({ length: 20 }, () => cache.getOrCompute('fib:1000', pending.compute))
    pending.release(
      '43466557686937456435688527675040625802564660517371780402481729089536555417949051890403879840079255169295922593080322634775209689623239873322471161642996440906533187938298969649928516003704476137795166849228875',
    )
    const results = await Promise.all(calls)

    expect(pending.calls).toBe(1)
    const sources = results.map((result) => result.source)
    expect(sources.filter((source) => source === 'computed')).toHaveLength(1)
    expect(sources.filter((source) => source === 'shared')).toHaveLength(19)
    expect(new Set(results.map((result) => result.value)).size).toBe(1)
    expect(await metricValue(metrics, 'cache_singleflight_shared_total', { cache: 'test' })).toBe(19)
    expect((await cache.getOrCompute('fib:1000', pending.compute)).source).toBe('local')
  })

  it('does not cache a rejected compute, and rejects every waiter with it', async () => {
    const cache = newCache()
    const pending = gate()
    const calls = Array.from({ length: 5 }, () => cache.getOrCompute('k', pending.compute))
    const error = new Error('worker crashed')
    pending.fail(error)
    const outcomes = await Promise.allSettled(calls)
    expect(outcomes.every((outcome) => outcome.status === 'rejected' && outcome.reason === error)).toBe(true)
    expect(pending.calls).toBe(1)
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.getOrCompute('k', async () => 'ok')).toEqual({ value: 'ok', source: 'computed' })
  })

  it('does not keep a value whose key was deleted while it was being computed', async () => {
    const cache = newCache()
    const pending = gate()
    const first = cache.getOrCompute('k', pending.compute)
    await cache.delete('k')
    // A caller after the delete starts afresh instead of joining the old compute.
    expect(await cache.getOrCompute('k', async () => 'new')).toEqual({ value: 'new', source: 'computed' })
    pending.release('old')
    expect(await first).toEqual({ value: 'old', source: 'computed' })
    expect(await cache.get('k')).toEqual({ value: 'new', tier: 'local' })
  })

  it('exposes its metrics, for several caches in one registry', async () => {
    const metrics = createMetrics()
    const math = newCache({ metrics, name: 'math' })
    const products = newCache({ metrics, name: 'products' })
    await math.getOrCompute('k', async () => 'value')
    await math.getOrCompute('k', async () => 'value')
    await products.set('p', 'xyz')
    const text = await metrics.registry.metrics()
    expect(text).toContain('cache_requests_total{cache="math",tier="local",outcome="miss"} 1')
    expect(text).toContain('cache_requests_total{cache="math",tier="local",outcome="hit"} 1')
    expect(text).toContain('cache_local_bytes{cache="math"} 5')
    expect(text).toContain('cache_local_bytes{cache="products"} 3')
    expect(text).toContain('# TYPE cache_redis_errors_total counter')
    expect(text).toContain('# TYPE cache_singleflight_shared_total counter')
  })
})

describe('TwoTierCache with Redis down', () => {
  let down: RedisHandle
  beforeAll(async () => {
    // Nothing listens on port 1: the client never becomes ready.
    down = await connectRedis('redis://127.0.0.1:1', `test:${randomUUID()}:`, silent)
  })
  afterAll(() => down.close())

  it('serves every operation from the local tier, counts the errors and warns once', async () => {
    const metrics = createMetrics()
    const log = recordingLog()
    const cache = newCache({ metrics, redis: down, log })
    expect(down.isReady()).toBe(false)

    expect(await cache.get('k')).toBeUndefined()
    await cache.set('k', 'v')
    expect(await cache.get('k')).toEqual({ value: 'v', tier: 'local' })
    expect(await cache.getOrCompute('c', async () => 'computed')).toEqual({
      value: 'computed',
      source: 'computed',
    })
    await cache.delete('k')
    expect(await cache.get('k')).toBeUndefined()

    expect(await metricValue(metrics, 'cache_redis_errors_total', { cache: 'test' })).toBeGreaterThanOrEqual(
      6,
    )
    expect(log.messages).toHaveLength(1)
    expect(log.messages[0]).toMatch(/unavailable/)
  })

  it('survives commands that fail even though the client claims to be ready', async () => {
    const metrics = createMetrics()
    const cache = newCache({ metrics, redis: { ...down, isReady: () => true } })
    await cache.set('k', 'v')
    expect(await cache.get('k')).toEqual({ value: 'v', tier: 'local' })
    await cache.delete('k')
    expect(await cache.getOrCompute('k', async () => 'again')).toEqual({ value: 'again', source: 'computed' })
    expect(await metricValue(metrics, 'cache_redis_errors_total', { cache: 'test' })).toBeGreaterThanOrEqual(
      4,
    )
  })
})

if (redisUrl) {
  const url = redisUrl
  describe('TwoTierCache with Redis', () => {
    const prefix = `test:${randomUUID().replaceAll('-', '').slice(0, 16)}:`
    let redis: RedisHandle
    beforeAll(async () => {
      redis = await connectRedis(url, prefix, silent)
      if (!redis.isReady()) throw new Error(`TEST_REDIS_URL is set but Redis at ${url} is not reachable`)
    })
    afterAll(async () => {
      // The client prefixes DEL's arguments but not KEYS's pattern.
      const keys = await redis.client.keys(`${prefix}*`)
      if (keys.length > 0) await redis.client.del(...keys.map((key) => key.slice(prefix.length)))
      await redis.close()
    })

    /** Each test gets its own cache name, hence its own keys; two caches of one name act as two instances. */
    const pair = (options: Partial<TwoTierCacheOptions> = {}) => {
      const name = `t${randomUUID().slice(0, 8)}`
      return [newCache({ name, redis, ...options }), newCache({ name, redis, ...options }), name] as const
    }

    it('serves a value set by one instance to another, copying it into the local tier', async () => {
      const metrics = createMetrics()
      const [a, b] = pair({ metrics })
      await a.set('fib:10', '55')
      expect(await b.get('fib:10')).toEqual({ value: '55', tier: 'redis' })
      expect(await b.get('fib:10')).toEqual({ value: '55', tier: 'local' })
      expect(await metricValue(metrics, 'cache_requests_total', { tier: 'redis', outcome: 'hit' })).toBe(1)

      await a.set('fib:11', '89')
      let computed = 0
      const outcome = await b.getOrCompute('fib:11', async () => {
        computed += 1
        return '89'
      })
      expect(outcome).toEqual({ value: '89', source: 'redis' })
      expect(computed).toBe(0)
    })

    it('writes computed values to Redis with a TTL, but keeps values over redisMaxValueBytes local only', async () => {
      const [cache, , name] = pair({ redisMaxValueBytes: 8, redisTtlSeconds: 60 })
      await cache.getOrCompute('small', async () => '12345678')
      await cache.set('large', '123456789')
      expect(await redis.client.get(`cache:${name}:small`)).toBe('12345678')
      const ttl = await redis.client.ttl(`cache:${name}:small`)
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(60)
      expect(await redis.client.exists(`cache:${name}:large`)).toBe(0)
      expect(await cache.get('large')).toEqual({ value: '123456789', tier: 'local' })
    })

    it('deletes from both tiers', async () => {
      const [a, b, name] = pair()
      await a.set('k', 'v')
      await b.get('k')
      await a.delete('k')
      expect(await redis.client.exists(`cache:${name}:k`)).toBe(0)
      expect(await a.get('k')).toBeUndefined()
    })

    it('degrades during an outage, then uses Redis again', async () => {
      let up = true
      const flaky: RedisHandle = { ...redis, isReady: () => up && redis.isReady() }
      const metrics = createMetrics()
      const log = recordingLog()
      const [other, , name] = pair()
      const cache = newCache({ name, metrics, redis: flaky, log })
      expect(await metricValue(metrics, 'cache_redis_errors_total', { cache: name })).toBe(0)

      up = false
      await cache.set('during', 'outage')
      expect(await cache.get('during')).toEqual({ value: 'outage', tier: 'local' })
      expect(await redis.client.exists(`cache:${name}:during`)).toBe(0)
      expect(await metricValue(metrics, 'cache_redis_errors_total', { cache: name })).toBe(1)

      up = true
      await cache.set('after', 'recovery')
      expect(await other.get('after')).toEqual({ value: 'recovery', tier: 'redis' })
      expect(log.messages).toHaveLength(2)
      expect(log.messages[0]).toMatch(/unavailable/)
      expect(log.messages[1]).toMatch(/restored/)
    })
  })
} else {
  describe.skip('TwoTierCache with Redis — skipped: TEST_REDIS_URL not set', () => {
    it('needs a Redis server', () => {})
  })
}
