import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/platform/database.js'
import { expectProblem, postgresBackend, type TestApp, useApp } from '../helpers.js'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'

/*
 * PostgreSQL behind a proxy of the test's own, cut (connections reset, new ones refused) and black-holed
 * (connections accepted, nothing answers). Every request that needs the database must answer 503
 * problem+json with Retry-After within a bounded time, and the service must recover by itself.
 */

/** Liveness bounds, not benchmarks: generous, but a hang (or a pile-up of timeouts) fails them. */
const CUT_BOUND_MS = 10_000
const BLACK_HOLE_BOUND_MS = 10_000

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now()
  const result = await work()
  return { result, ms: performance.now() - started }
}

function expectUnavailable(response: Parameters<typeof expectProblem>[0]) {
  const problem = expectProblem(response, 503)
  expect(response.headers['retry-after']).toMatch(/^\d+$/)
  expect(problem.detail).not.toMatch(/ECONN|127\.0\.0\.1|postgres|timeout|terminated/i)
}

async function waitReady(t: TestApp, status: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = 0
  while (Date.now() < deadline) {
    last = (await t.app.inject({ url: '/health/ready' })).statusCode
    if (last === status) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`/health/ready stayed ${last}, expected ${status}`)
}

describe.runIf(postgresBackend)('database faults (PostgreSQL through a proxy)', () => {
  let proxy: TcpProxy
  beforeAll(async () => {
    proxy = await startTcpProxy(postgresBackend!.databaseUrl!, 5432)
  })
  afterAll(() => proxy?.close())
  const t = useApp(
    () => ({ name: 'postgres+redis', databaseUrl: proxy.url, redisUrl: postgresBackend!.redisUrl! }),
    { users: ['faulty'] },
  )
  // Registered after useApp, so this runs before the app closes, whose close must get through the proxy.
  afterAll(() => proxy?.restore())

  /** The four kinds of request that need the database: an uncached read, a write, a login, a math call. */
  const needsDatabase = () => {
    const unique = randomUUID().slice(0, 8)
    return {
      read: () =>
        t.app.inject({ url: `/api/v1/products?name=nothing-${unique}`, headers: t.users.faulty.headers }),
      write: () =>
        t.app.inject({
          method: 'POST',
          url: '/api/v1/tasks',
          headers: t.users.faulty.headers,
          payload: { title: `during the outage ${unique}` },
        }),
      login: () =>
        t.app.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: { username: t.users.faulty.username, password: t.users.faulty.password },
        }),
      // Cached or not, the call's history row must be written: that needs the database.
      math: () => t.app.inject({ url: '/api/v1/math/fibonacci/77', headers: t.users.faulty.headers }),
    }
  }

  async function expectAllWork(): Promise<void> {
    const requests = needsDatabase()
    expect((await requests.read()).statusCode).toBe(200)
    expect((await requests.write()).statusCode).toBe(201)
    expect((await requests.login()).statusCode).toBe(200)
    expect((await requests.math()).statusCode).toBe(200)
  }

  it('works through the proxy before any fault', async () => {
    await expectAllWork()
    expect((await t.app.inject({ url: '/health/ready' })).statusCode).toBe(200)
  })

  it('cut: 503 with Retry-After, promptly, for reads, writes, logins and math calls; then recovers', async () => {
    proxy.cut()
    const ready = await timed(() => t.app.inject({ url: '/health/ready' }))
    expect(ready.result.statusCode).toBe(503)
    expect(ready.result.json()).toMatchObject({
      status: 'unavailable',
      checks: { database: { status: 'down' } },
    })
    expect(ready.ms).toBeLessThan(CUT_BOUND_MS)
    expect((await t.app.inject({ url: '/health/live' })).statusCode).toBe(200)

    for (const [name, request] of Object.entries(needsDatabase())) {
      const { result, ms } = await timed(request)
      expect.soft(result.statusCode, name).toBe(503)
      expectUnavailable(result)
      expect.soft(ms, `${name} took ${Math.round(ms)} ms`).toBeLessThan(CUT_BOUND_MS)
    }
    // Concurrent requests during the outage must not pile up either.
    const burst = await timed(() => Promise.all(Array.from({ length: 20 }, () => needsDatabase().write())))
    expect(burst.result.map((response) => response.statusCode)).toEqual(Array(20).fill(503))
    expect(burst.ms).toBeLessThan(CUT_BOUND_MS)

    proxy.restore()
    await waitReady(t, 200)
    await expectAllWork()
  })

  it('black hole: 503 within the bound while nothing answers, no hang; then recovers by itself', async () => {
    // Warm several pooled connections, so the black hole catches queries (and transactions) on open
    // connections, where only the client's query timeout can notice, as well as new connections.
    await expectAllWork()
    await Promise.all(Array.from({ length: 6 }, () => needsDatabase().login()))
    proxy.blackHole()
    const ready = await timed(() => t.app.inject({ url: '/health/ready' }))
    expect(ready.result.statusCode).toBe(503)
    expect(ready.ms).toBeLessThan(BLACK_HOLE_BOUND_MS)

    const requests = needsDatabase()
    const results = await Promise.all(
      Object.entries(requests).map(async ([name, request]) => ({ name, ...(await timed(request)) })),
    )
    for (const { name, result, ms } of results) {
      expect.soft(result.statusCode, `${name}: ${result.body}`).toBe(503)
      expectUnavailable(result)
      expect.soft(ms, `${name} took ${Math.round(ms)} ms`).toBeLessThan(BLACK_HOLE_BOUND_MS)
    }

    proxy.restore()
    await waitReady(t, 200)
    await expectAllWork()
  }, 55_000)

  it('a transaction stalled mid-way fails within one query timeout, not one per queued statement', async () => {
    // Regression: the connection of a timed-out query went back to the pool with the query still on it,
    // so the ROLLBACK queued behind it waited a second timeout (40 s in all with the former 20 s), and the
    // next checkout of that connection a third.
    const own = await startTcpProxy(postgresBackend!.databaseUrl!, 5432)
    const handle = await openDatabase(own.url)
    try {
      const { result: error, ms } = await timed(() =>
        handle.db
          .transaction()
          .execute(async (trx) => {
            await sql`select 1`.execute(trx)
            own.blackHole()
            await sql`select 2`.execute(trx)
          })
          .then(
            () => undefined,
            (failure: unknown) => failure,
          ),
      )
      expect(error).toBeInstanceOf(Error)
      expect(ms).toBeLessThan(BLACK_HOLE_BOUND_MS)
      own.restore()
      await handle.ping(5000)
    } finally {
      own.restore()
      await handle.close()
      await own.close()
    }
  })
})
