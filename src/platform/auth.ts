import { randomUUID } from 'node:crypto'
import { createSigner, createVerifier, TOKEN_ERROR_CODES } from 'fast-jwt'
import type {
  FastifyInstance,
  FastifyRequest,
  onRequestAsyncHookHandler,
  onRequestHookHandler,
} from 'fastify'
import { LRUCache } from 'lru-cache'
import type { Role } from './db-schema.js'
import { DomainError, forbidden, unauthorized } from './errors.js'
import type { Metrics } from './metrics.js'
import { bindCaller } from './request-context.js'
import { AUTHENTICATED } from './schemas.js'
import type { UserState, UserStateCache } from './user-state-cache.js'

export interface AuthUser {
  id: string
  role: Role
}

/** A verified caller with the token version its token carries (write transactions re-check it). */
export type VerifiedUser = AuthUser & { tokenVersion: number }

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `authenticate`; undefined on public routes. Read it with `currentUser(request)`. */
    user?: VerifiedUser
  }
  interface FastifyInstance {
    authenticate: onRequestHookHandler
    requireRole: (role: Role) => onRequestAsyncHookHandler
  }
}

export interface IssuedAccessToken {
  token: string
  expiresIn: number
}

const ALGORITHM = 'HS256'

/** What a token says, once its signature has been checked: facts that never change for that token. */
interface VerifiedClaims {
  sub: string
  role: unknown
  ver: unknown
  /** ms since the epoch; the token is valid while now <= expiresAt (as fast-jwt decides). */
  expiresAt: number
  notBefore: number
}

export interface AccessTokensOptions {
  /** Verified tokens remembered (by the raw token); least recently used ones are dropped first. */
  verifiedCacheMax?: number
}

/**
 * Short-lived HS256 access tokens carrying the user's token version, checked against current state.
 * fast-jwt rather than jose: bench/jwt.ts measures fast-jwt at 15 µs uncached against jose's 60–110 µs.
 *
 * A token seen before costs one map lookup keyed by the raw token: its signature and claims never
 * change, so they are checked once and remembered (bounded, LRU) until it expires. What can change —
 * the user's role, activity and token version — is checked on EVERY request against the user-state
 * cache, which a change invalidates here and on every instance, so revocation is as immediate as
 * before. Only tokens that verified are remembered: a forged one costs a full verification each time.
 */
