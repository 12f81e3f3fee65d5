import type { Component } from './lifecycle.js'

export interface PeriodicTaskOptions {
  /** For logs. */
  name: string
  /** One run; a failure is logged and the next run tries again. */
  run: () => Promise<unknown>
  /** First run this long after start() (so a start-up is not slowed down), then every intervalMs after it. */
  firstRunMs: number
  intervalMs: number
  log: { warn(obj: object, msg: string): void }
}

/**
 * Background housekeeping on a timer (pruning, sweeping): runs never overlap, the timers never keep the
 * process alive, and close() waits for a run in progress so nothing it uses closes under it.
 */
export class PeriodicTask implements Component {
  readonly name: string
  private readonly timers: NodeJS.Timeout[] = []
  private running: Promise<unknown> | undefined

  constructor(private readonly options: PeriodicTaskOptions) {
    this.name = options.name
  }

  start(): void {
    const tick = () => {
      this.running ??= this.options
        .run()
        .catch((error) => this.options.log.warn({ err: error, task: this.name }, `${this.name} failed`))
        .finally(() => {
          this.running = undefined
        })
    }
    // The interval starts with the first run, so a first run due when the interval would fire anyway (an
    // hourly task first run after an hour) is not followed at once by a second.
    const first = setTimeout(() => {
      tick()
      this.timers.push(setInterval(tick, this.options.intervalMs).unref())
    }, this.options.firstRunMs).unref()
    this.timers.push(first)
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer)
    await this.running
  }
}
