import { describe, expect, it, vi } from 'vitest'
import { Lifecycle } from '../../src/platform/lifecycle.js'
import { PeriodicTask } from '../../src/platform/periodic.js'

const quietLog = () => {
  const warnings: { obj: object; msg: string }[] = []
  return { warnings, warn: (obj: object, msg: string) => warnings.push({ obj, msg }) }
}

describe('Lifecycle', () => {
  it('starts parts in the order added and closes them in reverse', async () => {
    const seen: string[] = []
    const lifecycle = new Lifecycle(quietLog())
    for (const name of ['database', 'pool', 'relay']) {
      lifecycle.add({
        name,
        start: () => seen.push(`start ${name}`),
        close: () => void seen.push(`close ${name}`),
      })
    }
    lifecycle.start()
    await lifecycle.close()
    expect(seen).toEqual([
      'start database',
      'start pool',
      'start relay',
      'close relay',
      'close pool',
      'close database',
    ])
  })

  it('waits for each part to close before closing the one it depends on', async () => {
    const seen: string[] = []
    const lifecycle = new Lifecycle(quietLog())
    lifecycle.add({ name: 'database', close: () => void seen.push('database closed') })
    lifecycle.add({
      name: 'history writer',
      close: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20))
        seen.push('history flushed')
      },
    })
    await lifecycle.close()
    expect(seen).toEqual(['history flushed', 'database closed'])
  })

  it('logs a part that fails to close and still closes the rest, once', async () => {
    const log = quietLog()
    const closed: string[] = []
    const lifecycle = new Lifecycle(log)
    lifecycle.add({ name: 'database', close: () => void closed.push('database') })
    lifecycle.add({
      name: 'relay',
      close: () => Promise.reject(new Error('broker gone')),
    })
    await Promise.all([lifecycle.close(), lifecycle.close()])
    expect(closed).toEqual(['database'])
    expect(log.warnings).toEqual([
      { obj: expect.objectContaining({ component: 'relay' }), msg: 'closing a component failed' },
    ])
  })
})

describe('PeriodicTask', () => {
  it('never overlaps runs, logs a failed run, and close() waits for the run in progress', async () => {
    const log = quietLog()
    let active = 0
    let maxActive = 0
    let runs = 0
    let release: (() => void) | undefined
    const task = new PeriodicTask({
      name: 'pruning',
      firstRunMs: 1,
      intervalMs: 2,
      log,
      run: async () => {
        runs++
        active++
        maxActive = Math.max(maxActive, active)
        if (runs === 1) {
          active--
          throw new Error('database busy')
        }
        await new Promise<void>((resolve) => {
          release = resolve
        })
        active--
      },
    })
    task.start()
    while (release === undefined) await new Promise((resolve) => setTimeout(resolve, 2))
    // Several intervals pass while the second run is held: none starts beside it.
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(runs).toBe(2)
    let closed = false
    const closing = task.close().then(() => {
      closed = true
    })
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(closed).toBe(false)
    release()
    await closing
    expect(maxActive).toBe(1)
    expect(log.warnings).toEqual([
      { obj: expect.objectContaining({ task: 'pruning' }), msg: 'pruning failed' },
    ])
    // Closed: the timers are gone, nothing runs any more.
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(runs).toBe(2)
  })

  it('runs once when the first run falls due with the interval, then once per interval after it', async () => {
    vi.useFakeTimers()
    try {
      let runs = 0
      const task = new PeriodicTask({
        name: 'token pruning',
        firstRunMs: 60_000,
        intervalMs: 60_000,
        log: quietLog(),
        run: async () => {
          runs++
        },
      })
      task.start()
      await vi.advanceTimersByTimeAsync(59_999)
      expect(runs).toBe(0)
      await vi.advanceTimersByTimeAsync(1)
      expect(runs).toBe(1)
      await vi.advanceTimersByTimeAsync(60_000)
      expect(runs).toBe(2)
      await task.close()
      await vi.advanceTimersByTimeAsync(120_000)
      expect(runs).toBe(2)
    } finally {
      vi.useRealTimers()
    }
  })
})
