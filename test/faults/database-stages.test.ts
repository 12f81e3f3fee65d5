import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { expectProblem, postgresBackend, useApp } from '../helpers.js'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'

/*
 * The connection to PostgreSQL cut at each stage of a write's transaction, through a proxy of the test's
 * own that watches what the service sends: before the transaction, when it begins, during a statement, at
 * COMMIT (which the server never receives, or which it acts on while the answer is lost), and during the
 * ROLLBACK of a transaction that failed. Every time the caller gets 503 problem+json with Retry-After,
 * never a 500; and whatever did commit is found once, by a retry with the same Idempotency-Key.
 */

/** A PostgreSQL simple-query message ('Q', length, text, NUL): how Kysely sends begin/commit/rollback. */
function simpleQuery(text: string): Buffer {
  const body = Buffer.from(`${text}\0`)
  const header = Buffer.alloc(5)
  header.write('Q', 0)
  header.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([header, body])
}
const BEGIN = simpleQuery('begin')
const COMMIT = simpleQuery('commit')
const ROLLBACK = simpleQuery('rollback')

function expectUnavailable(response: Parameters<typeof expectProblem>[0], what: string) {
  if (response.statusCode !== 503)
    throw new Error(`${what}: expected 503, got ${response.statusCode}: ${response.body}`)
  const problem = expectProblem(response, 503)
  expect(response.headers['retry-after'], what).toMatch(/^\d+$/)
  expect(problem.detail).not.toMatch(/ECONN|127\.0\.0\.1|postgres|queryable|terminated/i)
}

