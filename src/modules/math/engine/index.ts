import {
  activeEngine,
  type ComputeBudget,
  type GmpAddon,
  type GmpBytesBudget,
  type GmpBytesResult,
  type GmpCallResult,
} from './backend.js'
import { BYTES_MIN_CHARS, entryCopied, entryInPlace, HEADER_ROOM } from './entry.js'
import { factorial } from './factorial.js'
import { fibonacci } from './fibonacci.js'
import { powerExact, powerFloat, powerMod } from './power.js'
import { toDecimal } from './to-decimal.js'

export {
  type EngineInfo,
  type EnginePreference,
  engineInfo,
  type GmpAddon,
  loadGmp,
  selectEngine,
} from './backend.js'
export { decodeEntry, entryHeader } from './entry.js'
export { factorialDigits, fibonacciDigits, powerDigits } from './estimate.js'
export { factorial } from './factorial.js'
export { fibonacci } from './fibonacci.js'
export { powerExact, powerFloat, powerMod } from './power.js'
export { prepareDecimalTables, toDecimal } from './to-decimal.js'

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

/** The time a result took in all, as its cache entry and the response report it. */
export const totalMs = (result: { computeMs: number; convertMs: number }): number =>
  roundMs(result.computeMs + result.convertMs)

/** A double's digits as printed: those of its significand, exponent excluded ('1.5e+21' → 2). */
export const significandDigits = (text: string): number => text.replace(/e.*$/, '').replace(/\D/g, '').length

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
  const digits = exact ? result.length - (result.startsWith('-') ? 1 : 0) : significandDigits(result)
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

/**
 * A result of at least BYTES_MIN_CHARS characters as a worker hands it over: `entry` is the cache's entry
 * for it (entry.ts) and `result` the digits inside it, both views of one ArrayBuffer that is transferred
 * to the caller's thread, not copied.
 */
export interface MathJobBytes extends Omit<MathJobResult, 'result'> {
  result: Buffer
  entry: Buffer
}

/**
 * compute(), for a worker: a big result comes as bytes. On GMP the digits are written once, by GMP, into
 * the buffer that leaves the thread; on the JavaScript engine the string is copied into one (once, where
 * postMessage would copy it twice).
 */
export function computeForTransfer(job: MathJob, budget?: ComputeBudget): MathJobResult | MathJobBytes {
  const { gmp } = activeEngine()
  if (!gmp) {
    const result = computeJs(job)
    if (result.result.length < BYTES_MIN_CHARS) return result
    const entry = entryCopied(result.result, { ...result, totalMs: totalMs(result) })
    return { ...result, entry, result: entry.subarray(entry.length - result.result.length) }
  }
  const bytes = computeGmpBytes(gmp, job, { ...budget, bufferHeadroom: HEADER_ROOM })
  if (bytes === undefined) return computeJs(job)
  const { result, computeMs, convertMs } = bytes
  if (result.length < BYTES_MIN_CHARS) {
    return exactResult({
      result: Buffer.from(result.buffer, result.byteOffset, result.length).toString('latin1'),
      computeMs,
      convertMs,
    })
  }
  const meta = {
    exact: true,
    digits: result.length - (result[0] === 0x2d ? 1 : 0),
    computeMs: roundMs(computeMs),
    convertMs: roundMs(convertMs),
  }
  const entry = entryInPlace(result, { ...meta, totalMs: totalMs(meta) })
  return { ...meta, entry, result: entry.subarray(entry.length - result.length) }
}

/** The addon's call for an integer job, as bytes; undefined for a job that goes through doubles. */
function computeGmpBytes(gmp: GmpAddon, job: MathJob, budget: GmpBytesBudget): GmpBytesResult | undefined {
  switch (job.op) {
    case 'fibonacci':
      return gmp.fibonacci(job.n, budget)
    case 'factorial':
      return gmp.factorial(job.n, budget)
    case 'power': {
      const { base, exponent, modulus } = job
      const integers = INTEGER.test(base) && INTEGER.test(exponent)
      if (modulus !== undefined) {
        if (!integers || !INTEGER.test(modulus)) throw new RangeError('modular power needs integer operands')
        return gmp.powerMod(base, exponent, modulus, budget)
      }
      if (integers && !NEGATIVE.test(exponent)) return gmp.power(base, exponent, budget)
      return undefined
    }
    default:
      return undefined
  }
}
