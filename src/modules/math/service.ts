import { createHash } from 'node:crypto'
import { Counter, Histogram, type Registry } from 'prom-client'
import type { AuthUser } from '../../platform/auth.js'
import type { TwoTierCache } from '../../platform/cache.js'
import type { MathOperation } from '../../platform/db-schema.js'
import { badRequest, DomainError, limitExceeded } from '../../platform/errors.js'
import type { HistoryService } from '../history/service.js'
import {
  factorialDigits,
  fibonacciDigits,
  type MathJob,
  type MathJobResult,
  powerDigits,
} from './engine/index.js'
import type { MathPool } from './pool.js'

export interface MathLimits {
  maxFibonacciN: number
  maxFactorialN: number
  maxResultDigits: number
}

export interface MathResult {
  operation: MathOperation
  input: Record<string, number | string>
  result: string
  exact: boolean
  digits: number
  cached: boolean
  computeMs: number
}

export type NumberInput = number | string

/** Results this small are computed on the request's own thread: microseconds, cheaper than a worker hop. */
const INLINE_MAX_DIGITS = 2000
const INTEGER = /^[+-]?\d+$/

/** Huge power inputs would make huge keys; past a length the key is their digest. */
const cacheKey = (key: string) =>
  `v1:${key.length > 200 ? `sha256:${createHash('sha256').update(key).digest('base64url')}` : key}`

/** Cached form: a header line with exact/digits/computeMs, then the decimal result. */
function encode(result: MathJobResult): string {
  return `${result.exact ? 1 : 0} ${result.digits} ${result.computeMs + result.convertMs}\n${result.result}`
}

function decode(value: string): Omit<MathJobResult, 'convertMs'> {
  const newline = value.indexOf('\n')
  const [exact, digits, computeMs] = value.slice(0, newline).split(' ')
  return {
    exact: exact === '1',
    digits: Number(digits),
    computeMs: Number(computeMs),
    result: value.slice(newline + 1),
  }
}

/** A number given as JSON number or decimal string: its exact integer value when it is one. */
function integerOf(value: NumberInput): bigint | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : undefined
  return INTEGER.test(value.trim()) ? BigInt(value.trim()) : undefined
}

export interface MathServiceDeps {
  pool: MathPool
  cache: TwoTierCache
  history: HistoryService
  limits: MathLimits
  registry: Registry
}

