import { describe, expect, it } from 'vitest'
import { uuidv7 } from '../../src/platform/ids.js'

describe('uuidv7', () => {
  it('is a version-7, variant-1 UUID carrying the timestamp', () => {
    const id = uuidv7(Date.UTC(2026, 0, 1))
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })

  it('sorts in creation order, also within one millisecond', () => {
    const now = Date.now() + 10_000
    const ids = Array.from({ length: 5000 }, () => uuidv7(now))
    expect([...ids].sort()).toEqual(ids)
    expect(new Set(ids).size).toBe(ids.length)
    expect(uuidv7(now + 5000) > ids.at(-1)!).toBe(true)
  })
})
