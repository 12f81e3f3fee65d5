import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { AccessTokens } from '../../src/platform/auth.js'
import { createMetrics } from '../../src/platform/metrics.js'
import { type UserState, UserStateCache } from '../../src/platform/user-state-cache.js'
import {
  bearer,
  describeEachBackend,
  expectProblem,
  login,
  type Session,
  signUp,
  useApp,
} from '../helpers.js'

/*
 * A token seen before is accepted from a cache keyed by the raw token. These tests attack that cache:
 * every change that must end a token ends it on the very next request, even one whose token has just
 * been served from the cache, and nothing but the exact token ever hits the cache.
 */
describeEachBackend('verified-token cache', (backend) => {
  const t = useApp(backend, { admin: true })
  afterEach(() => {
    vi.useRealTimers()
  })

  const me = (token: string) => t.app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })
  /** Several authenticated calls, so the token and the user's state are both cached. */
  const warm = async (session: Session) => {
    for (let i = 0; i < 3; i++) expect((await me(session.tokens.access_token)).statusCode).toBe(200)
  }

  const revocations: [string, (session: Session) => Promise<number>][] = [
    [
      'deactivation by an admin',
      async (session) =>
        (
          await t.app.inject({
            method: 'PATCH',
            url: `/api/v1/users/${session.id}`,
            headers: t.admin.headers,
            payload: { isActive: false },
          })
        ).statusCode,
    ],
    [
      'a role change',
      async (session) =>
        (
          await t.app.inject({
            method: 'PUT',
            url: `/api/v1/users/${session.id}/role`,
            headers: t.admin.headers,
            payload: { role: 'admin' },
          })
        ).statusCode,
    ],
    [
      'a password change',
      async (session) =>
        (
          await t.app.inject({
            method: 'PATCH',
            url: `/api/v1/users/${session.id}`,
            headers: session.headers,
            payload: { password: 'another-password-1', currentPassword: session.password },
          })
        ).statusCode,
    ],
    [
      'deletion',
      async (session) =>
        (
          await t.app.inject({
            method: 'DELETE',
            url: `/api/v1/users/${session.id}`,
            headers: session.headers,
          })
        ).statusCode,
    ],
  ]

  it.each(revocations)('%s ends a cached token on the next request', async (_what, revoke) => {
    const session = await signUp(t.app, `u${randomUUID().slice(0, 8)}`)
    await warm(session)
    expect(await revoke(session)).toBeLessThan(300)
    expectProblem(await me(session.tokens.access_token), 401)
    // And on a route with the cheap path end to end (math, cached result).
    expectProblem(await t.app.inject({ url: '/api/v1/math/fibonacci/10', headers: session.headers }), 401)
  })

  it('a request that starts right after the revocation answers is refused, even mid-burst', async () => {
    const session = await signUp(t.app, `u${randomUUID().slice(0, 8)}`)
    await warm(session)
    // A burst in flight while the admin deactivates: those sent after the deactivation answered must fail.
    const burst = Array.from({ length: 20 }, () =>
      t.app.inject({ url: '/api/v1/math/fibonacci/10', headers: session.headers }),
    )
    const deactivated = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/users/${session.id}`,
      headers: t.admin.headers,
      payload: { isActive: false },
    })
    expect(deactivated.statusCode).toBe(200)
    const after = await Promise.all(
      Array.from({ length: 5 }, () =>
        t.app.inject({ url: '/api/v1/math/fibonacci/10', headers: session.headers }),
      ),
    )
    for (const response of after) expectProblem(response, 401)
    for (const response of await Promise.all(burst)) expect([200, 401]).toContain(response.statusCode)
  })

  it('a cached token is refused once it expires', async () => {
    const session = await signUp(t.app, `u${randomUUID().slice(0, 8)}`)
    await warm(session)
    const claims = JSON.parse(Buffer.from(session.tokens.access_token.split('.')[1]!, 'base64url').toString())
    vi.useFakeTimers({ toFake: ['Date'], now: claims.exp * 1000 + 1 })
    expect(expectProblem(await me(session.tokens.access_token), 401).detail).toMatch(/expired/i)
    vi.useRealTimers()
    // A fresh login works as ever.
    const fresh = await login(t.app, session.username, session.password)
    expect((await me(fresh.access_token)).statusCode).toBe(200)
  })

  it('only the exact token hits the cache: each altered spelling is verified and refused', async () => {
    const session = await signUp(t.app, `u${randomUUID().slice(0, 8)}`)
    await warm(session)
    const token = session.tokens.access_token
    const [head, body, sig] = token.split('.') as [string, string, string]
    const flip = (text: string, at: number) =>
      text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1)
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString())
    const altered = [
      `${head}.${body}.${flip(sig, 3)}`,
      `${head}.${body}.${sig}x`,
      `${head}.${Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url')}.${sig}`,
      `${head}.${body}.`,
      `${head}.${body}`,
    ]
    for (const spelling of altered) expectProblem(await me(spelling), 401)
    // The genuine token still works, including with the scheme spelt differently.
    const lower = await t.app.inject({
      url: '/api/v1/auth/me',
      headers: { authorization: `bearer ${token}` },
    })
    expect(lower.statusCode).toBe(200)
  })
})

describe('verified-token cache bound', () => {
  it('holds at most verifiedCacheMax tokens and still verifies evicted ones', async () => {
    const state: UserState = { role: 'user', isActive: true, tokenVersion: 0 }
    const states = new UserStateCache(async () => state)
    const tokens = new AccessTokens('x'.repeat(48), 900, states, createMetrics(), { verifiedCacheMax: 3 })
    const issued = Array.from({ length: 10 }, () =>
      tokens.issue({ id: randomUUID(), role: 'user', tokenVersion: 0 }),
    )
    for (const { token } of issued) await tokens.verify(token)
    expect(tokens.verifiedCount).toBe(3)
    for (const { token } of issued) expect((await tokens.verify(token)).role).toBe('user')
    expect(tokens.verifiedCount).toBe(3)
  })

  it('never remembers a token that failed to verify', async () => {
    const states = new UserStateCache(async () => ({ role: 'user', isActive: true, tokenVersion: 0 }))
    const tokens = new AccessTokens('y'.repeat(48), 900, states, createMetrics())
    const { token } = tokens.issue({ id: randomUUID(), role: 'user', tokenVersion: 0 })
    for (let i = 0; i < 5; i++) expect(() => tokens.verify(`${token}x${i}`)).toThrow(/Invalid access token/)
    expect(tokens.verifiedCount).toBe(0)
  })
})
