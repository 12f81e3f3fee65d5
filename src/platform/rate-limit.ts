import type {
  FastifyReply,
  FastifyRequest,
  preHandlerAsyncHookHandler,
  preParsingAsyncHookHandler,
} from 'fastify'
import { LRUCache } from 'lru-cache'
import { DomainError } from './errors.js'
import type { Metrics } from './metrics.js'
import type { RedisHandle } from './redis.js'

/*
 * Fixed-window counters, in Redis when configured (so every instance shares the count) and in process
 * otherwise. Written here rather than with @fastify/rate-limit because a request may need several limits
 * at once (per address and per address+username) and because a Redis outage must fall back to local
 * counting, not to no limit at all or to an error.
 */

interface Window {
  count: number
  resetAt: number
}

const INCREMENT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
`

export class RateLimitStore {
  private readonly local = new LRUCache<string, Window>({ max: 100_000 })

  constructor(private readonly redis?: RedisHandle) {}

  async hit(key: string, windowMs: number): Promise<Window> {
    if (this.redis?.isReady()) {
      try {
        const [count, ttl] = (await this.redis.client.eval(
          INCREMENT_SCRIPT,
          1,
          `ratelimit:v1:${key}`,
          windowMs,
        )) as [number, number]
        return { count, resetAt: Date.now() + ttl }
      } catch {
        // Fall through: counting locally keeps the limit in force on this instance.
      }
    }
    return this.hitLocal(key, windowMs)
  }

  private hitLocal(key: string, windowMs: number): Window {
    const now = Date.now()
    const current = this.local.get(key)
    if (!current || current.resetAt <= now) {
      const fresh = { count: 1, resetAt: now + windowMs }
      this.local.set(key, fresh, { ttl: windowMs })
      return fresh
    }
    current.count += 1
    return current
  }
}

export interface LimitRule {
  /** Label for metrics and the key namespace. */
  tier: string
  /** Requests allowed per window; 0 disables the rule. */
  max: number
  windowMs?: number
  /** The identity counted; undefined skips the rule for this request. */
  key: (request: FastifyRequest) => string | undefined
}

const remainingShown = Symbol('rateLimitRemainingShown')
type RequestWithLimit = FastifyRequest & { [remainingShown]?: number }

/** The most restrictive of a request's limits is the one its headers describe. */
function setHeaders(
  request: RequestWithLimit,
  reply: FastifyReply,
  max: number,
  remaining: number,
  resetSeconds: number,
) {
  const shown = request[remainingShown]
  if (shown !== undefined && shown <= remaining) return
  request[remainingShown] = remaining
  reply.header('ratelimit-limit', String(max))
  reply.header('ratelimit-remaining', String(remaining))
  reply.header('ratelimit-reset', String(resetSeconds))
}

export function createLimitHook(
  store: RateLimitStore,
  metrics: Metrics,
  rule: LimitRule,
): preHandlerAsyncHookHandler {
  const windowMs = rule.windowMs ?? 60_000
  metrics.rateLimited.inc({ tier: rule.tier }, 0)
  return async function rateLimit(request, reply) {
    if (rule.max <= 0) return
    const identity = rule.key(request)
    if (identity === undefined) return
    const { count, resetAt } = await store.hit(`${rule.tier}:${identity}`, windowMs)
    const resetSeconds = Math.max(1, Math.ceil((resetAt - Date.now()) / 1000))
    const remaining = Math.max(0, rule.max - count)
    setHeaders(request as RequestWithLimit, reply, rule.max, remaining, resetSeconds)
    if (count > rule.max) {
      metrics.rateLimited.inc({ tier: rule.tier })
      throw new DomainError('rate_limited', `Too many requests; retry in ${resetSeconds} s`, {
        retryAfterSeconds: resetSeconds,
      })
    }
  }
}

/**
 * The same limit spent in preParsing: after authentication (which names the caller), before the body is
 * read, parsed or validated — so a malformed, oversized or invalid request spends budget like any other,
 * and one over budget costs no parsing at all.
 */
export function beforeParsing(hook: preHandlerAsyncHookHandler): preParsingAsyncHookHandler {
  return async function spendBudget(request, reply, payload) {
    await hook.call(this, request, reply)
    return payload
  }
}

/** The per-address ceiling on auth endpoints, as a multiple of RATE_LIMIT_AUTH. */
export const AUTH_ADDRESS_FACTOR = 5

export interface RateLimits {
  /**
   * Auth endpoints: RATE_LIMIT_AUTH per minute per (client address, username), and AUTH_ADDRESS_FACTOR
   * times that per address alone, so one address cannot spray many usernames either.
   */
  auth(
    group?: string,
    usernameOf?: (request: FastifyRequest) => string | undefined,
  ): preHandlerAsyncHookHandler[]
  /** Per user (per address when anonymous), by method: reads and writes have separate budgets. */
  readonly perUser: preHandlerAsyncHookHandler
}

export function createRateLimits(
  store: RateLimitStore,
  metrics: Metrics,
  limits: { auth: number; read: number; write: number },
): RateLimits {
  const perAddress = createLimitHook(store, metrics, {
    tier: 'auth-address',
    max: limits.auth * AUTH_ADDRESS_FACTOR,
    key: (request) => request.ip,
  })
  const identity = (request: FastifyRequest) =>
    request.user ? `user:${request.user.id}` : `ip:${request.ip}`
  const read = createLimitHook(store, metrics, { tier: 'read', max: limits.read, key: identity })
  const write = createLimitHook(store, metrics, { tier: 'write', max: limits.write, key: identity })
  const isRead = (method: string) => method === 'GET' || method === 'HEAD' || method === 'OPTIONS'
  return {
    auth(group, usernameOf) {
      if (!group || !usernameOf) return [perAddress]
      const perUsername = createLimitHook(store, metrics, {
        tier: `auth-${group}`,
        max: limits.auth,
        key: (request) => {
          const username = usernameOf(request)
          return username === undefined ? undefined : `${request.ip}:${username.toLowerCase()}`
        },
      })
      return [perAddress, perUsername]
    },
    perUser: async function perUserLimit(request, reply) {
      return (isRead(request.method) ? read : write).call(this, request, reply)
    },
  }
}
