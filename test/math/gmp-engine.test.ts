import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import {
  computeForTransfer,
  computeGmp,
  computeJs,
  decodeEntry,
  type GmpAddon,
  loadGmp,
  type MathJob,
  type MathJobBytes,
  type MathJobResult,
} from '../../src/modules/math/engine/index.js'
import { MathPool } from '../../src/modules/math/pool.js'
import { createMetrics } from '../../src/platform/metrics.js'

/*
 * The GMP engine must give exactly what the JavaScript engine gives, for every operation, operand spelling
 * and error. It needs the addon built (libgmp-dev at `npm install`): in CI (CI=true) a missing addon fails
 * this file; locally the suite is skipped and says why.
 */
const { gmp, error: loadError } = loadGmp()
if (!gmp && (process.env.CI === 'true' || process.env.REQUIRE_GMP === '1')) {
  throw new Error(`CI requires the GMP engine (.ci/steps/10-gmp.sh builds it): ${loadError}`)
}
const describeGmp = gmp ? describe : describe.skip
const title = (name: string) => (gmp ? name : `${name} — skipped: ${loadError}`)
const addon = gmp as GmpAddon
const addonPath = new URL('../../native/gmp/index.cjs', import.meta.url).pathname

type Outcome = { ok: Omit<MathJobResult, 'computeMs' | 'convertMs'> } | { error: string }

/** What an engine answers, without the timings: the result fields, or the error's class. */
function outcome(run: () => MathJobResult): Outcome {
  try {
    const { result, exact, digits } = run()
    return { ok: { result, exact, digits } }
  } catch (error) {
    return { error: (error as Error).constructor.name }
  }
}

const sameOnBothEngines = (job: MathJob) => {
  const js = outcome(() => computeJs(job))
  const native = outcome(() => computeGmp(addon, job))
  expect(native, JSON.stringify(job)).toEqual(js)
  return js
}

/** An integer as a client may spell it: sign, leading zeros. */
const spelled = (value: bigint) =>
  fc
    .tuple(fc.constantFrom('', '+'), fc.nat({ max: 3 }))
    .map(([plus, zeros]) =>
      value < 0n ? `-${'0'.repeat(zeros)}${-value}` : `${plus}${'0'.repeat(zeros)}${value}`,
    )

