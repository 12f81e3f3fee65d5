import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ProductsPage } from '../../src/modules/products/schemas.js'
import { metric, waitFor } from '../events/support.js'
import { expectProblem, login, postgresBackend, signUp, type TestApp, useApp } from '../helpers.js'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'

/*
 * Redis behind a proxy of the test's own, cut after the service has connected: Redis is an optimisation,
 * never a dependency, so everything keeps working on this process's own state (local cache tier, local
 * rate-limit counters, token checks against the database), readiness says degraded, and the shared tier
 * is used again by itself once the proxy is restored.
 */

const AUTH_LIMIT = 3

async function counter(t: TestApp, pattern: RegExp): Promise<number> {
  const match = pattern.exec((await t.app.inject({ url: '/metrics' })).body)
  return match ? Number(match[1]) : 0
}
/** Lookups that reached the shared tier, hit or miss. */
const redisTierRequests = async (t: TestApp) =>
  (await counter(t, /^cache_requests_total\{cache="math",tier="redis",outcome="hit"\} (\S+)$/m)) +
  (await counter(t, /^cache_requests_total\{cache="math",tier="redis",outcome="miss"\} (\S+)$/m))

describe.runIf(postgresBackend)('Redis faults (Redis through a proxy, cut after connecting)', () => {
  let proxy: TcpProxy
  beforeAll(async () => {
    proxy = await startTcpProxy(postgresBackend!.redisUrl!, 6379)
  })
  afterAll(() => proxy?.close())
  const t = useApp(
    () => ({ name: 'postgres+redis', databaseUrl: postgresBackend!.databaseUrl!, redisUrl: proxy.url }),
    { users: ['redisless'], admin: 'after users', env: { RATE_LIMIT_AUTH: String(AUTH_LIMIT) } },
  )
  let productId: string

  beforeAll(async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/products',
      headers: t.admin.headers,
      payload: { name: 'Outage lamp', price: 10, stock: 5, category: 'lamps', sku: 'LAMP-OUT-1' },
    })
    expect(created.statusCode).toBe(201)
    productId = created.json().id
  })
  // Registered after useApp, so this runs before the app closes, whose close must get through the proxy.
  afterAll(() => proxy?.restore())

  const listLamps = async () =>
    (await t.app.inject({ url: '/api/v1/products?category=lamps' })).json() as ProductsPage

  it('uses Redis through the proxy before the cut', async () => {
    expect(await metric(t.app, 'redis_up')).toBe(1)
    const before = await redisTierRequests(t)
    const response = await t.app.inject({
      url: '/api/v1/math/fibonacci/1234',
      headers: t.users.redisless.headers,
    })
    expect(response.statusCode).toBe(200)
    expect(await redisTierRequests(t)).toBeGreaterThan(before)
    expect((await listLamps()).items.map((item) => item.price)).toEqual([10])
  })

  it('keeps serving everything while Redis is cut, and says degraded', async () => {
    proxy.cut()
    await waitFor(async () => (await metric(t.app, 'redis_up')) === 0, 10_000)

    const started = performance.now()
    const ready = await t.app.inject({ url: '/health/ready' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toMatchObject({
      status: 'degraded',
      checks: { database: { status: 'up' }, redis: { status: 'down', required: false } },
    })
    expect(performance.now() - started).toBeLessThan(3000)

    // Login, and token checks (the user-state cache cannot hear other instances: it reads the database).
    const tokens = await login(t.app, t.users.redisless.username, t.users.redisless.password)
    const me = await t.app.inject({
      url: '/api/v1/auth/me',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    expect(me.statusCode).toBe(200)
    expect(me.json().username).toBe(t.users.redisless.username)

    // Math, cached in this process only.
    const first = await t.app.inject({
      url: '/api/v1/math/fibonacci/4321',
      headers: t.users.redisless.headers,
    })
    const second = await t.app.inject({
      url: '/api/v1/math/fibonacci/4321',
      headers: t.users.redisless.headers,
    })
    expect([first.statusCode, second.statusCode]).toEqual([200, 200])
    expect([first.json().cached, second.json().cached]).toEqual([false, true])
    expect(await counter(t, /^cache_redis_errors_total\{cache="math"\} (\S+)$/m)).toBeGreaterThan(0)

    // A write, then reads: the cached list must not hide the write.
    expect((await listLamps()).items[0]?.price).toBe(10)
    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/products/${productId}`,
      headers: t.admin.headers,
      payload: { price: 12.5 },
    })
    expect(patched.statusCode).toBe(200)
    expect((await listLamps()).items[0]?.price).toBe(12.5)
    const one = await t.app.inject({ url: `/api/v1/products/${productId}` })
    expect(one.json().price).toBe(12.5)

    // Tasks (a plain write and read) work as ever.
    const task = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: t.users.redisless.headers,
      payload: { title: 'written without Redis' },
    })
    expect(task.statusCode).toBe(201)

    // Rate limits are counted in this process: the limit still holds.
    const statuses: number[] = []
    for (let i = 0; i <= AUTH_LIMIT; i++) {
      const attempt = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'guesser', password: 'not-the-password' },
      })
      statuses.push(attempt.statusCode)
    }
    expect(statuses).toEqual([...Array(AUTH_LIMIT).fill(401), 429])
    expectProblem(
      await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'guesser', password: 'not-the-password' },
      }),
      429,
    )
  })

  it('uses Redis again by itself once the proxy is restored, without losing what changed meanwhile', async () => {
    const acceptedBefore = proxy.accepted
    proxy.restore()
    await waitFor(async () => (await metric(t.app, 'redis_up')) === 1, 15_000)
    expect(proxy.accepted).toBeGreaterThan(acceptedBefore)
    const ready = await t.app.inject({ url: '/health/ready' })
    expect(ready.json()).toMatchObject({ status: 'ok', checks: { redis: { status: 'up' } } })

    // The shared tier is asked again (a fresh key: a Redis miss, then stored there).
    const before = await redisTierRequests(t)
    const response = await t.app.inject({
      url: '/api/v1/math/fibonacci/5678',
      headers: t.users.redisless.headers,
    })
    expect(response.statusCode).toBe(200)
    expect(await redisTierRequests(t)).toBeGreaterThan(before)

    // The write made during the outage stays visible (the namespace bump is carried over to Redis).
    expect((await listLamps()).items[0]?.price).toBe(12.5)
    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/products/${productId}`,
      headers: t.admin.headers,
      payload: { stock: 7 },
    })
    expect(patched.statusCode).toBe(200)
    expect((await listLamps()).items[0]).toMatchObject({ price: 12.5, stock: 7 })
    expect(
      (await t.app.inject({ url: '/api/v1/auth/me', headers: t.users.redisless.headers })).statusCode,
    ).toBe(200)
  })

  it('black hole: only the first request waits for a command timeout, then Redis is bypassed until it answers', async () => {
    // Regression: a Redis that stopped answering without closing the connection left the client 'ready',
    // so every request waited commandTimeout (1 s) once per Redis call: 3–4 s for a math call or a list.
    const revoked = await signUp(t.app, 'revoked-elsewhere')
    expect((await t.app.inject({ url: '/api/v1/auth/me', headers: revoked.headers })).statusCode).toBe(200)
    proxy.blackHole()
    const timings: number[] = []
    for (let n = 0; n < 6; n++) {
      const started = performance.now()
      const response = await t.app.inject({
        url: `/api/v1/math/fibonacci/${700 + n}`,
        headers: t.users.redisless.headers,
      })
      expect(response.statusCode).toBe(200)
      timings.push(performance.now() - started)
    }
    expect(timings[0]).toBeLessThan(3000)
    for (const ms of timings.slice(1)) expect(ms).toBeLessThan(500)
    const started = performance.now()
    expect((await listLamps()).items[0]?.price).toBe(12.5)
    expect(performance.now() - started).toBeLessThan(500)
    const ready = await t.app.inject({ url: '/health/ready' })
    expect(ready.json()).toMatchObject({ status: 'degraded', checks: { redis: { status: 'down' } } })
    expect(await metric(t.app, 'redis_up')).toBe(0)

    // Another instance revokes the user's tokens; its invalidation cannot reach this one, whose subscriber
    // socket still looks open. Regression: the cached user state was trusted (for up to its 5-minute TTL).
    const db = new pg.Client({ connectionString: t.config.databaseUrl.replace(/\?.*$/, '') })
    await db.connect()
    try {
      const schema = new URL(t.config.databaseUrl).searchParams.get('schema')
      await db.query(`update "${schema}".users set token_version = token_version + 1 where id = $1`, [
        revoked.id,
      ])
    } finally {
      await db.end()
    }
    expectProblem(await t.app.inject({ url: '/api/v1/auth/me', headers: revoked.headers }), 401)

    proxy.restore()
    await waitFor(async () => (await metric(t.app, 'redis_up')) === 1, 20_000)
    // Stays up: a late timeout of a command sent before the restore must not drop the new connection.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(await metric(t.app, 'redis_up')).toBe(1)
    const before = await redisTierRequests(t)
    expect(
      (await t.app.inject({ url: '/api/v1/math/fibonacci/6789', headers: t.users.redisless.headers }))
        .statusCode,
    ).toBe(200)
    expect(await redisTierRequests(t)).toBeGreaterThan(before)
  }, 40_000)
})
