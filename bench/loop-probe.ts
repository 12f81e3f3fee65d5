import { createHook } from 'node:async_hooks'
import { createHistogram, monitorEventLoopDelay } from 'node:perf_hooks'

/**
 * How long this thread's event loop is held, three ways (milliseconds):
 * - `delay`: perf_hooks.monitorEventLoopDelay at 1 ms resolution — how late a 1 ms timer fires by the
 *   wall clock. It includes time the thread was ready but had no core, so on a busy machine it measures
 *   the machine as well as the service (an idle loop reads ~1, the sampling interval);
 * - `held`: the thread's own CPU time (process.threadCpuUsage) between two firings of a 1 ms timer — the
 *   longest turn of the loop. A loop starved of CPU for a while then works through a backlog of small
 *   callbacks in one turn, which shows here too;
 * - `callback` (with `callbacks: true`): the CPU time of the longest single callback — an I/O or timer
 *   callback, or one promise continuation — measured with async_hooks before/after: what one piece of one
 *   request did without giving the loop back. It costs two clock reads per callback: tests and
 *   benchmarks only.
 */
export interface LoopReport {
  delay: { max: number; p99: number }
  held: { max: number; p99: number }
  callback?: { max: number; p99: number }
  samples: number
}

export interface LoopProbe {
  /** What was seen since the last report (or the start); starts over. */
  report(): LoopReport
  stop(): void
}

const cpuMicros = () => {
  const { user, system } = process.threadCpuUsage()
  return user + system
}

export function startLoopProbe(options: { callbacks?: boolean } = {}): LoopProbe {
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  const held = createHistogram()
  let last = cpuMicros()
  const timer = setInterval(() => {
    const now = cpuMicros()
    held.record(Math.max(1, Math.round(now - last)))
    last = now
  }, 1)
  timer.unref()

  const callback = createHistogram()
  let depth = 0
  let enteredAt = 0
  const hook = options.callbacks
    ? createHook({
        before() {
          if (depth++ === 0) enteredAt = cpuMicros()
        },
        after() {
          if (--depth === 0) callback.record(Math.max(1, Math.round(cpuMicros() - enteredAt)))
          else if (depth < 0) depth = 0
        },
      }).enable()
    : undefined

  const fromNanos = (ns: number) => Math.round(ns / 1e4) / 100
  const fromMicros = (us: number) => Math.round(us / 10) / 100
  return {
    report() {
      const report: LoopReport = {
        delay: { max: fromNanos(delay.max), p99: fromNanos(delay.percentile(99)) },
        held: { max: fromMicros(held.max), p99: fromMicros(held.percentile(99)) },
        ...(hook
          ? { callback: { max: fromMicros(callback.max), p99: fromMicros(callback.percentile(99)) } }
          : {}),
        samples: held.count,
      }
      delay.reset()
      held.reset()
      callback.reset()
      return report
    },
    stop() {
      clearInterval(timer)
      delay.disable()
      hook?.disable()
    },
  }
}
