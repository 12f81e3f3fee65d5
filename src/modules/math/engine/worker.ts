import { constants, setPriority } from 'node:os'
import { compute, type MathJob, type MathJobResult } from './index.js'

// On Linux a thread has a nice value of its own: computing threads yield the CPU to the event loop, which
// would otherwise wait behind them for a core whenever the pool is busy (the loop's delay then grew to
// hundreds of milliseconds with both cores computing). Elsewhere this may affect the whole process, so
// it is applied on Linux only.
if (process.platform === 'linux') {
  try {
    setPriority(constants.priority.PRIORITY_BELOW_NORMAL)
  } catch {
    // Not permitted in this environment: the threads keep the normal priority.
  }
}

/** Piscina entry point: one job per task, errors propagate to the pool's caller. */
export default function run(job: MathJob): MathJobResult {
  return compute(job)
}
