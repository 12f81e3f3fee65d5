import { LRUCache } from 'lru-cache'
import type { Role } from './db-schema.js'
import type { RedisHandle } from './redis.js'

/** What an access token is checked against on every request. */
export interface UserState {
  role: Role
  isActive: boolean
  tokenVersion: number
}

const CHANNEL = 'user-state:v1:invalidate'

/**
 * Longest an entry is trusted. It bounds what no message can fix: a change made through an instance that
 * could not reach Redis while this one could (its invalidation is re-sent once it reconnects, but this one
 * must not wait for that).
 */
export const USER_STATE_TTL_MS = 30_000

/**
 * Caches each user's token-relevant state so verifying a token costs no query in the common case.
 * A change invalidates the entry here and, through Redis pub/sub, on every other instance. While the
 * subscription is down this instance cannot hear other instances' changes, so it reads the database
 * every time instead of trusting its cache; when the subscription returns it starts from empty. An
 * invalidation this instance could not publish is published when its Redis connection returns.
 */
export class UserStateCache {
  private readonly entries = new LRUCache<string, UserState>({ max: 50_000, ttl: USER_STATE_TTL_MS })
  private readonly channel: string
  private readonly unsent = new Set<string>()
  /**
   * Bumped by every invalidation heard: a state loaded before a change committed must not be cached once the
   * change's invalidation arrived while the load was in flight (it would then be trusted until it expires).
   */
  private generation = 0

  constructor(
    private readonly load: (userId: string) => Promise<UserState | undefined>,
    private readonly redis?: RedisHandle,
  ) {
    this.channel = `${redis?.keyPrefix ?? ''}${CHANNEL}`
    if (redis) {
      redis.subscriber.on('message', (channel: string, userId: string) => {
        if (channel !== this.channel) return
        this.generation++
        this.entries.delete(userId)
      })
      redis.subscriber.on('ready', () => {
        this.generation++
        this.entries.clear()
      })
      redis.subscriber.subscribe(this.channel).catch(() => {})
      redis.client.on('ready', () => {
        for (const userId of this.unsent) void this.publish(userId)
      })
    }
  }

  private trustworthy(): boolean {
    // The command connection too: in a partition that leaves the subscriber's socket open but silent, its
    // status stays 'ready' while nothing arrives; the command connection's timeouts are what notice that.
    return this.redis === undefined || (this.redis.subscriber.status === 'ready' && this.redis.isReady())
  }

  /** The cached state when it can be trusted, without a promise; undefined means: ask get(). */
  peek(userId: string): UserState | undefined {
    return this.trustworthy() ? this.entries.get(userId) : undefined
  }

  async get(userId: string): Promise<UserState | undefined> {
    if (this.trustworthy()) {
      const cached = this.entries.get(userId)
      if (cached) return cached
    }
    const generation = this.generation
    const state = await this.load(userId)
    if (state && this.trustworthy() && generation === this.generation) this.entries.set(userId, state)
    return state
  }

  /** Call after the change has committed. */
  async invalidate(userId: string): Promise<void> {
    this.generation++
    this.entries.delete(userId)
    await this.publish(userId)
  }

  private async publish(userId: string): Promise<void> {
    if (!this.redis) return
    this.unsent.add(userId)
    if (!this.redis.isReady()) return
    try {
      await this.redis.client.publish(this.channel, userId)
      this.unsent.delete(userId)
    } catch {
      // Still unsent: published when the connection is ready again.
    }
  }
}
