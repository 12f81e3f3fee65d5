import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { type Decision, RateLimitStore } from '../../src/platform/rate-limit.js'
import { connectRedis, type RedisHandle } from '../../src/platform/redis.js'

// Read here rather than from ../helpers.js, which loads the whole app; the CI rule is the same.
const redisUrl = process.env.TEST_REDIS_URL
if (!redisUrl && (process.env.CI === 'true' || process.env.REQUIRE_TEST_SERVICES === '1')) {
  throw new Error('CI requires TEST_REDIS_URL: the shared rate-limit tests must run')
}

const silent = pino({ level: 'silent' })
const WINDOW_MS = 1500

/*
 * Budgets leased from Redis and spent locally. Each "instance" is a store on its own Redis connections
 * with the same key prefix, as two service processes have.
 */
describe.runIf(redisUrl)('rate-limit leases shared through Redis', () => {
  const handles: RedisHandle[] = []
  afterEach(async () => {
    await Promise.all(handles.splice(0).map((handle) => handle.close()))
  })

  async function instances(count: number) {
    const prefix = `test-leases-${randomUUID()}:`
    const stores: { store: RateLimitStore; handle: RedisHandle; claims: () => number }[] = []
    for (let i = 0; i < count; i++) {
      const handle = await connectRedis(redisUrl!, prefix, silent)
      handles.push(handle)
      const store = new RateLimitStore(handle)
      // Count the round trips: every claim is one call of the script.
      let claims = 0
      const client = handle.client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
      const lease = client.mathapiRateLease!.bind(handle.client)
      client.mathapiRateLease = (...args: unknown[]) => {
        claims += 1
        return lease(...args)
      }
      stores.push({ store, handle, claims: () => claims })
    }
    return stores
  }

  const allowed = (decisions: Decision[]) => decisions.filter((decision) => decision.allowed).length

  it('rarely used keys stay exact: alternating instances allow exactly max', async () => {
    const [one, two] = await instances(2)
    const decisions: Decision[] = []
    for (let i = 0; i < 12; i++) decisions.push(await (i % 2 ? two! : one!).store.hit('k', 5, WINDOW_MS))
    expect(decisions.map((decision) => decision.allowed)).toEqual([
      ...Array(5).fill(true),
      ...Array(7).fill(false),
    ])
    expect(decisions[4]!.remaining).toBe(0)
  })

  it('concurrent bursts on two instances never pass max in total', async () => {
    const [one, two] = await instances(2)
    const max = 200
    const burst = Array.from({ length: 600 }, (_, i) =>
      (i % 2 ? two! : one!).store.hit('burst', max, WINDOW_MS),
    )
    const total = allowed(await Promise.all(burst))
    expect(total).toBeLessThanOrEqual(max)
    // Early refusal is bounded by the units each other instance may hold unspent (max / 16).
    expect(total).toBeGreaterThanOrEqual(max - 2 * Math.floor(max / 16))
    // Once refused, later hits are refused locally, without asking Redis again.
    const claimsBefore = one!.claims() + two!.claims()
    for (let i = 0; i < 50; i++) expect((await one!.store.hit('burst', max, WINDOW_MS)).allowed).toBe(false)
    expect(one!.claims() + two!.claims()).toBe(claimsBefore)
  })

  it('a busy key costs a round trip per lease, not per request, and decides synchronously', async () => {
    const [one] = await instances(1)
    let synchronous = 0
    for (let i = 0; i < 5000; i++) {
      const decision = one!.store.hit('busy', 1_000_000, 60_000)
      if (!(decision instanceof Promise)) synchronous += 1
      expect((await decision).allowed).toBe(true)
    }
    expect(one!.claims()).toBeLessThan(100)
    expect(synchronous).toBeGreaterThan(4900)
  })

  it('a crash between lease and use loses only that instance’s unspent units, until the window ends', async () => {
    const [one, two] = await instances(2)
    const max = 160
    // Instance one grows its lease with a quick run of requests, then dies holding unspent units.
    let spentByOne = 0
    for (let i = 0; i < 40; i++) if ((await one!.store.hit('crash', max, WINDOW_MS)).allowed) spentByOne += 1
    await one!.handle.close()
    let spentByTwo = 0
    for (let i = 0; i < max; i++) if ((await two!.store.hit('crash', max, WINDOW_MS)).allowed) spentByTwo += 1
    expect(spentByOne).toBe(40)
    expect(spentByOne + spentByTwo).toBeLessThanOrEqual(max)
    // The dead instance held at most one lease: max / 16 units.
    expect(spentByOne + spentByTwo).toBeGreaterThanOrEqual(max - Math.floor(max / 16))
    // A new window gives the whole budget back.
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS + 100))
    let fresh = 0
    for (let i = 0; i < max + 10; i++) if ((await two!.store.hit('crash', max, WINDOW_MS)).allowed) fresh += 1
    expect(fresh).toBeLessThanOrEqual(max)
    expect(fresh).toBeGreaterThanOrEqual(max - Math.floor(max / 16))
  })

  it('shares one budget with instances still counting a request at a time (a rolling upgrade)', async () => {
    const [one] = await instances(1)
    // What the previous version's script leaves: the counter of requests in this window, with its expiry.
    await one!.handle.client.set('ratelimit:v1:upgrade', '7', 'PX', WINDOW_MS)
    const decisions: Decision[] = []
    for (let i = 0; i < 5; i++) decisions.push(await one!.store.hit('upgrade', 10, WINDOW_MS))
    expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, true, false, false])
    expect(Number(await one!.handle.client.get('ratelimit:v1:upgrade'))).toBe(10)
  })

  it('keeps limiting, locally, when Redis becomes unreachable mid-lease', async () => {
    const [one] = await instances(1)
    for (let i = 0; i < 3; i++) expect((await one!.store.hit('down', 10, WINDOW_MS)).allowed).toBe(true)
    one!.handle.client.disconnect()
    const decisions: Decision[] = []
    for (let i = 0; i < 15; i++) decisions.push(await one!.store.hit('down', 10, WINDOW_MS))
    // Whatever was leased is spent, then local counting allows at most max more: never unlimited.
    expect(allowed(decisions)).toBeLessThanOrEqual(10 + 1)
    expect(decisions.at(-1)!.allowed).toBe(false)
  })
})

describe('rate limits without Redis', () => {
  it('count exactly and synchronously', () => {
    const store = new RateLimitStore()
    const decisions = Array.from({ length: 7 }, () => store.hit('local', 5, WINDOW_MS))
    expect(decisions.every((decision) => !(decision instanceof Promise))).toBe(true)
    expect((decisions as Decision[]).map((decision) => decision.allowed)).toEqual([
      true,
      true,
      true,
      true,
      true,
      false,
      false,
    ])
  })
})