describeGmp(title('GMP engine against the JavaScript engine'), () => {
  it('agrees on F(n) for random n, and at the doubling and 64-bit edges', () => {
    fc.assert(fc.property(fc.nat({ max: 20_000 }), (n) => sameOnBothEngines({ op: 'fibonacci', n }) !== null))
    for (const n of [0, 1, 2, 3, 92, 93, 94, 185, 186, 1 << 16, (1 << 16) + 1, 100_000, 262_143]) {
      sameOnBothEngines({ op: 'fibonacci', n })
    }
  })

  it('agrees on n! for random n, and at the edges', () => {
    fc.assert(fc.property(fc.nat({ max: 5000 }), (n) => sameOnBothEngines({ op: 'factorial', n }) !== null))
    for (const n of [0, 1, 2, 20, 21, 34, 35, 4096, 4097, 30_103, 65_537]) {
      sameOnBothEngines({ op: 'factorial', n })
    }
  })

  it('agrees on base^exponent over random operands and spellings', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).chain(spelled),
        fc.bigInt({ min: 0n, max: 600n }).chain(spelled),
        (base, exponent) => sameOnBothEngines({ op: 'power', base, exponent }) !== null,
      ),
    )
  })

  it('agrees on powers at the edges: 0, ±1, huge exponents, powers of two, negative exponents', () => {
    const huge = `${10n ** 40n + 1n}`
    const cases: [string, string][] = [
      ['0', '0'],
      ['-0', '0'],
      ['0', '7'],
      ['0', huge],
      ['1', huge],
      ['-1', huge],
      ['-1', `${10n ** 40n}`],
      ['+1', '000'],
      ['2', '100000'],
      ['-2', '99999'],
      ['1024', '3333'],
      ['-7', '12345'],
      [`${2n ** 200n - 1n}`, '1000'],
      ['7', '-0'],
      ['2', '-1'],
      ['3', '-2'],
      ['2', '0.5'],
      ['1.5', '1e1'],
      ['10', '400.5'],
      ['abc', '2'],
    ]
    for (const [base, exponent] of cases) sameOnBothEngines({ op: 'power', base, exponent })
  })

  it('agrees on modular powers over random operands, including modulus 1 and negative bases', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 50n), max: 10n ** 50n }).chain(spelled),
        fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: 10n ** 30n })).chain(spelled),
        fc.oneof(
          fc.constant(1n),
          fc.bigInt({ min: 1n, max: 1000n }),
          fc.bigInt({ min: 1n, max: 10n ** 40n }),
        ),
        (base, exponent, modulus) =>
          sameOnBothEngines({ op: 'power', base, exponent, modulus: String(modulus) }) !== null,
      ),
    )
    const p = `${2n ** 127n - 1n}`
    const cases: [string, string, string][] = [
      ['5', '0', '1'],
      ['0', '0', '7'],
      ['0', '5', '7'],
      ['-2', '3', '5'],
      ['14', '3', '7'],
      ['-14', '1', '7'],
      ['3', `${2n ** 127n - 2n}`, p],
      [`${10n ** 60n}`, `${10n ** 25n}`, '1000000007'],
      ['2', '3', '0'],
      ['2', '3', '-5'],
      ['2', '-3', '5'],
      ['2', '-0', '5'],
      ['2.5', '3', '5'],
      ['2', '3', '5.0'],
    ]
    for (const [base, exponent, modulus] of cases) sameOnBothEngines({ op: 'power', base, exponent, modulus })
  })

  it('refuses the same bad indices with RangeError', () => {
    for (const n of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, -0.5]) {
      expect(sameOnBothEngines({ op: 'fibonacci', n })).toEqual({ error: 'RangeError' })
      expect(sameOnBothEngines({ op: 'factorial', n })).toEqual({ error: 'RangeError' })
    }
  })

  it('converts results of millions of digits identically', () => {
    for (const job of [
      { op: 'fibonacci', n: 1_000_000 },
      { op: 'factorial', n: 100_000 },
      { op: 'power', base: '-7', exponent: '500001' },
    ] as const) {
      const { ok } = sameOnBothEngines(job) as { ok: MathJobResult }
      expect(ok.digits).toBeGreaterThan(200_000)
    }
  })
})

describeGmp(title('GMP results as bytes (what a worker hands over)'), () => {
  it('gives the same digits as the JavaScript engine, as a string below BYTES_MIN_CHARS and bytes from it', () => {
    const jobs: MathJob[] = [
      { op: 'fibonacci', n: 313_000 }, // 65,412 digits: just below
      { op: 'fibonacci', n: 313_600 }, // 65,538 digits: just over
      { op: 'factorial', n: 20_000 },
      { op: 'factorial', n: 25_000 },
      { op: 'power', base: '-7', exponent: '77777' }, // negative: the sign is one of the bytes
      { op: 'power', base: '12345678901234567890', exponent: '8000' },
      { op: 'power', base: '2', exponent: '0.5' },
      { op: 'power', base: '3', exponent: '100000', modulus: '1000000007' },
    ]
    for (const job of jobs) {
      const expected = computeJs(job)
      const got = computeForTransfer(job)
      const text = typeof got.result === 'string' ? got.result : got.result.toString('latin1')
      expect({ result: text, exact: got.exact, digits: got.digits }, JSON.stringify(job)).toEqual({
        result: expected.result,
        exact: expected.exact,
        digits: expected.digits,
      })
      expect(typeof got.result === 'string', JSON.stringify(job)).toBe(expected.result.length < 65_536)
      if ('entry' in got) {
        // The cache entry is the digits' own memory with the header in front: nothing was copied.
        expect(got.entry.buffer).toBe(got.result.buffer)
        expect(decodeEntry(got.entry)).toMatchObject({ exact: true, digits: expected.digits })
        expect(decodeEntry(got.entry.toString('latin1')).result).toBe(expected.result)
      }
    }
  })

  it('refuses a bufferHeadroom that is not an integer from 0 to 4096, and leaks nothing when stopped', () => {
    for (const bufferHeadroom of [-1, 0.5, 4097, Number.NaN, '8' as unknown as number]) {
      expect(() => addon.fibonacci(10, { bufferHeadroom })).toThrow(RangeError)
    }
    expect(Buffer.from(addon.fibonacci(10, { bufferHeadroom: 0 }).result).toString()).toBe('55')
    expect(() => addon.factorial(2_000_000, { bufferHeadroom: 48, timeoutMs: 50 })).toThrow(
      expect.objectContaining({ code: 'ERR_MATH_TIMEOUT' }),
    )
    expect(addon.stats()).toEqual({ blocks: 0, bytes: 0 })
  })
})

