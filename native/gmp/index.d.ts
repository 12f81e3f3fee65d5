/** What a call may spend: past timeoutMs it stops (ERR_MATH_TIMEOUT); past memoryLimitBytes, ERR_MATH_MEMORY_LIMIT. */
export interface GmpBudget {
  timeoutMs?: number
  memoryLimitBytes?: number
}

/** With bufferHeadroom, results come as bytes (see GmpBytesResult). */
export interface GmpBytesBudget extends GmpBudget {
  /** Bytes left free in front of the digits in the same ArrayBuffer, for the caller's own use (0–4096). */
  bufferHeadroom: number
}

/**
 * The digits (with a leading '-' when negative) as one byte each, written by GMP straight into a Buffer's
 * memory: the view starts bufferHeadroom bytes into its ArrayBuffer, which may be transferred to another
 * thread without a copy.
 */
export interface GmpBytesResult {
  result: Uint8Array
  computeMs: number
  convertMs: number
}

export interface GmpResult {
  /** Exact decimal digits, with a leading '-' when negative. */
  result: string
  computeMs: number
  convertMs: number
}

/** GMP's version, e.g. "6.2.1". */
export const version: string
/** False when no real-time signal was free for the cancellation timer: calls then run to completion. */
export const cancellable: boolean
/** Results longer than this are refused with a RangeError before GMP runs. */
export const maxResultDigits: number

export function fibonacci(n: number, budget: GmpBytesBudget): GmpBytesResult
export function fibonacci(n: number, budget?: GmpBudget): GmpResult
export function factorial(n: number, budget: GmpBytesBudget): GmpBytesResult
export function factorial(n: number, budget?: GmpBudget): GmpResult
/** Decimal integer strings ([+-]?[0-9]+); exponent >= 0. */
export function power(base: string, exponent: string, budget: GmpBytesBudget): GmpBytesResult
export function power(base: string, exponent: string, budget?: GmpBudget): GmpResult
/** Decimal integer strings; exponent >= 0, modulus >= 1; the result is in [0, modulus). */
export function powerMod(
  base: string,
  exponent: string,
  modulus: string,
  budget: GmpBytesBudget,
): GmpBytesResult
export function powerMod(base: string, exponent: string, modulus: string, budget?: GmpBudget): GmpResult
/** Blocks and bytes GMP holds through the addon, process-wide: both 0 when no call is running. */
export function stats(): { blocks: number; bytes: number }
