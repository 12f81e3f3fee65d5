import { describe, expect, it } from 'vitest'
import { type UserState, UserStateCache } from '../../src/platform/user-state-cache.js'

describe('UserStateCache', () => {
  it('does not cache a state loaded before an invalidation that arrived while it was loading', async () => {
    const before: UserState = { role: 'admin', isActive: true, tokenVersion: 1 }
    const after: UserState = { role: 'user', isActive: true, tokenVersion: 2 }
    let current = before
    let release: () => void = () => {}
    let loads = 0
    const cache = new UserStateCache(async () => {
      loads++
      const seen = current
      // Held here: the read has happened, its answer not yet delivered.
      await new Promise<void>((resolve) => {
        release = resolve
      })
      return seen
    })
    const first = cache.get('u1')
    await new Promise((resolve) => setImmediate(resolve))
    // The change commits and is announced while the first load is in flight with the old state.
    current = after
    await cache.invalidate('u1')
    release()
    expect(await first).toEqual(before)
    const second = cache.get('u1')
    await new Promise((resolve) => setImmediate(resolve))
    release()
    expect(await second).toEqual(after)
    expect(loads).toBe(2)
    // Now cached: no third load.
    expect(await cache.get('u1')).toEqual(after)
    expect(loads).toBe(2)
  })
})