describeGmp(title('GMP addon under attack'), () => {
  it('refuses arguments of the wrong type or shape with RangeError, never a crash', () => {
    const bad: (() => unknown)[] = [
      () => (addon.fibonacci as (...args: unknown[]) => unknown)(),
      () => addon.fibonacci('10' as unknown as number),
      () => addon.fibonacci(10n as unknown as number),
      () => addon.fibonacci({} as unknown as number),
      () => addon.fibonacci(null as unknown as number),
      () => addon.factorial(Symbol('n') as unknown as number),
      () => addon.power(7 as unknown as string, '2'),
      () => addon.power('7', 2 as unknown as string),
      () => addon.power('', '2'),
      () => addon.power('+', '2'),
      () => addon.power('-', '2'),
      () => addon.power(' 7', '2'),
      () => addon.power('7 ', '2'),
      () => addon.power('1 000', '2'),
      () => addon.power('0x10', '2'),
      () => addon.power('1e3', '2'),
      () => addon.power('٣', '2'),
      () => addon.power('7\u0000', '2'),
      () => addon.power('7', '2', 5 as never),
      () => addon.power('7', '2', { timeoutMs: -1 }),
      () => addon.power('7', '2', { timeoutMs: Number.NaN }),
      () => addon.power('7', '2', { memoryLimitBytes: '1' as unknown as number }),
      () => addon.powerMod('2', '3', undefined as unknown as string),
      () => addon.powerMod('2', '3', '0'),
      () => addon.powerMod('2', '3', '-0'),
      () => addon.powerMod('2', '3', '000'),
      () => addon.powerMod('2', '3', '-7'),
      () => addon.powerMod('2', '-1', '7'),
    ]
    for (const call of bad) expect(call, call.toString()).toThrow(RangeError)
  })

  it('refuses results too long for a string before GMP allocates anything', () => {
    const huge: (() => unknown)[] = [
      () => addon.fibonacci(Number.MAX_SAFE_INTEGER),
      () => addon.fibonacci(2 ** 32),
      () => addon.factorial(1e9),
      () => addon.factorial(Number.MAX_SAFE_INTEGER),
      () => addon.power('2', '99999999999999999999999999'),
      () => addon.power('10', String(addon.maxResultDigits + 1)),
      () => addon.power(`1${'0'.repeat(1000)}`, '1000000'),
      () => addon.power('-2', '18446744073709551616'),
    ]
    for (const call of huge) {
      expect(call, call.toString()).toThrow(RangeError)
      expect(addon.stats()).toEqual({ blocks: 0, bytes: 0 })
    }
    // Operands longer than the addon reads are refused from their length alone.
    expect(() => addon.power('7'.repeat(100_000_001), '1')).toThrow(/longer than/)
  })

  it('stops at its deadline and frees everything, again and again', () => {
    const rssBefore = process.memoryUsage().rss
    for (let i = 0; i < 15; i++) {
      const started = performance.now()
      expect(() => addon.factorial(20_000_000, { timeoutMs: 30 })).toThrow(
        expect.objectContaining({ code: 'ERR_MATH_TIMEOUT' }),
      )
      expect(performance.now() - started).toBeLessThan(1000)
      expect(addon.stats()).toEqual({ blocks: 0, bytes: 0 })
    }
    // A huge modulus makes every step slow: cancelled too, although GMP allocates nothing while it loops.
    expect(() => addon.powerMod('3', '9'.repeat(20_000), '7'.repeat(20_000), { timeoutMs: 50 })).toThrow(
      expect.objectContaining({ code: 'ERR_MATH_TIMEOUT' }),
    )
    expect(addon.stats()).toEqual({ blocks: 0, bytes: 0 })
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 2 ** 20)
    // The thread is usable afterwards.
    expect(addon.factorial(20).result).toBe('2432902008176640000')
  })

  it('stops at its memory budget instead of growing the process', () => {
    expect(() => addon.factorial(1_000_000, { memoryLimitBytes: 2 ** 20 })).toThrow(
      expect.objectContaining({ code: 'ERR_MATH_MEMORY_LIMIT' }),
    )
    expect(addon.stats()).toEqual({ blocks: 0, bytes: 0 })
    expect(addon.factorial(10_000, { memoryLimitBytes: 2 ** 20 }).result).toHaveLength(35_660)
  })

  it('computes in several threads at once, with deadlines firing in some of them', async () => {
    const source = `
      const { parentPort, workerData } = require('node:worker_threads')
      const gmp = require(${JSON.stringify(addonPath)})
      const { n, timeoutMs } = workerData
      try {
        const { result } = gmp.fibonacci(n, { timeoutMs })
        parentPort.postMessage({ digits: result.length, tail: result.slice(-12) })
      } catch (error) {
        parentPort.postMessage({ code: error.code })
      }`
    const jobs = [
      { n: 2_000_000, timeoutMs: 60_000 },
      { n: 50_000_000, timeoutMs: 40 },
      { n: 1_999_999, timeoutMs: 60_000 },
      { n: 50_000_000, timeoutMs: 80 },
      { n: 300_000, timeoutMs: 60_000 },
    ]
    const answers = await Promise.all(
      jobs.map(async (workerData) => {
        const worker = new Worker(source, { eval: true, workerData })
        const exited = once(worker, 'exit')
        const [message] = await once(worker, 'message')
        await exited
        return message
      }),
    )
    const expected = (n: number) => {
      const { result } = addon.fibonacci(n)
      return { digits: result.length, tail: result.slice(-12) }
    }
    expect(answers).toEqual([
      expected(2_000_000),
      { code: 'ERR_MATH_TIMEOUT' },
      expected(1_999_999),
      { code: 'ERR_MATH_TIMEOUT' },
      expected(300_000),
    ])
    expect(addon.stats()).toEqual({ blocks: 0, bytes: 0 })
  })

  it('lets a worker terminated mid-computation exit at the deadline, leaking nothing', async () => {
    const source = `
      const { parentPort } = require('node:worker_threads')
      const gmp = require(${JSON.stringify(addonPath)})
      parentPort.postMessage('started')
      gmp.factorial(30_000_000, { timeoutMs: 500 })`
    const worker = new Worker(source, { eval: true })
    await once(worker, 'message')
    await new Promise((resolve) => setTimeout(resolve, 100))
    const terminating = performance.now()
    await worker.terminate()
    // terminate() cannot interrupt native code: the thread ends when the addon's timer stops GMP.
    expect(performance.now() - terminating).toBeLessThan(3000)
    expect(addon.stats()).toEqual({ blocks: 0, bytes: 0 })
  })
})

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

