import { describe, expect, it } from 'vitest'
import { expectProblem, signUp, useApp } from '../helpers.js'

/**
 * Redis configured but unreachable (nothing listens on port 1): the service must start, serve, keep
 * limiting locally, and report itself degraded rather than unready.
 */
describe('with Redis configured but down', () => {
  const t = useApp({ name: 'sqlite' }, { env: { REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_AUTH: '3' } })

  it('reports degraded readiness with 200, naming redis as down', async () => {
    const response = await t.app.inject({ url: '/health/ready' })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body.status).toBe('degraded')
    expect(body.checks.database.status).toBe('up')
    expect(body.checks.redis).toMatchObject({ status: 'down', required: false })
    expect((await t.app.inject({ url: '/metrics' })).body).toMatch(/^redis_up 0$/m)
  })

  it('still registers, logs in, verifies tokens and applies changes at once', async () => {
    const session = await signUp(t.app, 'offline')
    expect((await t.app.inject({ url: '/api/v1/auth/me', headers: session.headers })).statusCode).toBe(200)
    await t.app.inject({ method: 'DELETE', url: `/api/v1/users/${session.id}`, headers: session.headers })
    expectProblem(await t.app.inject({ url: '/api/v1/auth/me', headers: session.headers }), 401)
  })

  it('computes and caches math locally', async () => {
    const session = await signUp(t.app, 'mathematician')
    const first = await t.app.inject({ url: '/api/v1/math/fibonacci/40000', headers: session.headers })
    const second = await t.app.inject({ url: '/api/v1/math/fibonacci/40000', headers: session.headers })
    expect([first.json().cached, second.json().cached]).toEqual([false, true])
    expect(first.json().digits).toBe(8360)
    expect((await t.app.inject({ url: '/metrics' })).body).toMatch(
      /cache_redis_errors_total\{cache="math"\} [1-9]/,
    )
  })

  it('keeps rate limiting with local counters', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'someone', password: 'wrong-password' },
      })
      statuses.push(response.statusCode)
    }
    expect(statuses).toEqual([401, 401, 401, 429])
  })
})
