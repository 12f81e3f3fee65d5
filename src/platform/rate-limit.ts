import type { FastifyReply, FastifyRequest, preHandlerHookHandler, preParsingHookHandler } from 'fastify'
import { LRUCache } from 'lru-cache'
import { DomainError } from './errors.js'
import type { Metrics } from './metrics.js'
import type { RedisHandle } from './redis.js'

/*
 * Fixed-window limits. Written here rather than with @fastify/rate-limit because a request may need
 * several limits at once (per address and per address+username) and because a Redis outage must fall
 * back to local counting, not to no limit at all or to an error.
 *
 * Without Redis each instance counts exactly, in process. With Redis the budget is shared by every
 * instance WITHOUT a round trip per request: an instance leases units of a key's budget from Redis
 * (one atomic script: grant min(wanted, max - claimed)) and spends them locally. A lease starts at one
 * unit and doubles while each lasts under LEASE_TARGET_MS (halving when one lasts far longer), so a key
 * seen rarely costs a round trip per request as before, and a busy one about one per LEASE_TARGET_MS;
 * a lease never exceeds 1/LEASE_SHARE of the limit. Exactness, stated in the README:
 * - across all instances, never more than `max` requests are allowed in a window (units are claimed
 *   atomically before they are spent);
 * - an instance may refuse early by the units other instances hold unspent (at most max/LEASE_SHARE
 *   each), and units leased by an instance that dies are lost until the window ends;
 * - RateLimit-Remaining is this instance's view: units nobody has claimed plus its own unspent ones.
 * When a lease runs out while Redis is unreachable, the instance counts locally, as before.
 */

/** A decision for one request. */
export interface Decision {
  allowed: boolean
  remaining: number
  resetAt: number
}

interface Window {
  count: number
  resetAt: number
}

/** This instance's share of one key's budget in the current window. */
interface Lease {
  resetAt: number
  /** Units leased to this instance and not yet spent. */
  available: number
  /** Units claimed by all instances, as Redis said at the last claim. */
  claimed: number
  /** Redis granted nothing: refused here until the window ends. */
  exhausted: boolean
  /** Next claim's size, adapted to how fast this instance spends leases of this key. */
  size: number
  claimedAt: number
  /** Requests waiting for the claim in flight. */
  waiting: number
  pending: Promise<boolean> | undefined
}

const LEASE_TARGET_MS = 100
const LEASE_SHARE = 16

const LEASE_SCRIPT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
local grant = math.min(tonumber(ARGV[1]), tonumber(ARGV[2]) - count)
if grant > 0 then
  count = redis.call('INCRBY', KEYS[1], grant)
else
  grant = 0
