import { fileURLToPath } from 'node:url'
import { Piscina } from 'piscina'
import { Gauge, type Registry } from 'prom-client'
import { unavailable } from '../../platform/errors.js'
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
 * Both become 503 with Retry-After.
 */
export class MathPool {
  private readonly pool: Piscina<MathJob, MathJobResult>

  constructor(private readonly options: MathPoolOptions) {
    this.pool = new Piscina({
      filename: workerFile,
      minThreads: 1,
      maxThreads: options.workers,
      maxQueue: options.queueMax,
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
    return compute(job)
  }

  async run(job: MathJob): Promise<MathJobResult> {
    try {
      return await this.pool.run(job, { signal: AbortSignal.timeout(this.options.timeoutMs) })
    } catch (error) {
      const message = error instanceof Error ? error.message : ''
      if ((error as { name?: string }).name === 'AbortError') {
        throw unavailable(
          `The computation took longer than ${this.options.timeoutMs} ms and was cancelled`,
          30,
        )
      }
      // piscina's two ways of saying "no worker free and no room to wait".
      if (
        message === 'Task queue is at limit' ||
        message === 'No task queue available and all Workers are busy'
      ) {
        throw unavailable('The compute pool is saturated; retry shortly', 5)
      }
      throw error
    }
  }

  close(): Promise<void> {
    return this.pool.destroy()
  }
}
