import { describe, expect, it } from 'vitest'
import { DependencyUnavailableError } from '../../src/platform/errors.js'
import { GroupCommit } from '../../src/platform/group-commit.js'

/** A writer that fails any batch holding a poisoned row, as a foreign key to a deleted user does. */
function writer(poisoned: Set<number>, failure: () => unknown) {
  const batches: number[][] = []
  const committed: number[] = []
  const write = async (rows: number[]) => {
    batches.push(rows)
    if (rows.some((row) => poisoned.has(row))) throw failure()
    committed.push(...rows)
  }
  return { write, batches, committed }
}

const foreignKey = () => Object.assign(new Error('violates foreign key constraint'), { code: '23503' })

describe('GroupCommit', () => {
  it('puts every row added in one turn into one batch', async () => {
    const { write, batches } = writer(new Set(), foreignKey)
    const group = new GroupCommit(write)
    await Promise.all(Array.from({ length: 50 }, (_, i) => group.add(i)))
    expect(batches).toHaveLength(1)
  })

  it('isolates poisoned rows: the others commit, only their callers get the error, each logged once', async () => {
    const poisoned = new Set([7, 31])
    const { write, batches, committed } = writer(poisoned, foreignKey)
    const failedAlone: number[] = []
    const group = new GroupCommit(write, 500, () => {}, {
      onRowFailed: (_error, row) => failedAlone.push(row),
    })
    const outcomes = await Promise.allSettled(Array.from({ length: 64 }, (_, i) => group.add(i)))
    outcomes.forEach((outcome, i) => {
      expect(outcome.status, `row ${i}`).toBe(poisoned.has(i) ? 'rejected' : 'fulfilled')
      if (outcome.status === 'rejected') expect((outcome.reason as { code: string }).code).toBe('23503')
    })
    expect(committed.sort((a, b) => a - b)).toEqual(
      Array.from({ length: 64 }, (_, i) => i).filter((i) => !poisoned.has(i)),
    )
    expect(failedAlone.sort((a, b) => a - b)).toEqual([7, 31])
    // Bisection, not a row at a time: about 2·log2(64) extra batches per poisoned row.
    expect(batches.length).toBeLessThanOrEqual(1 + 2 * 2 * Math.log2(64))
  })

  it('fails the whole batch at once, without retrying, when the database is unavailable', async () => {
    const unavailable = () => new DependencyUnavailableError('database', { cause: new Error('reset') })
    const { write, batches } = writer(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), unavailable)
    const failedAlone: number[] = []
    const group = new GroupCommit(write, 500, () => {}, {
      onRowFailed: (_error, row) => failedAlone.push(row),
    })
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => group.add(i)))
    expect(outcomes.every((outcome) => outcome.status === 'rejected')).toBe(true)
    expect(batches).toHaveLength(1)
    expect(failedAlone).toEqual([])
  })

  it('keeps batching the rows that arrive while a batch is being split', async () => {
    const { write, committed } = writer(new Set([3]), foreignKey)
    const group = new GroupCommit(write)
    const first = Array.from({ length: 8 }, (_, i) => group.add(i))
    const later = Array.from({ length: 8 }, (_, i) => group.add(100 + i))
    await Promise.allSettled([...first, ...later])
    await group.flush()
    expect(committed).toHaveLength(15)
  })
})