describe.runIf(postgresBackend)('PostgreSQL cut at each stage of a transaction (through a proxy)', () => {
  let proxy: TcpProxy
  beforeAll(async () => {
    proxy = await startTcpProxy(postgresBackend!.databaseUrl!, 5432)
  })
  afterAll(() => proxy?.close())
  const t = useApp(
    () => ({ name: 'postgres+redis', databaseUrl: proxy.url, redisUrl: postgresBackend!.redisUrl! }),
    { users: ['staged'], admin: 'after users' },
  )
  let direct: pg.Client

  const schema = () => new URL(t.config.databaseUrl).searchParams.get('schema') as string
  const count = async (table: string, where: string, params: unknown[]) =>
    Number(
      (await direct.query(`select count(*)::int as n from "${schema()}".${table} where ${where}`, params))
        .rows[0].n,
    )

  beforeAll(async () => {
    direct = new pg.Client({ connectionString: postgresBackend!.databaseUrl })
    await direct.connect()
  })
  // Registered after useApp, so this runs before the app closes, whose close must get through the proxy.
  afterAll(async () => {
    proxy?.restore()
    await direct?.end()
  })

  // Each case starts with the database reachable and the service ready again.
  beforeEach(async () => {
    proxy.restore()
    const deadline = Date.now() + 15_000
    while ((await t.app.inject({ url: '/health/ready' })).statusCode !== 200) {
      if (Date.now() > deadline) throw new Error('the service did not become ready again')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  })

  const createTask = (title: string, key?: string) =>
    t.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { ...t.users.staged.headers, ...(key ? { 'idempotency-key': key } : {}) },
      payload: { title },
    })

  it('before the request (connections reset, new ones refused): 503', async () => {
    proxy.cut()
    const title = `before ${randomUUID()}`
    expectUnavailable(await createTask(title), 'task')
    expectUnavailable(
      await t.app.inject({ url: '/api/v1/math/fibonacci/90', headers: t.users.staged.headers }),
      'math',
    )
    proxy.restore()
    expect(await count('tasks', 'title = $1', [title])).toBe(0)
  })

  it('at BEGIN: 503, nothing written', async () => {
    const title = `at begin ${randomUUID()}`
    const cut = proxy.cutOn(BEGIN, 'before')
    expectUnavailable(await createTask(title), 'task')
    await cut
    proxy.restore()
    expect(await count('tasks', 'title = $1', [title])).toBe(0)
  })

  it('during a statement of the transaction: 503, nothing written', async () => {
    const title = `during ${randomUUID()}`
    const cut = proxy.cutOn('insert into "tasks"', 'before')
    expectUnavailable(await createTask(title), 'task')
    await cut
    proxy.restore()
    expect(await count('tasks', 'title = $1', [title])).toBe(0)
  })

  it('at COMMIT, before the server receives it: 503, nothing written', async () => {
    const title = `commit lost ${randomUUID()}`
    const cut = proxy.cutOn(COMMIT, 'before')
    expectUnavailable(await createTask(title, randomUUID()), 'task')
    await cut
    proxy.restore()
    expect(await count('tasks', 'title = $1', [title])).toBe(0)
  })

  it('at COMMIT, with the answer lost: 503, and the retry with the same key replays the write once', async () => {
    const title = `answer lost ${randomUUID()}`
    const key = randomUUID()
    const cut = proxy.cutOn(COMMIT, 'after-reply')
    expectUnavailable(await createTask(title, key), 'task')
    await cut
    proxy.restore()
    // The server committed: the write exists, though its caller heard 503.
    expect(await count('tasks', 'title = $1', [title])).toBe(1)
    const retried = await createTask(title, key)
    expect(retried.statusCode).toBe(201)
    expect(retried.headers['idempotent-replayed']).toBe('true')
    expect(retried.json().title).toBe(title)
    expect(await count('tasks', 'title = $1', [title])).toBe(1)
  })

  it('during the ROLLBACK of a transaction that failed: 503', async () => {
    const sku = `STAGE-${randomUUID().slice(0, 8)}`
    const product = { name: 'Staged lamp', price: 5, stock: 1, category: 'lamps', sku }
    const first = await t.app.inject({
      method: 'POST',
      url: '/api/v1/products',
      headers: t.admin.headers,
      payload: product,
    })
    expect(first.statusCode).toBe(201)
    // A duplicate SKU fails the insert; Kysely rolls back, and the connection dies under the ROLLBACK.
    const cut = proxy.cutOn(ROLLBACK, 'before')
    expectUnavailable(
      await t.app.inject({
        method: 'POST',
        url: '/api/v1/products',
        headers: t.admin.headers,
        payload: product,
      }),
      'product',
    )
    await cut
    proxy.restore()
    expect(await count('products', 'sku = $1', [sku])).toBe(1)
  })

  it('math calls (group commit) at each stage: 503', async () => {
    // The group commit writes a batch as ONE named statement (history rows and their events chained as
    // CTEs, see platform/batch-insert.ts): no BEGIN or COMMIT travels, and only a connection's first use
    // sends the statement's text, while every use names it. Its stages are the statement lost on its way,
    // and the statement executed (committed) with its answer lost.
    for (const [stage, pattern, when] of [
      ['statement', 'batch-insert-', 'before'],
      ['statement answer', 'batch-insert-', 'after-reply'],
    ] as const) {
      await waitReady()
      const cut = proxy.cutOn(pattern, when)
      expectUnavailable(
        await t.app.inject({
          url: `/api/v1/math/fibonacci/${100 + stage.length}`,
          headers: t.users.staged.headers,
        }),
        `math, ${stage}`,
      )
      await cut
      proxy.restore()
    }
  })

  it('logins and token refreshes at each stage: 503', async () => {
    for (const [stage, pattern, when] of [
      ['insert', 'insert into "refresh_tokens"', 'before'],
      ['commit', COMMIT, 'before'],
      ['commit answer', COMMIT, 'after-reply'],
    ] as const) {
      await waitReady()
      const cut = proxy.cutOn(pattern, when)
      expectUnavailable(
        await t.app.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: { username: t.users.staged.username, password: t.users.staged.password },
        }),
        `login, ${stage}`,
      )
      await cut
      proxy.restore()
    }
    await waitReady()
    const cut = proxy.cutOn('update "refresh_tokens"', 'before')
    expectUnavailable(
      await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refresh_token: t.users.staged.tokens.refresh_token },
      }),
      'refresh',
    )
    await cut
  })

  it('counts the 503s in dependency_errors_total and under each route, from 0', async () => {
    const text = (await t.app.inject({ url: '/metrics' })).body
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN)
    expect(value(/^dependency_errors_total\{dependency="database"\} (\S+)$/m)).toBeGreaterThan(10)
    expect(
      value(/^http_requests_total\{method="POST",route="\/api\/v1\/tasks",status="503"\} (\S+)$/m),
    ).toBeGreaterThanOrEqual(5)
    // Never seen here, yet present: a first 500 would show in rate().
    expect(value(/^http_requests_total\{method="POST",route="\/api\/v1\/tasks",status="500"\} (\S+)$/m)).toBe(
      0,
    )
  })

  async function waitReady(): Promise<void> {
    proxy.restore()
    const deadline = Date.now() + 15_000
    while ((await t.app.inject({ url: '/health/ready' })).statusCode !== 200) {
      if (Date.now() > deadline) throw new Error('the service did not become ready again')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
})
