import { constants, setPriority } from 'node:os'
import { getHeapStatistics } from 'node:v8'
import { parentPort, threadId, workerData } from 'node:worker_threads'
import { move, transferableSymbol, valueSymbol } from 'piscina'
import { type ComputeBudget, type EnginePreference, selectEngine } from './backend.js'
import { computeForTransfer, type MathJob, type MathJobBytes, type MathJobResult } from './index.js'
import { prepareDecimalTables } from './to-decimal.js'

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

/** What the pool sends: the job, and when its caller stops waiting for it (ms since the epoch). */
export interface WorkerTask {
  job: MathJob
  deadline?: number
}

/** What every worker of a pool is started with (piscina's workerData). */
export interface WorkerSettings {
  engine: EnginePreference
  /** GMP's working memory per computation; the JavaScript heap is capped by the thread's resourceLimits. */
  memoryLimitBytes?: number
  /** On the JavaScript engine: results up to this many digits find their decimal tables built at start. */
  prepareDigits?: number
}

/** Sent after every task, so that the pool can retire a worker left holding a big heap. */
export interface WorkerHeapReport {
  type: 'math-worker-heap'
  threadId: number
  /** V8 heap committed plus external memory (GMP results held as external strings until collected). */
  heapBytes: number
}

/**
 * Errors cross the thread boundary by structured clone, which keeps `name`, `message` and `cause` but drops
 * `code`: the addon's code travels as `cause.code`.
 */
export interface EngineErrorCause {
  code: string
}

export function engineErrorCode(error: unknown): string | undefined {
  const cause = (error as { cause?: unknown } | undefined)?.cause
  const code = (cause as Partial<EngineErrorCause> | undefined)?.code
  return typeof code === 'string' ? code : undefined
}

const settings = workerData as Partial<WorkerSettings> | null | undefined
if (settings?.engine && selectEngine(settings.engine).name === 'js' && settings.prepareDigits) {
  prepareDecimalTables(settings.prepareDigits)
}

/**
 * Piscina entry point: one job per task (a bare MathJob runs without a deadline). A big result leaves as
 * bytes whose ArrayBuffer is transferred to the pool's thread (MathJobBytes), not copied.
 */
export default function run(task: WorkerTask | MathJob): MathJobResult | MathJobBytes {
  const { job, deadline } = 'job' in task ? task : { job: task, deadline: undefined }
  const budget: ComputeBudget = {}
  if (settings?.memoryLimitBytes) budget.memoryLimitBytes = settings.memoryLimitBytes
  // The pool's own timer answers the caller; this one frees the thread, which GMP would otherwise hold.
  if (deadline !== undefined) budget.timeoutMs = Math.max(1, deadline - Date.now())
  try {
    const result = computeForTransfer(job, budget)
    if (!('entry' in result)) return result
    // piscina's Transferable: the value is cloned with this ArrayBuffer moved, so both views arrive intact.
    return move({
      [transferableSymbol]: [result.entry.buffer],
      [valueSymbol]: result,
    }) as unknown as MathJobBytes
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (typeof code !== 'string' || !code.startsWith('ERR_MATH_') || code === 'ERR_MATH_RANGE') throw error
    throw new Error((error as Error).message, { cause: { code } satisfies EngineErrorCause })
  } finally {
    reportHeap()
  }
}

function reportHeap(): void {
  if (!parentPort) return
  const { total_heap_size, external_memory } = getHeapStatistics()
  const report: WorkerHeapReport = {
    type: 'math-worker-heap',
    threadId,
    heapBytes: total_heap_size + external_memory,
  }
  parentPort.postMessage(report)
}
