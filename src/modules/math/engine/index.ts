import { activeEngine, type ComputeBudget, type GmpAddon, type GmpCallResult } from './backend.js'
import { factorial } from './factorial.js'
import { fibonacci } from './fibonacci.js'
import { powerExact, powerFloat, powerMod } from './power.js'
import { toDecimal } from './to-decimal.js'

export {
  activeEngine,
  type ComputeBudget,
  type EngineInfo,
  type EngineName,
  type EnginePreference,
  engineInfo,
  type GmpAddon,
  loadGmp,
  selectEngine,
} from './backend.js'
export { factorialDigits, fibonacciDigits, powerDigits } from './estimate.js'
export { factorial } from './factorial.js'
export { fibonacci } from './fibonacci.js'
export { powerExact, powerFloat, powerMod } from './power.js'
export { prepareDecimalTables, toDecimal } from './to-decimal.js'

export type MathOperation = 'fibonacci' | 'factorial' | 'power'

/** Power operands are decimal strings so that exact integers of any size survive transport. */
export type MathJob =
  | { op: 'fibonacci'; n: number }
  | { op: 'factorial'; n: number }
  | { op: 'power'; base: string; exponent: string; modulus?: string }

export interface MathJobResult {
  /** Exact decimal digits, or for inexact results JS's shortest round-trip form ('0.5', '1e+21'). */
  result: string
  exact: boolean
  /**
   * Decimal digits excluding the sign: the whole result when exact; when not, the digits of the
   * significand as printed, exponent excluded ('1.5e+21' → 2, '0.001' → 4).
   */
  digits: number
  computeMs: number
  convertMs: number
}

const INTEGER = /^[+-]?\d+$/
/** An integer text below zero ("-0" is not). */
const NEGATIVE = /^-0*[1-9]/
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

const roundMs = (ms: number): number => Math.round(ms * 1000) / 1000

function parseFinite(name: string, text: string): number {
  const value = Number(text)
  if (!DECIMAL.test(text) || !Number.isFinite(value))
    throw new RangeError(`${name} is not a finite decimal number`)
  return value
}

/**
 * Integer base and exponent ≥ 0: exact. With a modulus: modular, and every operand must be an integer.
 * Anything else (fractions, negative exponents) goes through doubles and is inexact.
 */
function power(base: string, exponent: string, modulus: string | undefined): bigint | number {
  const integers = INTEGER.test(base) && INTEGER.test(exponent)
  if (modulus !== undefined) {
    if (!integers || !INTEGER.test(modulus)) throw new RangeError('modular power needs integer operands')
    return powerMod(BigInt(base), BigInt(exponent), BigInt(modulus))
  }
  if (integers && BigInt(exponent) >= 0n) return powerExact(BigInt(base), BigInt(exponent))
  const value = powerFloat(parseFinite('base', base), parseFinite('exponent', exponent))
  if (!Number.isFinite(value)) throw new RangeError(`${base}^${exponent} is not a finite double`)
  return value
}

function evaluate(job: MathJob): bigint | number {
  switch (job.op) {
    case 'fibonacci':
      return fibonacci(job.n)
    case 'factorial':
      return factorial(job.n)
    case 'power':
      return power(job.base, job.exponent, job.modulus)
    default:
      // Jobs cross a thread boundary untyped.
      throw new RangeError(`unknown operation ${String((job as { op: unknown }).op)}`)
  }
}

/**
 * Runs one job synchronously on this thread's engine (see backend.ts); meant for a worker thread, as big
 * inputs take seconds. The budget bounds a GMP call; a JavaScript computation is stopped by ending its thread.
 */
export function compute(job: MathJob, budget?: ComputeBudget): MathJobResult {
  const { gmp } = activeEngine()
  return gmp ? computeGmp(gmp, job, budget) : computeJs(job)
}

/** The job on V8's BigInt: our algorithms, then our decimal conversion. */
export function computeJs(job: MathJob): MathJobResult {
  const started = performance.now()
  const value = evaluate(job)
  const computed = performance.now()
  const exact = typeof value === 'bigint'
  const result = exact ? toDecimal(value) : String(value)
  const converted = performance.now()
  const digits = exact
    ? result.length - (result.startsWith('-') ? 1 : 0)
    : result.replace(/e.*$/, '').replace(/\D/g, '').length
  return {
    result,
    exact,
    digits,
    computeMs: roundMs(computed - started),
    convertMs: roundMs(converted - computed),
  }
}

const exactResult = ({ result, computeMs, convertMs }: GmpCallResult): MathJobResult => ({
  result,
  exact: true,
  digits: result.length - (result.startsWith('-') ? 1 : 0),
  computeMs: roundMs(computeMs),
  convertMs: roundMs(convertMs),
})

/**
 * The job on GMP. Same operands, results and errors as computeJs: integer operations go to the addon,
 * doubles (fractions, negative exponents) stay on computeJs, which is exact about them anyway.
 */
export function computeGmp(gmp: GmpAddon, job: MathJob, budget?: ComputeBudget): MathJobResult {
  switch (job.op) {
    case 'fibonacci':
      return exactResult(gmp.fibonacci(job.n, budget))
    case 'factorial':
      return exactResult(gmp.factorial(job.n, budget))
    case 'power': {
      const { base, exponent, modulus } = job
      const integers = INTEGER.test(base) && INTEGER.test(exponent)
      if (modulus !== undefined) {
        if (!integers || !INTEGER.test(modulus)) throw new RangeError('modular power needs integer operands')
        return exactResult(gmp.powerMod(base, exponent, modulus, budget))
      }
      if (integers && !NEGATIVE.test(exponent)) return exactResult(gmp.power(base, exponent, budget))
      return computeJs(job)
    }
    default:
      return computeJs(job)
  }
}