end
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  ttl = tonumber(ARGV[3])
end
return {grant, count, ttl}
`

type LeaseClient = {
  mathapiRateLease(
    key: string,
    want: number,
    max: number,
    windowMs: number,
  ): Promise<[number, number, number]>
}

export class RateLimitStore {
  private readonly local = new LRUCache<string, Window>({ max: 100_000 })
  private readonly leases = new LRUCache<string, Lease>({ max: 100_000 })

  constructor(private readonly redis?: RedisHandle) {
    // EVALSHA with the script cached by Redis, rather than the script's text with every call.
    if (redis && !('mathapiRateLease' in redis.client)) {
      redis.client.defineCommand('mathapiRateLease', { numberOfKeys: 1, lua: LEASE_SCRIPT })
    }
  }

  /** One request against `max` per window: a decision at once when it can, a promise when Redis is asked. */
  hit(key: string, max: number, windowMs: number): Decision | Promise<Decision> {
    if (!this.redis) return this.hitLocal(key, max, windowMs)
    const now = Date.now()
    let lease = this.leases.get(key)
    if (lease === undefined || lease.resetAt <= now) {
      lease = {
        resetAt: now + windowMs,
        available: 0,
        claimed: 0,
        exhausted: false,
        size: lease?.size ?? 1,
        claimedAt: 0,
        waiting: 0,
        pending: undefined,
      }
      this.leases.set(key, lease)
    }
    const spent = this.spend(lease, max)
    if (spent) return spent
    // Unreachable: count locally at once rather than through a claim that cannot be made.
    if (!this.redis.isReady()) return this.hitLocal(key, max, windowMs)
    return this.claimThenSpend(key, lease, max, windowMs)
  }

  private spend(lease: Lease, max: number): Decision | undefined {
    if (lease.available > 0) {
      lease.available -= 1
      return {
        allowed: true,
        remaining: Math.max(0, max - lease.claimed) + lease.available,
        resetAt: lease.resetAt,
      }
    }
    if (lease.exhausted) return { allowed: false, remaining: 0, resetAt: lease.resetAt }
    return undefined
  }

  private async claimThenSpend(key: string, lease: Lease, max: number, windowMs: number): Promise<Decision> {
    for (;;) {
      let claimed: boolean
      if (lease.pending) {
        lease.waiting += 1
        try {
          claimed = await lease.pending
        } finally {
          lease.waiting -= 1
        }
      } else {
        // The key the per-request counter used: claimed units and counted requests add up during a
        // rolling upgrade, so old and new instances share one budget.
        lease.pending = this.claim(`ratelimit:v1:${key}`, lease, max, windowMs)
        claimed = await lease.pending
        lease.pending = undefined
      }
      if (!claimed) return this.hitLocal(key, max, windowMs)
      const decision = this.spend(lease, max)
      if (decision) return decision
    }
  }

  /** Leases units from Redis into `lease`; false when Redis could not be asked. */
  private async claim(redisKey: string, lease: Lease, max: number, windowMs: number): Promise<boolean> {
    if (!this.redis?.isReady()) return false
    const now = Date.now()
    const cap = Math.max(1, Math.floor(max / LEASE_SHARE))
    if (lease.claimedAt > 0) {
      const lasted = now - lease.claimedAt
      if (lasted < LEASE_TARGET_MS) lease.size = Math.min(cap, lease.size * 2)
      else if (lasted > 4 * LEASE_TARGET_MS) lease.size = Math.max(1, Math.floor(lease.size / 2))
    }
    const want = Math.min(cap, Math.max(lease.size, lease.waiting + 1))
    try {
      const [grant, count, ttl] = await (this.redis.client as unknown as LeaseClient).mathapiRateLease(
        redisKey,
        want,
        max,
        windowMs,
      )
      lease.claimedAt = Date.now()
      lease.available += grant
      lease.claimed = count
      lease.resetAt = lease.claimedAt + ttl
      if (grant === 0) lease.exhausted = true
      return true
    } catch {
      // Counting locally keeps the limit in force on this instance.
      return false
    }
  }

  private hitLocal(key: string, max: number, windowMs: number): Decision {
    const now = Date.now()
    let current = this.local.get(key)
    if (!current || current.resetAt <= now) {
      current = { count: 0, resetAt: now + windowMs }
      this.local.set(key, current, { ttl: windowMs })
    }
    current.count += 1
    return {
      allowed: current.count <= max,
      remaining: Math.max(0, max - current.count),
      resetAt: current.resetAt,
    }
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

/**
 * A callback hook: a decision made locally (the common case, with or without Redis) adds no promise and
 * no tick to the request.
 */
export function createLimitHook(
  store: RateLimitStore,
  metrics: Pick<Metrics, 'rateLimited'>,
  rule: LimitRule,
): preHandlerHookHandler {
  const windowMs = rule.windowMs ?? 60_000
  metrics.rateLimited.inc({ tier: rule.tier }, 0)
  const apply = (
    request: FastifyRequest,
    reply: FastifyReply,
    decision: Decision,
  ): DomainError | undefined => {
    const resetSeconds = Math.max(1, Math.ceil((decision.resetAt - Date.now()) / 1000))
    setHeaders(request as RequestWithLimit, reply, rule.max, decision.remaining, resetSeconds)
    if (decision.allowed) return undefined
    metrics.rateLimited.inc({ tier: rule.tier })
    return new DomainError('rate_limited', `Too many requests; retry in ${resetSeconds} s`, {
      retryAfterSeconds: resetSeconds,
    })
  }
  return function rateLimit(request, reply, done) {
    if (rule.max <= 0) return done()
    const identity = rule.key(request)
    if (identity === undefined) return done()
    const decision = store.hit(`${rule.tier}:${identity}`, rule.max, windowMs)
    if (decision instanceof Promise) {
      decision.then((settled) => done(apply(request, reply, settled)), done)
      return
    }
    done(apply(request, reply, decision))
  }
}

/**
 * The same limit spent in preParsing: after authentication (which names the caller), before the body is
 * read, parsed or validated — so a malformed, oversized or invalid request spends budget like any other,
 * and one over budget costs no parsing at all.
 */
export function beforeParsing(hook: preHandlerHookHandler): preParsingHookHandler {
  return function spendBudget(request, reply, payload, done) {
    hook.call(this, request, reply, (error) => (error ? done(error) : done(null, payload)))
  }
}

/** The per-address ceiling on auth endpoints, as a multiple of RATE_LIMIT_AUTH. */
export const AUTH_ADDRESS_FACTOR = 5

export interface RateLimits {
  /**
   * Auth endpoints: RATE_LIMIT_AUTH per minute per (client address, username), and AUTH_ADDRESS_FACTOR
   * times that per address alone, so one address cannot spray many usernames either.
   */
  auth(group?: string, usernameOf?: (request: FastifyRequest) => string | undefined): preHandlerHookHandler[]
  /** Per user (per address when anonymous), by method: reads and writes have separate budgets. */
  readonly perUser: preHandlerHookHandler
}

export function createRateLimits(
  store: RateLimitStore,
  metrics: Pick<Metrics, 'rateLimited'>,
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
    perUser: function perUserLimit(request, reply, done) {
      return (isRead(request.method) ? read : write).call(this, request, reply, done)
    },
  }
}