describeGmp(title('math pool on the GMP engine'), () => {
  const pools: MathPool[] = []
  afterAll(() => Promise.all(pools.map((pool) => pool.close())))

  it('cancels a native computation at the timeout: its thread stops and frees its memory', async () => {
    const pool = new MathPool({ workers: 1, timeoutMs: 300, queueMax: 4, metrics: createMetrics() })
    pools.push(pool)
    expect(pool.engine.name).toBe('gmp')
    expect((await runEventually(pool, { op: 'fibonacci', n: 1000 })).digits).toBe(209)
    const rss: number[] = []
    for (let i = 0; i < 6; i++) {
      await expect(pool.run({ op: 'factorial', n: 20_000_000 })).rejects.toMatchObject({
        failure: 'timeout',
      })
      // The worker's own timer fired with the pool's: within moments nothing is held any more.
      for (let waited = 0; addon.stats().blocks > 0 && waited < 3000; waited += 20) {
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect(addon.stats()).toEqual({ blocks: 0, bytes: 0 })
      rss.push(process.memoryUsage().rss)
    }
    expect(Math.max(...rss) - rss[0]!).toBeLessThan(64 * 2 ** 20)
    expect((await runEventually(pool, { op: 'fibonacci', n: 1000 })).digits).toBe(209)
  })

  it('maps a computation over its memory budget to 422, not a crash', async () => {
    const pool = new MathPool({
      workers: 1,
      timeoutMs: 30_000,
      queueMax: 4,
      workerMemoryMb: 64,
      metrics: createMetrics(),
    })
    pools.push(pool)
    await expect(pool.run({ op: 'power', base: '3', exponent: '300000000' })).rejects.toMatchObject({
      failure: 'too-large',
    })
    expect((await pool.run({ op: 'factorial', n: 1000 })).digits).toBe(2568)
  })
})
