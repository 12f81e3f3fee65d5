import type { Static } from 'typebox'
import { describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import type { HistoryPage } from '../../src/modules/history/schemas.js'
import { buildTestApp, describeEachBackend, expectProblem, type Session, signUp, useApp } from '../helpers.js'

type Page = Static<typeof HistoryPage>

describeEachBackend('history', (backend) => {
  const t = useApp(backend, { admin: true, users: ['alice', 'bob'], env: { MATH_MAX_FIBONACCI_N: '100000' } })

  const history = async (session: Session, query = ''): Promise<Page> => {
    const response = await t.app.inject({ url: `/api/v1/history${query}`, headers: session.headers })
    expect(response.statusCode).toBe(200)
    return response.json()
  }
  const call = (session: Session, url: string) =>
    t.app.inject({ url: `/api/v1${url}`, headers: session.headers })

  it('records every call with its outcome: computed, cached and refused', async () => {
    await call(t.users.alice, '/math/fibonacci/1000')
    await call(t.users.alice, '/math/fibonacci/1000')
    await call(t.users.alice, '/math/fibonacci/100001')
    const { items } = await history(t.users.alice, '?limit=3')
    expect(items.map((item) => [item.status, item.cached])).toEqual([
      [422, false],
      [200, true],
      [200, false],
    ])
    const [refused, cached, computed] = items
    expect(refused).toMatchObject({
      operation: 'fibonacci',
      input: { n: 100001 },
      resultPreview: null,
      digits: null,
      exact: null,
    })
    expect(computed).toMatchObject({
      userId: t.users.alice.id,
      username: 'alice',
      input: { n: 1000 },
      digits: 209,
      exact: true,
    })
    // Long results are previewed as their first and last digits.
    expect(computed!.resultPreview).toMatch(/^434665576869374564356885\d*…\d{24}$/)
    expect(computed!.resultPreview).toHaveLength(24 + 1 + 24)
    expect(cached!.resultPreview).toBe(computed!.resultPreview)
    expect(computed!.computeMs).toBeGreaterThanOrEqual(0)
    expect(new Date(computed!.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000)
  })

  it('keeps short results whole', async () => {
    await call(t.users.alice, '/math/factorial/10')
    expect((await history(t.users.alice, '?limit=1')).items[0]).toMatchObject({
      resultPreview: '3628800',
      digits: 7,
    })
  })

  it('shows users only their own entries', async () => {
    await call(t.users.bob, '/math/power?base=2&exponent=10')
    const bobs = await history(t.users.bob)
    expect(bobs.items.length).toBeGreaterThan(0)
    expect(bobs.items.every((item) => item.userId === t.users.bob.id)).toBe(true)
    const alices = await history(t.users.alice)
    expect(alices.items.every((item) => item.userId === t.users.alice.id)).toBe(true)
    expectProblem(
      await t.app.inject({ url: `/api/v1/history?userId=${t.users.alice.id}`, headers: t.users.bob.headers }),
      403,
    )
    expect((await history(t.users.bob, `?userId=${t.users.bob.id}`)).items.length).toBe(bobs.items.length)
  })

  it('lets an admin see everyone and filter by user', async () => {
    const all = await history(t.admin, '?limit=100')
    expect(new Set(all.items.map((item) => item.username))).toEqual(new Set(['alice', 'bob']))
    const onlyBob = await history(t.admin, `?userId=${t.users.bob.id}&limit=100`)
    expect(onlyBob.items.length).toBeGreaterThan(0)
    expect(onlyBob.items.every((item) => item.username === 'bob')).toBe(true)
  })

  it('filters by operation', async () => {
    const powers = await history(t.users.alice, '?operation=power')
    expect(powers.items).toEqual([])
    const fibs = await history(t.users.alice, '?operation=fibonacci')
    expect(fibs.items.length).toBe(3)
    expectProblem(await call(t.users.alice, '/history?operation=sqrt'), 400)
  })

  it('pages newest first with a cursor, without gaps or repeats', async () => {
    const carol = await signUp(t.app, 'carol')
    for (let n = 0; n < 25; n++) await call(carol, `/math/fibonacci/${n}`)
    const seen: number[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const page: Page = await history(carol, `?limit=10${cursor ? `&cursor=${cursor}` : ''}`)
      seen.push(...page.items.map((item) => (item.input as { n: number }).n))
      cursor = page.nextCursor
      pages++
    } while (cursor)
    expect(pages).toBe(3)
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => 24 - i))
  })

  it('rejects a forged cursor and out-of-range limits', async () => {
    expectProblem(await call(t.users.alice, '/history?cursor=bm90LWEtdXVpZA'), 400)
    expectProblem(await call(t.users.alice, '/history?limit=0'), 400)
    expectProblem(await call(t.users.alice, '/history?limit=101'), 400)
  })

  it('deleting a user deletes their history', async () => {
    const dave = await signUp(t.app, 'dave')
    await call(dave, '/math/fibonacci/5')
    await t.app.inject({ method: 'DELETE', url: `/api/v1/users/${dave.id}`, headers: t.admin.headers })
    const all = await history(t.admin, `?userId=${dave.id}`)
    expect(all.items).toEqual([])
  })
})

describe('history durability [sqlite]', () => {
  it('every acknowledged call is in the database after a graceful shutdown', async () => {
    const t = await buildTestApp({ name: 'sqlite' })
    const alice = await signUp(t.app, 'alice')
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        t.app.inject({ url: `/api/v1/math/fibonacci/${i % 50}`, headers: alice.headers }),
      ),
    )
    expect(responses.every((response) => response.statusCode === 200)).toBe(true)
    const metrics = (await t.app.inject({ url: '/metrics' })).body
    const batches = Number(/^history_batch_size_count (\d+)/m.exec(metrics)?.[1])
    // Group commit: 200 concurrent calls need far fewer than 200 inserts.
    expect(batches).toBeLessThan(200)
    await t.app.close()

    const reopened = await buildApp(t.config, { logger: false })
    try {
      const login = await reopened.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'alice', password: alice.password },
      })
      let count = 0
      let cursor: string | null = null
      do {
        const page: Page = (
          await reopened.inject({
            url: `/api/v1/history?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
            headers: { authorization: `Bearer ${login.json().access_token}` },
          })
        ).json()
        count += page.items.length
        cursor = page.nextCursor
      } while (cursor)
      expect(count).toBe(200)
    } finally {
      await reopened.close()
    }
  })
})