export function createMathService({ pool, cache, history, limits, registry }: MathServiceDeps) {
  const computations = new Counter({
    name: 'math_computations_total',
    help: 'Math calls answered, by operation and whether the result came without computing',
    labelNames: ['operation', 'cached'],
    registers: [registry],
  })
  const computeSeconds = new Histogram({
    name: 'math_compute_seconds',
    help: 'Time to compute and convert a result to decimal, by operation (computed results only)',
    labelNames: ['operation'],
    buckets: [0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  })

  /**
   * Cache, single-flight and compute, recording the call in history whatever its outcome. A refused call
   * (over a limit, pool saturated, timed out) is recorded with its status, then refused.
   */
  async function answer(
    actor: AuthUser,
    operation: MathOperation,
    input: Record<string, NumberInput>,
    key: string,
    plan: () => { job: MathJob; estimatedDigits: number },
  ): Promise<MathResult> {
    let outcome: { value: string; source: string }
    try {
      const { job, estimatedDigits } = plan()
      outcome = await cache.getOrCompute(cacheKey(key), async () =>
        encode(estimatedDigits <= INLINE_MAX_DIGITS ? pool.runInline(job) : await pool.run(job)),
      )
    } catch (error) {
      const refused = asRefusal(error)
      if (refused) {
        await history.record({ userId: actor.id, operation, input, cached: false, status: refused.status })
        throw refused.error
      }
      throw error
    }
    const { result, exact, digits, computeMs } = decode(outcome.value)
    const cached = outcome.source !== 'computed'
    computations.inc({ operation, cached: String(cached) })
    if (!cached) computeSeconds.observe({ operation }, computeMs / 1000)
    await history.record({
      userId: actor.id,
      operation,
      input,
      result,
      digits,
      exact,
      cached,
      computeMs,
      status: 200,
    })
    return { operation, input, result, exact, digits, cached, computeMs }
  }

  function asRefusal(error: unknown): { status: number; error: DomainError } | undefined {
    if (error instanceof DomainError && error.kind === 'limit_exceeded') return { status: 422, error }
    if (error instanceof DomainError && error.kind === 'unavailable') return { status: 503, error }
    // The engine's word for "no finite result" (an IEEE overflow or NaN).
    if (error instanceof RangeError) {
      return { status: 422, error: limitExceeded(`The result is not a finite number: ${error.message}`) }
    }
    return undefined
  }

  function checkDigits(estimated: number, what: string): void {
    if (estimated > limits.maxResultDigits) {
      throw limitExceeded(
        `${what} would have about ${Math.round(estimated).toLocaleString('en')} digits; the limit is ${limits.maxResultDigits.toLocaleString('en')} (MATH_MAX_RESULT_DIGITS)`,
      )
    }
  }

  return {
    fibonacci(actor: AuthUser, n: number): Promise<MathResult> {
      return answer(actor, 'fibonacci', { n }, `fib:${n}`, () => {
        if (n > limits.maxFibonacciN) {
          throw limitExceeded(`n must be at most ${limits.maxFibonacciN} (MATH_MAX_FIBONACCI_N)`, [
            { path: '/n', message: `must be <= ${limits.maxFibonacciN}` },
          ])
        }
        const estimatedDigits = fibonacciDigits(n)
        checkDigits(estimatedDigits, `F(${n})`)
        return { job: { op: 'fibonacci', n }, estimatedDigits }
      })
    },

    factorial(actor: AuthUser, n: number): Promise<MathResult> {
      return answer(actor, 'factorial', { n }, `fact:${n}`, () => {
        if (n > limits.maxFactorialN) {
          throw limitExceeded(`n must be at most ${limits.maxFactorialN} (MATH_MAX_FACTORIAL_N)`, [
            { path: '/n', message: `must be <= ${limits.maxFactorialN}` },
          ])
        }
        const estimatedDigits = factorialDigits(n)
        checkDigits(estimatedDigits, `${n}!`)
        return { job: { op: 'factorial', n }, estimatedDigits }
      })
    },

    power(
      actor: AuthUser,
      base: NumberInput,
      exponent: NumberInput,
      modulus?: NumberInput,
    ): Promise<MathResult> {
      const input: Record<string, NumberInput> = {
        base,
        exponent,
        ...(modulus === undefined ? {} : { modulus }),
      }
      const b = integerOf(base)
      const e = integerOf(exponent)
      const m = modulus === undefined ? undefined : integerOf(modulus)
      const exactPath = b !== undefined && e !== undefined && e >= 0n
      if (modulus !== undefined && (!exactPath || m === undefined || m < 1n)) {
        // Validation, not a limit: the request itself is malformed, so it fails before history.
        return Promise.reject(
          badRequest('modulus needs an integer base, an integer exponent >= 0 and an integer modulus >= 1', [
            { path: '/modulus', message: 'requires integer base, exponent >= 0 and modulus >= 1' },
          ]),
        )
      }
      const key = exactPath
        ? `pow:${b}:${e}${m === undefined ? '' : `:${m}`}`
        : `powf:${String(Number(base))}:${String(Number(exponent))}`
      return answer(actor, 'power', input, key, () => {
        if (!exactPath) {
          return {
            job: { op: 'power', base: String(Number(base)), exponent: String(Number(exponent)) },
            estimatedDigits: 1,
          }
        }
        if (m !== undefined) {
          // Work grows with the exponent's bits times the modulus' size; the result is below the modulus.
          const estimatedDigits = m.toString().length + e!.toString().length
          return {
            job: { op: 'power', base: b!.toString(), exponent: e!.toString(), modulus: m.toString() },
            estimatedDigits,
          }
        }
        const estimatedDigits = powerDigits(b!, e!)
        checkDigits(estimatedDigits, `${b}^${e}`)
        return { job: { op: 'power', base: b!.toString(), exponent: e!.toString() }, estimatedDigits }
      })
    },
  }
}

export type MathService = ReturnType<typeof createMathService>
