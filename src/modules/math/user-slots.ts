import { DomainError, unavailable } from '../../platform/errors.js'
import type { Metrics } from '../../platform/metrics.js'

/**
 * A share of the worker pool per user: at most `share` of one user's computations run (or wait in the
 * pool's queue) at once; the user's next ones wait here, behind that user's own, in order. So one caller
 * sending slow computations at its full budget delays itself, not everyone: others' work reaches the pool
 * as before. A user with `maxWaiting` computations already waiting gets 429; one that waits past
 * `waitMs` (MATH_TIMEOUT_MS) gets 503, as a computation running that long would.
 */
export class UserSlots {
  private readonly users = new Map<string, { running: number; waiting: (() => void)[] }>()

  constructor(
    private readonly share: number,
    private readonly maxWaiting: number,
    private readonly waitMs: number,
    metrics?: Pick<Metrics, 'mathUserSlots'>,
  ) {
    metrics?.mathUserSlots.readFrom((gauge) => {
      let running = 0
      let waiting = 0
      for (const entry of this.users.values()) {
        running += entry.running
        waiting += entry.waiting.length
      }
      gauge.set({ state: 'running' }, running)
      gauge.set({ state: 'waiting' }, waiting)
    })
  }

  /** Resolves to the function that gives the slot back (to the user's next waiting job, if any). */
  async acquire(user: string): Promise<() => void> {
    const entry = this.users.get(user) ?? { running: 0, waiting: [] }
    this.users.set(user, entry)
    if (entry.running < this.share) {
      entry.running++
      return this.releaser(user, entry)
    }
    if (entry.waiting.length >= this.maxWaiting) {
      throw new DomainError(
        'rate_limited',
        `You already have ${entry.running + entry.waiting.length} computations running or waiting; retry when one finishes`,
        { retryAfterSeconds: 2 },
      )
    }
    await new Promise<void>((resolve, reject) => {
      const granted = () => {
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        entry.waiting.splice(entry.waiting.indexOf(granted), 1)
        reject(
          unavailable(`Your earlier computations kept this one waiting longer than ${this.waitMs} ms`, 5),
        )
      }, this.waitMs)
      entry.waiting.push(granted)
    })
    return this.releaser(user, entry)
  }

  private releaser(user: string, entry: { running: number; waiting: (() => void)[] }): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = entry.waiting.shift()
      // The slot passes to the user's next job as it is; otherwise it is given back.
      if (next) next()
      else if (--entry.running === 0) this.users.delete(user)
    }
  }
}
