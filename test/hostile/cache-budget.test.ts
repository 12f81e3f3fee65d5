import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, postgresBackend, type Session, signUp, type TestApp } from '../helpers.js'

/*
 * Class 7 of issue 10: one caller could put ~250 MB/min of distinct huge results into the shared Redis,
 * each kept for a week. Every SET into Redis is now charged to its caller and to everyone, each within a
 * byte budget per TTL window; past it, results are still cached, in the computing process only.
 */

const CALLER_BUDGET = 60_000
const TOTAL_BUDGET = 150_000

const suite = postgresBackend ? describe : describe.skip
suite(`hostile input: what one caller can put into the shared cache${postgresBackend ? '' : ' — skipped: TEST_DATABASE_URL / TEST_REDIS_URL not set'}`, () => {
  let t: TestApp
  let other: TestApp
  /** Without a key prefix: KEYS patterns and results are then the keys as stored. */
  let redis: Redis
  const callers: Session[] = []

  beforeAll(async () => {
    const env = {
      CACHE_REDIS_CALLER_BUDGET_BYTES: String(CALLER_BUDGET),
      CACHE_REDIS_BUDGET_BYTES: String(TOTAL_BUDGET),
      MATH_MAX_FACTORIAL_N: '20000',
      REDIS_KEY_PREFIX: `budget-${Date.now()}-${process.pid}:`,
    }
    t = await buildTestApp(postgresBackend!, env)
    // A second instance sharing the Redis: it sees what reached Redis, and nothing else.
    other = await buildTestApp(postgresBackend!, env)
    redis = new Redis(postgresBackend!.redisUrl!)
    for (const name of ['flooder', 'second', 'third', 'fourth']) callers.push(await signUp(t.app, name))
  })
  afterAll(async () => {
    const keys = await redis.keys(`${t.config.redisKeyPrefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
    await other?.close()
    await t?.close()
  })

  /** Bytes of math results in Redis. */
  async function sharedBytes(): Promise<number> {
    const keys = await redis.keys(`${t.config.redisKeyPrefix}cache:math:*`)
    let total = 0
    for (const key of keys) total += await redis.strlen(key)
    return total
  }

  /** n! for n ≥ 5000 has ~16,000+ digits: a few of them fill a caller's budget. */
  const factorial = (caller: Session, n: number, app = t.app) =>
    app.inject({ url: `/api/v1/math/factorial/${n}`, headers: caller.headers })

  it("one caller's distinct huge results stop going to Redis at its budget, and stay cached locally", async () => {
    const flooder = callers[0]!
    for (let n = 5000; n < 5010; n++) expect((await factorial(flooder, n)).statusCode).toBe(200)
    const bytes = await sharedBytes()
    expect(bytes).toBeGreaterThan(0)
    expect(bytes).toBeLessThanOrEqual(CALLER_BUDGET)
    // Every result is still a cache hit here…
    for (let n = 5000; n < 5010; n++) expect((await factorial(flooder, n)).json().cached).toBe(true)
    // …while the other instance finds only what fitted the budget.
    const onOther = await signUp(other.app, 'elsewhere')
    const seen = []
    for (let n = 5000; n < 5010; n++) seen.push((await factorial(onOther, n, other.app)).json().cached)
    expect(seen.filter(Boolean).length).toBeGreaterThan(0)
    expect(seen.filter((cached) => !cached).length).toBeGreaterThan(0)
    const metrics = (await t.app.inject({ url: '/metrics' })).body
    expect(metrics).toMatch(/cache_redis_over_budget_total\{cache="math"\} [1-9]/)
  })

  it('other callers get budgets of their own, all together within the total', async () => {
    for (const caller of callers.slice(1)) {
      for (let n = 6000; n < 6006; n++)
        expect((await factorial(caller, n + callers.indexOf(caller) * 10)).statusCode).toBe(200)
    }
    const bytes = await sharedBytes()
    expect(bytes).toBeGreaterThan(CALLER_BUDGET)
    expect(bytes).toBeLessThanOrEqual(TOTAL_BUDGET)
  })

  it('the budgets expire with the entries they paid for', async () => {
    const keys = await redis.keys(`${t.config.redisKeyPrefix}cache-budget:*`)
    expect(keys.length).toBeGreaterThanOrEqual(2)
    for (const key of keys) {
      const ttl = await redis.ttl(key)
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(t.config.cache.redisTtlSeconds)
    }
  })
})