export class AccessTokens {
  private readonly sign: (payload: Record<string, unknown>) => string
  private readonly decode: (token: string) => {
    sub?: unknown
    role?: unknown
    ver?: unknown
    exp?: unknown
    nbf?: unknown
  }
  private readonly verified: LRUCache<string, VerifiedClaims>

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
    private readonly userStates: UserStateCache,
    private readonly metrics: Pick<Metrics, 'authFailures'>,
    options: AccessTokensOptions = {},
  ) {
    this.sign = createSigner({ key: secret, algorithm: ALGORITHM, expiresIn: ttlSeconds * 1000 })
    // No cache of fast-jwt's own: it hashes every token (SHA-256) to find it; ours is keyed by the token.
    this.decode = createVerifier({
      key: secret,
      algorithms: [ALGORITHM],
      requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      cache: false,
    })
    this.verified = new LRUCache({ max: options.verifiedCacheMax ?? 10_000 })
  }

  issue(user: { id: string; role: Role; tokenVersion: number }): IssuedAccessToken {
    const token = this.sign({ sub: user.id, role: user.role, ver: user.tokenVersion, jti: randomUUID() })
    return { token, expiresIn: this.ttlSeconds }
  }

  /**
   * The user behind a bearer token, or a 401: bad signature, wrong algorithm, expired, or user state
   * changed. Synchronous (no promise) when the token and its user's state are both cached. The token
   * version comes along: write transactions check the caller still has it when they commit.
   */
  verify(token: string): VerifiedUser | Promise<VerifiedUser> {
    const claims = this.claims(token)
    const state = this.userStates.peek(claims.sub)
    if (state !== undefined) return this.admit(claims, state)
    return this.userStates.get(claims.sub).then((loaded) => this.admit(claims, loaded))
  }

  /** Entries a test may count; never more than verifiedCacheMax. */
  get verifiedCount(): number {
    return this.verified.size
  }

  private claims(token: string): VerifiedClaims {
    const now = Date.now()
    let claims = this.verified.get(token)
    if (claims === undefined) {
      let decoded: ReturnType<typeof this.decode>
      try {
        decoded = this.decode(token)
      } catch (error) {
        const expired = (error as { code?: unknown }).code === TOKEN_ERROR_CODES.expired
        this.metrics.authFailures.inc({ reason: expired ? 'token_expired' : 'token_invalid' })
        throw unauthorized(expired ? 'Access token expired' : 'Invalid access token')
      }
      if (typeof decoded.sub !== 'string' || typeof decoded.exp !== 'number') {
        this.metrics.authFailures.inc({ reason: 'token_invalid' })
        throw unauthorized('Invalid access token')
      }
      claims = {
        sub: decoded.sub,
        role: decoded.role,
        ver: decoded.ver,
        expiresAt: decoded.exp * 1000,
        notBefore: typeof decoded.nbf === 'number' ? decoded.nbf * 1000 : 0,
      }
      this.verified.set(token, claims)
    }
    if (now > claims.expiresAt) {
      this.verified.delete(token)
      this.metrics.authFailures.inc({ reason: 'token_expired' })
      throw unauthorized('Access token expired')
    }
    if (now < claims.notBefore) {
      this.metrics.authFailures.inc({ reason: 'token_invalid' })
      throw unauthorized('Invalid access token')
    }
    return claims
  }

  private admit(claims: VerifiedClaims, state: UserState | undefined): VerifiedUser {
    if (!state?.isActive || state.tokenVersion !== claims.ver || state.role !== claims.role) {
      this.metrics.authFailures.inc({ reason: 'token_revoked' })
      throw unauthorized('Access token is no longer valid')
    }
    return { id: claims.sub, role: state.role, tokenVersion: state.tokenVersion }
  }
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (!header) return undefined
  const match = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(header)
  return match?.[1]
}

export function registerAuthHooks(
  app: FastifyInstance,
  tokens: AccessTokens,
  metrics: Pick<Metrics, 'authFailures'>,
): void {
  app.decorateRequest('user', undefined)
  // Callback style: a cached token and user state authenticate without a promise or an extra tick.
  const authenticate: onRequestHookHandler = (request, _reply, done) => {
    const token = bearerToken(request)
    if (!token) {
      metrics.authFailures.inc({ reason: 'missing_token' })
      done(unauthorized('Bearer token required'))
      return
    }
    let user: VerifiedUser | Promise<VerifiedUser>
    try {
      user = tokens.verify(token)
    } catch (error) {
      done(error as Error)
      return
    }
    if (user instanceof Promise) {
      user.then((loaded) => {
        request.user = loaded
        bindCaller(loaded.id)
        done()
      }, done)
      return
    }
    // Services get it as their actor; write transactions check the caller still has this state when they commit.
    request.user = user
    bindCaller(user.id)
    done()
  }
  app.decorate('authenticate', authenticate)
  // Used after `authenticate` in a route's onRequest list.
  app.decorate('requireRole', (role: Role) => {
    const requireRole: onRequestAsyncHookHandler = async (request) => {
      if (request.user?.role !== role) throw forbidden(`Requires the ${role} role`)
    }
    return requireRole
  })
}

/** The caller of a route behind `authenticate`: who every service call of that route is made for. */
export function currentUser(request: FastifyRequest): VerifiedUser {
  if (!request.user) throw new DomainError('unauthorized', 'Authentication required')
  return request.user
}

/**
 * Every route of the plugin it is called in requires a bearer token: one hook for the plugin instead of
 * one per route, and the OpenAPI document says so for each of them (the hook and the document cannot
 * disagree). Call it first, before the plugin's routes and before other onRequest hooks.
 */
export function requireAuthentication(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, security: AUTHENTICATED }
  })
  app.addHook('onRequest', app.authenticate)
}
