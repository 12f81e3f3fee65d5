import { createHash } from 'node:crypto'
import type { AuthUser } from '../../platform/auth.js'
import type { TwoTierCache } from '../../platform/cache.js'
import { badRequest, DomainError, limitExceeded, unavailable } from '../../platform/errors.js'
import type { Metrics } from '../../platform/metrics.js'
import type { HistoryService } from '../history/service.js'
import { ComputeError } from './compute-error.js'
import { costMicros, INLINE_BUDGET_MICROS } from './cost.js'
import {
  compute,
  decodeEntry,
  entryHeader,
  factorialDigits,
  fibonacciDigits,
  type MathJob,
  type MathJobBytes,
  type MathJobResult,
  powerDigits,
  powerFloat,
  significandDigits,
  totalMs,
} from './engine/index.js'
import { digitsOf, echoOperand, type Operand } from './operands.js'
import type { MathOperation } from './operation.js'
import type { MathPool } from './pool.js'
import type { MathResult } from './schemas.js'
import type { UserSlots } from './user-slots.js'

export interface MathLimits {
  maxFibonacciN: number
  maxFactorialN: number
  maxResultDigits: number
}

/**
 * A math result as the service answers it: the response's fields, but the digits of a big result as the
 * bytes it was computed into or cached as (one byte per character), which the routes send as they are.
 */
export type MathAnswer = Omit<MathResult, 'result'> & { result: string | Buffer }

export interface PowerOperands {
  base: Operand
  exponent: Operand
  modulus?: Operand | undefined
}

type Integer = Extract<Operand, { kind: 'integer' }>

/** Huge power inputs would make huge keys; past a length the key is their digest. */
const cacheKey = (key: string) =>
  `v1:${key.length > 200 ? `sha256:${createHash('sha256').update(key).digest('base64url')}` : key}`

/**
 * Cached form (engine/entry.ts): a header line with exact/digits/computeMs, then the decimal result. A big
 * result arrives from its worker already in this form, as bytes, and is cached as they are; a small one is
 * encoded here as a string (the concatenation is lazy in V8, a rope, flattened by its first reader).
 */
function encode(result: MathJobResult | MathJobBytes): string | Buffer {
  if ('entry' in result) return result.entry
  return `${entryHeader({ ...result, totalMs: totalMs(result) })}${result.result}`
}

/** A double result as the engine prints one: shortest round-trip text, significand digits counted. */
function doubleResult(value: number): MathJobResult {
  const result = String(value)
  return {
    result,
    exact: false,
    digits: significandDigits(result),
    computeMs: 0,
    convertMs: 0,
  }
}

/** Small jobs, on the request's own thread: computing costs less than a trip to a worker thread. */
export function computeInline(job: MathJob): MathJobResult {
  try {
    return compute(job)
  } catch (error) {
    throw new ComputeError('failed', 'The computation failed', { cause: error })
  }
}

/** How a call is answered: the work, its estimated cost on this thread, and the result size it may have. */
interface Plan {
  job?: MathJob
  /** For work that is O(1) (IEEE doubles): computed here, never sent anywhere. */
  direct?: () => MathJobResult
  micros: number
}

export interface MathServiceDeps {
  pool: MathPool
  cache: TwoTierCache<string | Buffer>
  history: HistoryService
  limits: MathLimits
  metrics: Pick<Metrics, 'mathComputations' | 'mathJobs' | 'mathComputeSeconds'>
  /** Each user's share of the worker pool (see user-slots.ts). */
  slots: UserSlots
}

