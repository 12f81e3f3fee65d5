/**
 * Decimal digit counts of results, from logarithms, so that oversized work is refused before it starts.
 *
 * Guarantee: every estimate is either exact or ONE TOO HIGH, never low. Each formula never puts log10 of
 * the result below an integer it really reaches, and `digitsFromLog10` adds a slack that covers double
 * rounding (relative 1e-15 plus absolute 1e-9). An over-estimate therefore needs log10 of the true value
 * to sit just below an integer, within that slack; none occurs among the values checked by the tests.
 */

import { assertIndex } from './arguments.js'

const LOG10_PHI = Math.log10((1 + Math.sqrt(5)) / 2)
const LOG10_SQRT5 = Math.log10(5) / 2
const LOG10_2PI = Math.log10(2 * Math.PI)
const LOG10_E = Math.LOG10E
const LOG10_2 = Math.log10(2)

function digitsFromLog10(x: number): number {
  return Math.floor(x + Math.abs(x) * 1e-15 + 1e-9) + 1
}

/**
 * Digits of F(n). φ^n/√5 is within 1/2 of the integer F(n), so for n ≥ 3 (F(n) ≥ 2 and never a power of
 * ten) its log10 has the same integer part as log10 F(n); F(1) = F(2) = 1 would fall just short.
 */
export function fibonacciDigits(n: number): number {
  assertIndex(n)
  if (n <= 2) return 1
  return digitsFromLog10(n * LOG10_PHI - LOG10_SQRT5)
}

/**
 * Digits of n!. Kamenetsky's formula n·log10(n/e) + log10(2πn)/2 is Stirling's lower bound; adding the
 * next series term log10(e)/(12n) makes it a strict upper bound on log10 n!, as the guarantee requires.
 */
export function factorialDigits(n: number): number {
  assertIndex(n)
  if (n <= 1) return 1
  return digitsFromLog10(n * Math.log10(n / Math.E) + LOG10_2PI / 2 + Math.log10(n) / 2 + LOG10_E / (12 * n))
}

/** log10 |x| for x ≠ 0, from the top 64 bits when x exceeds the double range. */
function log10Abs(x: bigint): number {
  const abs = x < 0n ? -x : x
  const bits = abs.toString(16).length * 4
  if (bits <= 1000) return Math.log10(Number(abs))
  const shift = bits - 64
  return Math.log10(Number(abs >> BigInt(shift))) + shift * LOG10_2
}

/** Digits of |base^exponent| (exponent ≥ 0); |base| ≤ 1 gives a one-digit result whatever the exponent. */
export function powerDigits(base: bigint, exponent: bigint): number {
  if (exponent < 0n) throw new RangeError('exponent must be non-negative')
  if (exponent === 0n || base === 0n || base === 1n || base === -1n) return 1
  return digitsFromLog10(Number(exponent) * log10Abs(base))
}
