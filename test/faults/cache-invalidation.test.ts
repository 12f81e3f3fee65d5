import { randomBytes, randomUUID } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ProductsPage } from '../../src/modules/products/schemas.js'
import { VERSION_TTL_MS } from '../../src/platform/cache-versions.js'
import { USER_STATE_TTL_MS } from '../../src/platform/user-state-cache.js'
import { metric, waitFor } from '../events/support.js'
import {
  adminSession,
  buildTestApp,
  postgresBackend,
  type Session,
  signUp,
  type TestApp,
} from '../helpers.js'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'

/*
 * Two instances on one PostgreSQL, each reaching the shared Redis through a proxy of the test's own, so
 * either one's link (or both) can be cut. Whatever is cut, a product changed through one instance is seen
 * through the other: at once when the reader cannot reach Redis (it reads the version from the database),
 * at once when both can, and within the version copy's lifetime (VERSION_TTL_MS) when only the writer
 * cannot. Cached reads keep being served from the local tier meanwhile, and the shared tier is used again
 * by itself once Redis is back.
 */

const hits = (t: TestApp, tier: 'local' | 'redis') =>
  t.app.inject({ url: '/metrics' }).then((response) => {
    const pattern = new RegExp(
      `^cache_requests_total\\{cache="products",tier="${tier}",outcome="hit"\\} (\\S+)$`,
      'm',
    )
    return Number(pattern.exec(response.body)?.[1] ?? 0)
  })

