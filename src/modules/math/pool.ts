import { fileURLToPath } from 'node:url'
import { Piscina } from 'piscina'
import type { Counter } from 'prom-client'
import type { Metrics } from '../../platform/metrics.js'
import { ComputeError } from './compute-error.js'
import {
  type EngineInfo,
  type EnginePreference,
  engineInfo,
  type MathJob,
  type MathJobBytes,
  type MathJobResult,
  selectEngine,
} from './engine/index.js'
import {
  engineErrorCode,
  type WorkerHeapReport,
  type WorkerSettings,
  type WorkerTask,
} from './engine/worker.js'

export type MathPoolMetrics = Pick<
  Metrics,
  'mathPoolRetirements' | 'mathEngineInfo' | 'mathPoolQueueDepth' | 'mathPoolUtilization' | 'mathPoolThreads'
>

export interface MathPoolOptions {
  workers: number
  timeoutMs: number
  queueMax: number
  metrics: MathPoolMetrics
  /** auto: GMP when the addon loads; gmp: refuse to start without it; js: never. Default auto. */
  engine?: EnginePreference
  /** Each worker's JavaScript heap cap, and GMP's working memory per computation. Default 256. */
  workerMemoryMb?: number
  /** A worker whose heap exceeds heavyHeapBytes after a task is retired once idle this long. Default 10 s. */
  retireIdleMs?: number
  /** Default 64 MiB: a worker's baseline, conversion tables included, is ~10–40 MB. */
  heavyHeapBytes?: number
  /** MATH_MAX_RESULT_DIGITS: JavaScript workers build decimal tables for up to min(this, 4 M) digits at start. */
  maxResultDigits?: number
}

const YOUNG_GENERATION_MB = 32
/** Decimal tables up to here cost a JavaScript worker ~0.3 s at start; larger ones are built when needed. */
const PREPARED_DIGITS = 4_000_000

type PiscinaOptions = NonNullable<ConstructorParameters<typeof Piscina>[0]>
type PiscinaWorker = Parameters<NonNullable<PiscinaOptions['loadBalancer']>>[1][number]

// Running from source (tests, `npm run dev`) the worker is TypeScript and needs tsx's loader in its thread.
const fromSource = import.meta.url.endsWith('.ts')
const workerFile = fileURLToPath(new URL(`./engine/worker.${fromSource ? 'ts' : 'js'}`, import.meta.url))

/**
 * Worker threads for every computation too big to answer inline. A computation past its time budget is
 * aborted, which terminates the thread running it (piscina replaces it); a full queue is refused at once.
 * Every failure leaves as a ComputeError saying which.
 */
export class MathPool {
  private readonly pool: Piscina<WorkerTask, MathJobResult | MathJobBytes>
  /** The engine every thread of this pool uses (selected here first, so a missing addon fails at start). */
  readonly engine: EngineInfo
  private readonly workers = new Map<number, PiscinaWorker>()
  /** Heavy workers by thread id: when they last finished a task. */
  private readonly heavy = new Map<number, number>()
  /** Workers being retired: the balancer hands them nothing while their thread winds down. */
  private readonly retiring = new Set<number>()
  private readonly retireIdleMs: number
  private readonly heavyHeapBytes: number
  private readonly retirements: Counter
  /** Jobs running or waiting. Counted here, so a full queue is known without reading piscina's messages. */
  private admitted = 0

