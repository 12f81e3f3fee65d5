import { afterAll, describe, expect, it } from 'vitest'
import type { MathJob, MathJobBytes, MathJobResult } from '../../src/modules/math/engine/index.js'
import { MathPool } from '../../src/modules/math/pool.js'
import { createMetrics, type Metrics } from '../../src/platform/metrics.js'

const pools: MathPool[] = []
afterAll(() => Promise.all(pools.map((pool) => pool.close())))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function metric({ registry }: Metrics, name: string): Promise<number> {
  const found = (await registry.getMetricsAsJSON()).find((m) => m.name === name)
  return Number(found?.values[0]?.value ?? 0)
}

/** A worker starting from TypeScript source can take longer than a short timeout: retry until it is up. */
async function runEventually(pool: MathPool, job: MathJob): Promise<MathJobResult | MathJobBytes> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await pool.run(job)
    } catch (error) {
      if (attempt >= 50 || !['timeout', 'saturated'].includes((error as { failure?: string }).failure ?? ''))
        throw error
    }
  }
}

describe('math pool memory bounds', () => {
  it('retires a worker left heavy once it is idle, and a fresh one takes over', async () => {
    const metrics = createMetrics()
    // Every heap counts as heavy here, so every worker is retired after 100 ms idle.
    const pool = new MathPool({
      workers: 2,
      timeoutMs: 60_000,
      queueMax: 100,
      metrics,
      engine: 'js',
      retireIdleMs: 100,
      heavyHeapBytes: 1,
    })
    pools.push(pool)
    expect((await pool.run({ op: 'fibonacci', n: 50_000 })).digits).toBe(10_450)
    const before = pool.threadIds()
    for (let waited = 0; (await metric(metrics, 'math_pool_workers_retired_total')) < 1; waited += 50) {
      if (waited > 10_000) throw new Error('no worker was retired')
      await sleep(50)
    }
    await sleep(200)
    // The worker that ran the job is gone (a second one, started alongside and never used, may stay).
    expect(before.filter((id) => !pool.threadIds().includes(id))).not.toEqual([])
    expect((await pool.run({ op: 'factorial', n: 5000 })).digits).toBe(16_326)
  })

  it('never hands a task to a worker being retired: every job of a stream around retirements succeeds', async () => {
    const metrics = createMetrics()
    const pool = new MathPool({
      workers: 2,
      timeoutMs: 60_000,
      queueMax: 1000,
      metrics,
      engine: 'js',
      retireIdleMs: 5,
      heavyHeapBytes: 1,
    })
    pools.push(pool)
    const failures: unknown[] = []
    // Gaps around the idle period, so that submissions land before, at and after retirement checks.
    for (let round = 0; round < 10; round++) {
      const jobs = Array.from({ length: 1 + (round % 3) }, (_, i) =>
        pool.run({ op: 'fibonacci', n: 20_000 + round * 10 + i }).catch((error) => failures.push(error)),
      )
      await Promise.all(jobs)
      await sleep([0, 3, 5, 6, 8, 12][round % 6]!)
    }
    expect(failures).toEqual([])
    expect(await metric(metrics, 'math_pool_workers_retired_total')).toBeGreaterThan(3)
    // Each retirement means a worker starting from TypeScript source: slow on a busy machine.
  }, 300_000)

  it('caps a worker heap: a job past MATH_WORKER_MEMORY_MB is refused with 422 and the pool goes on', async () => {
    const pool = new MathPool({
      workers: 1,
      timeoutMs: 60_000,
      queueMax: 4,
      metrics: createMetrics(),
      engine: 'js',
      workerMemoryMb: 16,
    })
    pools.push(pool)
    // 10^6! on V8's BigInt needs 32–64 MB of heap on its way (bench: 64 MB suffices, 32 MB does not).
    await expect(pool.run({ op: 'factorial', n: 1_000_000 })).rejects.toMatchObject({
      failure: 'too-large',
    })
    expect((await runEventually(pool, { op: 'factorial', n: 1000 })).digits).toBe(2568)
    // Near its cap V8 collects again and again before giving up: seconds, more on a busy machine.
  }, 180_000)
})
