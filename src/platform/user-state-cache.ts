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
 * Caches each user's token-relevant state so verifying a token costs no query in the common case.
 * A change invalidates the entry here and, through Redis pub/sub, on every other instance. While the
 * subscription is down this instance cannot hear other instances' changes, so it reads the database
 * every time instead of trusting its cache; when the subscription returns it starts from empty.
 */
export class UserStateCache {
  private readonly entries = new LRUCache<string, UserState>({ max: 50_000, ttl: 5 * 60_000 })
  private readonly channel: string

  constructor(
    private readonly load: (userId: string) => Promise<UserState | undefined>,
    private readonly redis?: RedisHandle,
  ) {
    this.channel = `${redis?.keyPrefix ?? ''}${CHANNEL}`
    if (redis) {
      redis.subscriber.on('message', (channel: string, userId: string) => {
        if (channel === this.channel) this.entries.delete(userId)
      })
      redis.subscriber.on('ready', () => this.entries.clear())
      redis.subscriber.subscribe(this.channel).catch(() => {})
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
    const state = await this.load(userId)
    if (state && this.trustworthy()) this.entries.set(userId, state)
    return state
  }

  /** Call after the change has committed. */
  async invalidate(userId: string): Promise<void> {
    this.entries.delete(userId)
    if (this.redis?.isReady()) {
      await this.redis.client.publish(this.channel, userId).catch(() => {})
    }
  }
}