export function createMathService({ pool, cache, history, limits, metrics, slots }: MathServiceDeps) {
  async function run(
    actor: AuthUser,
    operation: MathOperation,
    plan: Plan,
  ): Promise<MathJobResult | MathJobBytes> {
    if (plan.direct) return plan.direct()
    const job = plan.job!
    if (plan.micros <= INLINE_BUDGET_MICROS) {
      metrics.mathJobs.inc({ operation, place: 'inline' })
      return computeInline(job)
    }
    const release = await slots.acquire(actor.id)
    metrics.mathJobs.inc({ operation, place: 'pool' })
    try {
      return await pool.run(job)
    } finally {
      release()
    }
  }

  /**
   * Cache, single-flight and compute, recording the call in history whatever its outcome. A refused call
   * (over a limit, pool saturated, timed out, failed) is recorded with its status, then refused.
   */
  async function answer(
    actor: AuthUser,
    operation: MathOperation,
    input: MathResult['input'],
    key: string,
    plan: () => Plan,
  ): Promise<MathAnswer> {
    let outcome: { value: string | Buffer; source: string }
    let computed: MathJobResult | MathJobBytes | undefined
    try {
      const planned = plan()
      outcome = await cache.getOrCompute(cacheKey(key), async () => {
        computed = await run(actor, operation, planned)
        return encode(computed)
      })
    } catch (error) {
      const refusal = asRefusal(error)
      if (refusal) {
        await history.record({ actor, operation, input, cached: false, status: refusal.status })
        throw refusal.error
      }
      throw error
    }
    const cached = outcome.source !== 'computed'
    const { result, exact, digits, computeMs } =
      !cached && computed ? { ...computed, computeMs: totalMs(computed) } : decodeEntry(outcome.value)
    metrics.mathComputations.inc({ operation, cached: String(cached) })
    if (!cached) metrics.mathComputeSeconds.observe({ operation }, computeMs / 1000)
    await history.record({
      actor,
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

  /**
   * The status a refused call is recorded with, and what the caller gets; undefined for a failure that is
   * not the computation's (the database or cache failing), which the error handler answers as such.
   */
  function asRefusal(error: unknown): { status: number; error: unknown } | undefined {
    if (error instanceof DomainError && error.kind === 'limit_exceeded') return { status: 422, error }
    if (error instanceof DomainError && error.kind === 'unavailable') return { status: 503, error }
    if (error instanceof DomainError && error.kind === 'rate_limited') return { status: 429, error }
    if (error instanceof ComputeError) {
      switch (error.failure) {
        case 'timeout':
          return { status: 503, error: unavailable(error.message, 30) }
        case 'saturated':
          return { status: 503, error: unavailable(error.message, 5) }
        case 'too-large':
          return { status: 422, error: limitExceeded(error.message) }
        case 'failed':
          // A bug: the error handler answers 500 and logs it with its cause.
          return { status: 500, error }
      }
    }
    return undefined
  }

  function checkDigits(estimated: number, what: string): void {
    if (estimated > limits.maxResultDigits) {
      throw limitExceeded(
        `${what} would have ${estimated === Infinity ? 'more than 10^308' : `about ${Math.round(estimated).toLocaleString('en')}`} digits; the limit is ${limits.maxResultDigits.toLocaleString('en')} (MATH_MAX_RESULT_DIGITS)`,
      )
    }
  }

  /** n for fibonacci/factorial must be an integer ≥ 0; checked before anything is recorded (a 400). */
  function naturalOrReject(n: Operand): Integer | Promise<never> {
    if (n.kind === 'integer' && n.value >= 0n) return n
    return Promise.reject(
      badRequest('n must be an integer ≥ 0', [{ path: '/n', message: 'must be an integer >= 0' }]),
    )
  }

  /** n at most `max` (422 naming the limit). */
  function index(n: Integer, max: number, limitName: string): number {
    if (n.value > BigInt(max)) {
      throw limitExceeded(`n must be at most ${max} (${limitName})`, [
        { path: '/n', message: `must be <= ${max}` },
      ])
    }
    return Number(n.value)
  }

  function powerModPlan(base: Integer, exponent: Integer, modulus: Integer): Plan {
    return {
      job: { op: 'power', base: base.text, exponent: exponent.text, modulus: modulus.text },
      micros: costMicros.powerMod(digitsOf(base), digitsOf(exponent), digitsOf(modulus)),
    }
  }

  function powerExactPlan(base: Integer, exponent: Integer): Plan {
    const estimatedDigits = powerDigits(base.value, exponent.value)
    checkDigits(estimatedDigits, `${shorten(base.text)}^${shorten(exponent.text)}`)
    return {
      job: { op: 'power', base: base.text, exponent: exponent.text },
      micros: costMicros.power(digitsOf(base), exponent.value.toString(2).length, estimatedDigits),
    }
  }

  function powerDoublePlan(base: number, exponent: number): Plan {
    return {
      direct() {
        const value = powerFloat(base, exponent)
        if (!Number.isFinite(value)) {
          throw limitExceeded(`${base}^${exponent} is not a finite number as an IEEE-754 double`)
        }
        return doubleResult(value)
      },
      micros: 1,
    }
  }

  /** An integer operand taken into the double path, where it must fit a double. */
  function asDouble(operand: Operand, name: string): number {
    const value = Number(operand.value)
    if (!Number.isFinite(value)) {
      throw limitExceeded(`${name} is beyond the range of an IEEE-754 double, needed for this power`, [
        { path: `/${name}`, message: 'must be within the range of a double' },
      ])
    }
    return value
  }

  return {
    fibonacci(actor: AuthUser, operand: Operand): Promise<MathAnswer> {
      const n = naturalOrReject(operand)
      if (n instanceof Promise) return n
      return answer(actor, 'fibonacci', { n: echoOperand(n) }, `fib:${n.text}`, () => {
        const index_ = index(n, limits.maxFibonacciN, 'MATH_MAX_FIBONACCI_N')
        const estimatedDigits = fibonacciDigits(index_)
        checkDigits(estimatedDigits, `F(${index_})`)
        return {
          job: { op: 'fibonacci', n: index_ },
          micros: costMicros.fibonacci(index_, estimatedDigits),
        }
      })
    },

    factorial(actor: AuthUser, operand: Operand): Promise<MathAnswer> {
      const n = naturalOrReject(operand)
      if (n instanceof Promise) return n
      return answer(actor, 'factorial', { n: echoOperand(n) }, `fact:${n.text}`, () => {
        const index_ = index(n, limits.maxFactorialN, 'MATH_MAX_FACTORIAL_N')
        const estimatedDigits = factorialDigits(index_)
        checkDigits(estimatedDigits, `${index_}!`)
        return {
          job: { op: 'factorial', n: index_ },
          micros: costMicros.factorial(index_, estimatedDigits),
        }
      })
    },

    power(actor: AuthUser, { base, exponent, modulus }: PowerOperands): Promise<MathAnswer> {
      const input: MathResult['input'] = {
        base: echoOperand(base),
        exponent: echoOperand(exponent),
        ...(modulus === undefined ? {} : { modulus: echoOperand(modulus) }),
      }
      const exactPath = base.kind === 'integer' && exponent.kind === 'integer' && exponent.value >= 0n
      if (modulus !== undefined) {
        if (!exactPath || modulus.kind !== 'integer' || modulus.value < 1n) {
          // Validation, not a limit: the request itself is malformed, so it fails before history.
          return Promise.reject(
            badRequest(
              'modulus needs an integer base, an integer exponent >= 0 and an integer modulus >= 1',
              [{ path: '/modulus', message: 'requires integer base, exponent >= 0 and modulus >= 1' }],
            ),
          )
        }
        const key = `powmod:${base.text}:${exponent.text}:${modulus.text}`
        return answer(actor, 'power', input, key, () => powerModPlan(base, exponent, modulus))
      }
      if (exactPath) {
        return answer(actor, 'power', input, `pow:${base.text}:${exponent.text}`, () =>
          powerExactPlan(base, exponent),
        )
      }
      return answer(actor, 'power', input, `powf:${Number(base.value)}:${Number(exponent.value)}`, () =>
        powerDoublePlan(asDouble(base, 'base'), asDouble(exponent, 'exponent')),
      )
    },
  }
}

/** A long number in a message: its first and last digits. */
function shorten(text: string): string {
  return text.length <= 40 ? text : `${text.slice(0, 16)}…${text.slice(-16)} (${text.length} digits)`
}

export type MathService = ReturnType<typeof createMathService>
