import { afterAll, afterEach, describe, expect, it } from 'vitest'
import {
  buildTestApp,
  describeEachBackend,
  expectProblem,
  register,
  signUp,
  type TestApp,
} from '../helpers.js'

describeEachBackend('rate limits', (backend) => {
  const apps: TestApp[] = []
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()))
  })

  const build = async (env: Record<string, string>) => {
    const t = await buildTestApp(backend, env)
    apps.push(t)
    return t
  }

  const attempt = (t: TestApp, username: string, remoteAddress = '127.0.0.1') =>
    t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      remoteAddress,
      payload: { username, password: 'wrong-password' },
    })

  it('stops brute-force login with 429, Retry-After and RateLimit headers', async () => {
    const t = await build({ RATE_LIMIT_AUTH: '5' })
    await register(t.app, 'target')
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) {
      const response = await attempt(t, 'target')
      statuses.push(response.statusCode)
      expect(response.headers['ratelimit-limit']).toBeDefined()
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401])
    const blocked = await attempt(t, 'TARGET')
    const problem = expectProblem(blocked, 429)
    expect(problem.detail).toMatch(/Too many requests/)
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0)
    expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(60)
    expect(blocked.headers['ratelimit-limit']).toBe('5')
    expect(blocked.headers['ratelimit-remaining']).toBe('0')
    expect(Number(blocked.headers['ratelimit-reset'])).toBeGreaterThan(0)
    // Even the right password is refused while limited: the limit comes before verification.
    const correct = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'target', password: 'target-password' },
    })
    expectProblem(correct, 429)
    // Another client address has its own budget for that username.
    expect((await attempt(t, 'target', '10.1.2.3')).statusCode).toBe(401)
  })

  it('caps one address spraying many usernames', async () => {
    const t = await build({ RATE_LIMIT_AUTH: '2' })
    const statuses: number[] = []
    for (let i = 0; i < 11; i++) statuses.push((await attempt(t, `user${i}`)).statusCode)
    // 5 × RATE_LIMIT_AUTH per address, whatever the usernames.
    expect(statuses.slice(0, 10).every((status) => status === 401)).toBe(true)
    expect(statuses[10]).toBe(429)
  })

  it('counts reads and writes per user, separately', async () => {
    const t = await build({ RATE_LIMIT_READ: '3', RATE_LIMIT_WRITE: '2' })
    const alice = await signUp(t.app, 'alice')
    const bob = await signUp(t.app, 'bob')
    const read = (headers: Record<string, string>) =>
      t.app.inject({ url: `/api/v1/users/${alice.id}`, headers })
    for (let i = 0; i < 3; i++) expect((await read(alice.headers)).statusCode).toBe(200)
    const limited = await read(alice.headers)
    expectProblem(limited, 429)
    // Bob's budget is his own.
    expect((await t.app.inject({ url: `/api/v1/users/${bob.id}`, headers: bob.headers })).statusCode).toBe(
      200,
    )
    // Alice's writes have their own budget.
    const write = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/users/${alice.id}`,
      headers: alice.headers,
      payload: { email: 'alice2@example.com' },
    })
    expect(write.statusCode).toBe(200)
  })

  it('rate limits requests for unknown routes by address', async () => {
    const t = await build({ RATE_LIMIT_READ: '2' })
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) statuses.push((await t.app.inject({ url: `/api/v1/probe-${i}` })).statusCode)
    expect(statuses).toEqual([404, 404, 429])
  })

  it('0 disables a tier', async () => {
    const t = await build({ RATE_LIMIT_READ: '0' })
    const alice = await signUp(t.app, 'alice')
    for (let i = 0; i < 20; i++) {
      const response = await t.app.inject({ url: `/api/v1/users/${alice.id}`, headers: alice.headers })
      expect(response.statusCode).toBe(200)
      expect(response.headers['ratelimit-limit']).toBeUndefined()
    }
  })

  it('rate-limited requests are counted in /metrics', async () => {
    const t = await build({ RATE_LIMIT_AUTH: '1' })
    await attempt(t, 'someone')
    await attempt(t, 'someone')
    const metrics = (await t.app.inject({ url: '/metrics' })).body
    expect(metrics).toMatch(/rate_limited_requests_total\{tier="auth-login"\} 1/)
    expect(metrics).toMatch(/auth_failures_total\{reason="bad_credentials"\} 1/)
  })

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()))
  })
})

describe.runIf(backendHasRedis())('rate limits shared through Redis', () => {
  it('counts across two instances sharing one Redis', async () => {
    const { postgresBackend } = await import('../helpers.js')
    const prefix = `shared-${Date.now()}:`
    const env = { RATE_LIMIT_AUTH: '4', REDIS_KEY_PREFIX: prefix }
    const one = await buildTestApp(postgresBackend!, env)
    const two = await buildTestApp(postgresBackend!, env)
    try {
      const statuses: number[] = []
      for (let i = 0; i < 6; i++) {
        const app = i % 2 === 0 ? one.app : two.app
        const response = await app.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: { username: 'shared-target', password: 'wrong-password' },
        })
        statuses.push(response.statusCode)
      }
      expect(statuses).toEqual([401, 401, 401, 401, 429, 429])
    } finally {
      await Promise.all([one.close(), two.close()])
    }
  })
})

describe.runIf(backendHasRedis())('rate limits leased from Redis, under concurrent bursts', () => {
  it('two instances answering one user’s concurrent burst allow at most the limit between them', async () => {
    const { postgresBackend } = await import('../helpers.js')
    const env = { RATE_LIMIT_READ: '40', REDIS_KEY_PREFIX: `burst-${Date.now()}:` }
    const one = await buildTestApp(postgresBackend!, env)
    const two = await buildTestApp(postgresBackend!, {
      ...env,
      DATABASE_URL: one.config.databaseUrl,
      JWT_SECRET: one.config.jwtSecret,
    })
    try {
      const alice = await signUp(one.app, 'alice')
      const burst = await Promise.all(
        Array.from({ length: 120 }, (_, i) =>
          (i % 2 ? two : one).app.inject({ url: '/api/v1/math/fibonacci/10', headers: alice.headers }),
        ),
      )
      const allowed = burst.filter((response) => response.statusCode === 200).length
      expect(burst.every((response) => [200, 429].includes(response.statusCode))).toBe(true)
      // Never more than the limit; early refusal bounded by what the other instance may hold unspent.
      expect(allowed).toBeLessThanOrEqual(40)
      expect(allowed).toBeGreaterThanOrEqual(40 - 2 * Math.floor(40 / 16))
      for (const response of burst.filter((r) => r.statusCode === 429)) {
        expect(Number(response.headers['retry-after'])).toBeGreaterThan(0)
        expect(response.headers['ratelimit-remaining']).toBe('0')
      }
      // Both instances keep refusing for the rest of the window.
      for (const t of [one, two])
        expectProblem(await t.app.inject({ url: '/api/v1/math/fibonacci/10', headers: alice.headers }), 429)
    } finally {
      await two.close()
      await one.close()
    }
  })
})

function backendHasRedis(): boolean {
  return Boolean(process.env.TEST_DATABASE_URL && process.env.TEST_REDIS_URL)
}