describe.runIf(postgresBackend)('product reads across two instances while Redis links are cut', () => {
  let toRedisOne: TcpProxy
  let toRedisTwo: TcpProxy
  let one: TestApp
  let two: TestApp
  let admin: Session
  let productId: string
  let price = 10
  const category = `lamps-${randomUUID().slice(0, 8)}`

  beforeAll(async () => {
    toRedisOne = await startTcpProxy(postgresBackend!.redisUrl!, 6379)
    toRedisTwo = await startTcpProxy(postgresBackend!.redisUrl!, 6379)
    const env = {
      JWT_SECRET: randomBytes(48).toString('base64url'),
      REDIS_KEY_PREFIX: `twolinks-${randomUUID()}:`,
    }
    one = await buildTestApp({ ...postgresBackend!, redisUrl: toRedisOne.url }, env)
    two = await buildTestApp(
      { ...postgresBackend!, redisUrl: toRedisTwo.url },
      { ...env, DATABASE_URL: one.config.databaseUrl },
    )
    admin = await adminSession(one.app)
    const created = await one.app.inject({
      method: 'POST',
      url: '/api/v1/products',
      headers: admin.headers,
      payload: { name: 'Lamp', price, stock: 5, category, sku: `L-${randomUUID().slice(0, 8)}` },
    })
    expect(created.statusCode).toBe(201)
    productId = created.json().id
  })
  afterAll(async () => {
    toRedisOne?.restore()
    toRedisTwo?.restore()
    await two?.app.close()
    await one?.close()
    await toRedisOne?.close()
    await toRedisTwo?.close()
  })

  beforeEach(async () => {
    toRedisOne.restore()
    toRedisTwo.restore()
    await waitFor(
      async () => (await metric(one.app, 'redis_up')) === 1 && (await metric(two.app, 'redis_up')) === 1,
    )
  })

  const listed = async (t: TestApp) =>
    ((await t.app.inject({ url: `/api/v1/products?category=${category}` })).json() as ProductsPage).items[0]
      ?.price
  const single = async (t: TestApp) =>
    (await t.app.inject({ url: `/api/v1/products/${productId}` })).json().price

  /** Both reads cached on `t` (a second read of each is a local hit), then a price change through one. */
  async function warmThenChange(t: TestApp): Promise<number> {
    expect(await listed(t)).toBe(price)
    expect(await single(t)).toBe(price)
    const before = await hits(t, 'local')
    expect(await listed(t)).toBe(price)
    expect(await hits(t, 'local')).toBeGreaterThan(before)
    price += 1
    const patched = await one.app.inject({
      method: 'PATCH',
      url: `/api/v1/products/${productId}`,
      headers: admin.headers,
      payload: { price },
    })
    expect(patched.statusCode).toBe(200)
    return price
  }

  it('both links up: a change through one is read through the other at once', async () => {
    const now = await warmThenChange(two)
    expect(await listed(two)).toBe(now)
    expect(await single(two)).toBe(now)
  })

  it('Redis unreachable from both: the change is read through the other at once, and its local tier still serves', async () => {
    toRedisOne.cut()
    toRedisTwo.cut()
    await waitFor(
      async () => (await metric(one.app, 'redis_up')) === 0 && (await metric(two.app, 'redis_up')) === 0,
    )
    const now = await warmThenChange(two)
    expect(await listed(two)).toBe(now)
    expect(await single(two)).toBe(now)
    // No write since: the entry just cached is served locally again.
    const before = await hits(two, 'local')
    expect(await listed(two)).toBe(now)
    expect(await hits(two, 'local')).toBeGreaterThan(before)
  })

  it('only the reader cut off: it reads the version from the database, so the change shows at once', async () => {
    toRedisTwo.cut()
    await waitFor(async () => (await metric(two.app, 'redis_up')) === 0)
    const now = await warmThenChange(two)
    expect(await listed(two)).toBe(now)
    expect(await single(two)).toBe(now)
  })

  it(`only the writer cut off: the change shows through the other within ${VERSION_TTL_MS} ms`, async () => {
    toRedisOne.cut()
    await waitFor(async () => (await metric(one.app, 'redis_up')) === 0)
    const now = await warmThenChange(two)
    const started = Date.now()
    await waitFor(
      async () => (await listed(two)) === now && (await single(two)) === now,
      VERSION_TTL_MS + 3000,
    )
    expect(Date.now() - started).toBeLessThanOrEqual(VERSION_TTL_MS + 1500)
  })

  it('once Redis is back, the shared tier is used again and changes show at once', async () => {
    const now = await warmThenChange(two)
    expect(await listed(two)).toBe(now)
    // A read one has cached is a Redis hit for two.
    const query = `/api/v1/products?category=${category}&sortBy=price`
    expect((await one.app.inject({ url: query })).statusCode).toBe(200)
    const before = await hits(two, 'redis')
    expect((await two.app.inject({ url: query })).statusCode).toBe(200)
    expect(await hits(two, 'redis')).toBeGreaterThan(before)
  })

  it('a user deleted through an instance cut off from Redis: writes refused at once, reads once it reconnects', async () => {
    const doomed = await signUp(one.app, `doomed${randomUUID().slice(0, 6)}`)
    // Two has their state cached, and trusts it while its own Redis link is up.
    expect((await two.app.inject({ url: '/api/v1/auth/me', headers: doomed.headers })).statusCode).toBe(200)
    toRedisOne.cut()
    await waitFor(async () => (await metric(one.app, 'redis_up')) === 0)
    expect(
      (await one.app.inject({ method: 'DELETE', url: `/api/v1/users/${doomed.id}`, headers: admin.headers }))
        .statusCode,
    ).toBe(204)
    // Its writes are refused at once: they confirm the caller in their own transaction.
    const write = await two.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: doomed.headers,
      payload: { title: 'after deletion' },
    })
    expect(write.statusCode).toBe(401)
    // Once the writer reconnects, the invalidation it could not send goes out (the entry's lifetime,
    // USER_STATE_TTL_MS, bounds the wait should it never reconnect).
    toRedisOne.restore()
    await waitFor(
      async () =>
        (await two.app.inject({ url: '/api/v1/auth/me', headers: doomed.headers })).statusCode === 401,
      USER_STATE_TTL_MS,
    )
  }, 60_000)
})
