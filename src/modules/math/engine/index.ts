import { factorial } from './factorial.js'
import { fibonacci } from './fibonacci.js'
import { powerExact, powerFloat, powerMod } from './power.js'
import { toDecimal } from './to-decimal.js'

export { factorialDigits, fibonacciDigits, powerDigits } from './estimate.js'
export { factorial } from './factorial.js'
export { fibonacci } from './fibonacci.js'
export { powerExact, powerFloat, powerMod } from './power.js'
export { toDecimal } from './to-decimal.js'

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

/** Runs one job synchronously; meant for a worker thread, as big inputs take seconds. */
export function compute(job: MathJob): MathJobResult {
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
