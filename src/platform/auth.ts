import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose'
import type { Role } from './db-schema.js'
import { DomainError, forbidden, unauthorized } from './errors.js'
import type { Metrics } from './metrics.js'
import type { UserStateCache } from './user-state-cache.js'

export interface AuthUser {
  id: string
  role: Role
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `authenticate`; undefined on public routes. */
    user?: AuthUser
  }
  interface FastifyInstance {
    authenticate: onRequestAsyncHookHandler
    requireRole: (role: Role) => onRequestAsyncHookHandler
  }
}

export interface IssuedAccessToken {
  token: string
  expiresIn: number
}

const ALGORITHM = 'HS256'

/** Short-lived HS256 access tokens carrying the user's token version, checked against current state. */
export class AccessTokens {
  private readonly key: Uint8Array

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
    private readonly userStates: UserStateCache,
    private readonly metrics: Metrics,
  ) {
    this.key = new TextEncoder().encode(secret)
  }

  async issue(user: { id: string; role: Role; tokenVersion: number }): Promise<IssuedAccessToken> {
    const token = await new SignJWT({ role: user.role, ver: user.tokenVersion })
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setSubject(user.id)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .setJti(randomUUID())
      .sign(this.key)
    return { token, expiresIn: this.ttlSeconds }
  }

  /** The user behind a bearer token, or a 401: bad signature, wrong algorithm, expired, or user state changed. */
  async verify(token: string): Promise<AuthUser> {
    let claims: { sub?: string; role?: unknown; ver?: unknown }
    try {
      ;({ payload: claims } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      }))
    } catch (error) {
      const expired = error instanceof joseErrors.JWTExpired
      this.metrics.authFailures.inc({ reason: expired ? 'token_expired' : 'token_invalid' })
      throw unauthorized(expired ? 'Access token expired' : 'Invalid access token')
    }
    const state = claims.sub ? await this.userStates.get(claims.sub) : undefined
    if (!state?.isActive || state.tokenVersion !== claims.ver || state.role !== claims.role) {
      this.metrics.authFailures.inc({ reason: 'token_revoked' })
      throw unauthorized('Access token is no longer valid')
    }
    return { id: claims.sub as string, role: state.role }
  }
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (!header) return undefined
  const match = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(header)
  return match?.[1]
}

export function registerAuthHooks(app: FastifyInstance, tokens: AccessTokens, metrics: Metrics): void {
  app.decorateRequest('user', undefined)
  const authenticate: onRequestAsyncHookHandler = async (request) => {
    const token = bearerToken(request)
    if (!token) {
      metrics.authFailures.inc({ reason: 'missing_token' })
      throw unauthorized('Bearer token required')
    }
    request.user = await tokens.verify(token)
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

export function currentUser(request: FastifyRequest): AuthUser {
  if (!request.user) throw new DomainError('unauthorized', 'Authentication required')
  return request.user
}
