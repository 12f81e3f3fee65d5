import type { Insertable } from 'kysely'
import { describe, expect, it } from 'vitest'
import type { HistoryRepository } from '../../src/modules/history/repository.js'
import { createHistoryService, type MathCallRecord } from '../../src/modules/history/service.js'
import type { MathHistoryTable } from '../../src/platform/db-schema.js'
import { DependencyUnavailableError } from '../../src/platform/errors.js'

/** A repository whose every insert waits until the test settles it, so batches can be held in flight. */
function heldRepository() {
  const inserts: {
    rows: Insertable<MathHistoryTable>[]
    commit: () => void
    fail: (error: Error) => void
  }[] = []
  const repository = {
    insertMany: (rows: Insertable<MathHistoryTable>[]) =>
      new Promise<void>((commit, fail) => {
        inserts.push({ rows, commit, fail })
      }),
    list: async () => [],
  } as unknown as HistoryRepository
  return { repository, inserts }
}

const call = (n: number): MathCallRecord => ({
  actor: { id: '00000000-0000-7000-8000-000000000000', role: 'user' },
  operation: 'fibonacci',
  input: { n },
  result: '1',
  digits: 1,
  exact: true,
  cached: true,
  computeMs: 0,
  status: 200,
})

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('history writers (several batches in flight)', () => {
  it('starts a new batch on an idle writer while others are in flight, and settles each caller with its own batch', async () => {
    const { repository, inserts } = heldRepository()
    const history = createHistoryService(repository, undefined, { writers: 3 })
    const settled: string[] = []
    const track = (name: string, promise: Promise<void>) =>
      promise.then(
        () => void settled.push(`${name} ok`),
        () => void settled.push(`${name} failed`),
      )

    // Three turns of the event loop, each with its own calls: three batches, all in flight at once.
    const first = [track('a1', history.record(call(1))), track('a2', history.record(call(2)))]
    await tick()
    const second = [track('b1', history.record(call(3)))]
    await tick()
    const third = [track('c1', history.record(call(4))), track('c2', history.record(call(5)))]
    await tick()
    expect(inserts.map((insert) => insert.rows.length)).toEqual([2, 1, 2])

    // With every writer busy, new calls wait for the next batch of one of them (they are not lost).
    const fourth = [track('d1', history.record(call(6))), track('d2', history.record(call(7)))]
    await tick()
    expect(inserts).toHaveLength(3)

    // Batches commit out of order; each caller settles only when its own batch does.
    inserts[1]!.commit()
    await Promise.all(second)
    expect(settled).toEqual(['b1 ok'])
    // The database went away under it: the whole batch fails at once (a row-caused failure would be
    // split and retried instead, see group-commit.test.ts).
    inserts[2]!.fail(new DependencyUnavailableError('database', { cause: new Error('connection lost') }))
    await Promise.all(third)
    expect(settled).toEqual(['b1 ok', 'c1 failed', 'c2 failed'])
    inserts[0]!.commit()
    await Promise.all(first)
    // The waiting calls went out together, as one batch, once a writer was free.
    for (let i = 0; i < 5 && inserts.length < 4; i++) await tick()
    expect(inserts.map((insert) => insert.rows.length)).toEqual([2, 1, 2, 2])
    let flushed = false
    const flush = history.flush().then(() => {
      flushed = true
    })
    await tick()
    expect(flushed).toBe(false)
    inserts[3]!.commit()
    await Promise.all([...fourth, flush])
    expect(settled.slice(-2).sort()).toEqual(['d1 ok', 'd2 ok'])
  })

  it('keeps one batch in flight with one writer (the SQLite default)', async () => {
    const { repository, inserts } = heldRepository()
    const history = createHistoryService(repository)
    const first = history.record(call(1))
    await tick()
    const second = history.record(call(2))
    await tick()
    expect(inserts).toHaveLength(1)
    inserts[0]!.commit()
    await first
    for (let i = 0; i < 5 && inserts.length < 2; i++) await tick()
    expect(inserts).toHaveLength(2)
    inserts[1]!.commit()
    await second
  })
})
