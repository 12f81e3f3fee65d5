import { fileURLToPath } from 'node:url'
import { Piscina } from 'piscina'
import { Gauge, type Registry } from 'prom-client'
import { ComputeError } from './compute-error.js'
import { compute, type MathJob, type MathJobResult } from './engine/index.js'

export interface MathPoolOptions {
  workers: number
  timeoutMs: number
  queueMax: number
  registry: Registry
}

// Running from source (tests, `npm run dev`) the worker is TypeScript and needs tsx's loader in its thread.
const fromSource = import.meta.url.endsWith('.ts')
const workerFile = fileURLToPath(new URL(`./engine/worker.${fromSource ? 'ts' : 'js'}`, import.meta.url))

/**
 * Worker threads for every computation too big to answer inline. A computation past its time budget is
 * aborted, which terminates the thread running it (piscina replaces it); a full queue is refused at once.
 * Every failure leaves as a ComputeError saying which.
 */
export class MathPool {
  private readonly pool: Piscina<MathJob, MathJobResult>
  /** Jobs running or waiting. Counted here, so a full queue is known without reading piscina's messages. */
  private admitted = 0

  constructor(private readonly options: MathPoolOptions) {
    this.pool = new Piscina({
      filename: workerFile,
      minThreads: 1,
      maxThreads: options.workers,
      idleTimeout: 60_000,
      ...(fromSource ? { execArgv: ['--import', 'tsx'] } : {}),
    })
    const pool = this.pool
    new Gauge({
      name: 'math_pool_queue_depth',
      help: 'Computations waiting for a worker thread',
      registers: [options.registry],
      collect() {
        this.set(pool.queueSize)
      },
    })
    new Gauge({
      name: 'math_pool_utilization',
      help: 'Share of the worker threads’ capacity in use since start (0–1)',
      registers: [options.registry],
      collect() {
        this.set(pool.utilization)
      },
    })
    new Gauge({
      name: 'math_pool_threads',
      help: 'Worker threads alive',
      registers: [options.registry],
      collect() {
        this.set(pool.threads.length)
      },
    })
  }

  /** Small jobs: computing costs less than a trip to a worker thread. */
  runInline(job: MathJob): MathJobResult {
    try {
      return compute(job)
    } catch (error) {
      throw new ComputeError('failed', 'The computation failed', { cause: error })
    }
  }

  async run(job: MathJob): Promise<MathJobResult> {
    const { workers, queueMax, timeoutMs } = this.options
    if (this.admitted >= workers + queueMax) {
      throw new ComputeError('saturated', 'The compute pool is saturated; retry shortly')
    }
    this.admitted++
    const deadline = AbortSignal.timeout(timeoutMs)
    try {
      return await this.pool.run(job, { signal: deadline })
    } catch (error) {
      if (deadline.aborted) {
        throw new ComputeError(
          'timeout',
          `The computation took longer than ${timeoutMs} ms and was cancelled`,
          {
            cause: error,
          },
        )
      }
      if ((error as { code?: unknown } | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        throw new ComputeError('too-large', 'The computation needs more memory than a worker may use', {
          cause: error,
        })
      }
      throw new ComputeError('failed', 'The computation failed', { cause: error })
    } finally {
      this.admitted--
    }
  }

  close(): Promise<void> {
    return this.pool.destroy()
  }
}