  constructor(private readonly options: MathPoolOptions) {
    const preference = options.engine ?? 'auto'
    selectEngine(preference)
    this.engine = engineInfo()
    const memoryMb = options.workerMemoryMb ?? 256
    this.retireIdleMs = options.retireIdleMs ?? 10_000
    this.heavyHeapBytes = options.heavyHeapBytes ?? 64 * 2 ** 20
    const workerData: WorkerSettings = {
      engine: preference,
      memoryLimitBytes: memoryMb * 2 ** 20,
      prepareDigits: Math.min(PREPARED_DIGITS, options.maxResultDigits ?? PREPARED_DIGITS),
    }
    this.pool = new Piscina({
      filename: workerFile,
      minThreads: 1,
      maxThreads: options.workers,
      idleTimeout: 60_000,
      // Node lets a worker's young generation grow to 192 MB by default: bounded as well.
      resourceLimits: { maxOldGenerationSizeMb: memoryMb, maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
      workerData,
      loadBalancer: (_task, workers) =>
        workers.find((worker) => worker.currentUsage === 0 && !this.retiring.has(worker.id)) ?? null,
      ...(fromSource ? { execArgv: ['--import', 'tsx'] } : {}),
    })
    this.pool.on('workerCreate', (worker: PiscinaWorker) => this.workers.set(worker.id, worker))
    this.pool.on('workerDestroy', (worker: PiscinaWorker) => {
      this.workers.delete(worker.id)
      this.heavy.delete(worker.id)
      this.retiring.delete(worker.id)
    })
    this.pool.on('message', (message: WorkerHeapReport) => {
      if (message?.type === 'math-worker-heap') this.noteHeap(message)
    })
    const { metrics } = options
    this.retirements = metrics.mathPoolRetirements
    metrics.mathEngineInfo.set({ engine: this.engine.name, version: this.engine.version }, 1)
    metrics.mathPoolQueueDepth.readFrom((gauge) => gauge.set(this.pool.queueSize))
    metrics.mathPoolUtilization.readFrom((gauge) => gauge.set(this.pool.utilization))
    metrics.mathPoolThreads.readFrom((gauge) => gauge.set(this.pool.threads.length))
  }

  /**
   * A result of BYTES_MIN_CHARS characters or more comes as bytes (MathJobBytes): its digits and its cache
   * entry, moved from the worker's thread without a copy.
   */
  async run(job: MathJob): Promise<MathJobResult | MathJobBytes> {
    const { workers, queueMax, timeoutMs } = this.options
    if (this.admitted >= workers + queueMax) {
      throw new ComputeError('saturated', 'The compute pool is saturated; retry shortly')
    }
    this.admitted++
    const deadline = AbortSignal.timeout(timeoutMs)
    try {
      const task: WorkerTask = { job, deadline: Date.now() + timeoutMs }
      const done = await this.pool.run(task, { signal: deadline })
      if (!('entry' in done)) return done
      // Views arrive as plain Uint8Arrays over the moved ArrayBuffer: seen as Buffers again, not copied.
      const view = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
      return { ...done, entry: view(done.entry), result: view(done.result) }
    } catch (error) {
      // The engine's own codes cross the thread boundary as cause.code; Node's for a worker out of heap.
      const code = engineErrorCode(error) ?? (error as { code?: unknown } | null)?.code
      if (deadline.aborted || code === 'ERR_MATH_TIMEOUT') {
        throw new ComputeError(
          'timeout',
          `The computation took longer than ${timeoutMs} ms and was cancelled`,
          {
            cause: error,
          },
        )
      }
      if (
        code === 'ERR_WORKER_OUT_OF_MEMORY' ||
        code === 'ERR_MATH_MEMORY_LIMIT' ||
        code === 'ERR_MATH_OUT_OF_MEMORY'
      ) {
        throw new ComputeError(
          'too-large',
          'The computation needs more memory than a worker may use (MATH_WORKER_MEMORY_MB)',
          { cause: error },
        )
      }
      throw new ComputeError('failed', 'The computation failed', { cause: error })
    } finally {
      this.admitted--
    }
  }

  /** After each task: a worker over heavyHeapBytes is retired if it then stays idle for retireIdleMs. */
  private noteHeap({ threadId, heapBytes }: WorkerHeapReport): void {
    if (heapBytes < this.heavyHeapBytes) {
      this.heavy.delete(threadId)
      return
    }
    this.heavy.set(threadId, Date.now())
    setTimeout(() => this.retireIfIdle(threadId), this.retireIdleMs).unref()
  }

  /**
   * Ends a heavy worker's thread, which returns its whole heap to the system; piscina starts a fresh one
   * when fewer than minThreads remain. Marked retiring first, in the same tick, so no task reaches it.
   */
  private retireIfIdle(threadId: number): void {
    const finished = this.heavy.get(threadId)
    const worker = this.workers.get(threadId)
    if (finished === undefined || !worker || this.retiring.has(threadId)) return
    // Busy, or busy since: the report after its current or latest task schedules the next check.
    if (worker.currentUsage !== 0 || Date.now() - finished < this.retireIdleMs) return
    const thread = this.pool.threads.find((t) => t.threadId === threadId)
    if (!thread) return
    this.retiring.add(threadId)
    this.retirements.inc()
    void thread.terminate()
  }

  /** Thread ids of the live workers (a retired or replaced worker's id is never reused). */
  threadIds(): number[] {
    return this.pool.threads.map((thread) => thread.threadId)
  }

  close(): Promise<void> {
    return this.pool.destroy()
  }
}
