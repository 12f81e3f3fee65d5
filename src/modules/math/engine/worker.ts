import { compute, type MathJob, type MathJobResult } from './index.js'

/** Piscina entry point: one job per task, errors propagate to the pool's caller. */
export default function run(job: MathJob): MathJobResult {
  return compute(job)
}
