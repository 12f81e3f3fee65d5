/*
 * What a computation would cost the thread running it, in microseconds, before it runs: the service runs a
 * job on the request's own thread only when this is at most INLINE_BUDGET_MICROS, and sends everything
 * else to the worker pool. The event loop must never be held for long (10 ms is the bound the service
 * promises; test/hostile/event-loop.test.ts and `npm run bench:hostile` check it), so every formula is an
 * UPPER bound: erring high costs a worker hop (~0.2 ms), erring low stalls every other request.
 *
 * The coefficients come from V8's BigInt on Node 24 (x86-64, one core of the CI machine), measured by
 * `npm run bench:hostile -- --calibrate`, which prints each formula next to the measured time; they
 * over-estimate by 1.2–2× across the sizes near the budget. Sizes are in 64-bit limbs, V8's digit size.
 * Multiplication is schoolbook then Karatsuba (exponent ~1.6); decimal conversion of small numbers is
 * quadratic-ish (1.5); division is schoolbook (so a modular step costs ~3 products).
 */

export const INLINE_BUDGET_MICROS = 500

const LOG2_10 = Math.log2(10)
const limbs = (bits: number) => Math.max(1, Math.ceil(bits / 64))
const bitsOfDigits = (digits: number) => Math.ceil(digits * LOG2_10)

/** Product of two numbers of `l` limbs. */
const product = (l: number) => 0.06 + 0.0065 * l ** 1.6
/** (a·b) mod m, all of `l` limbs: a product and a 2l/l division. */
const modularProduct = (l: number) => 0.15 + 0.03 * l ** 1.6
/** Decimal text of a number of `l` limbs. */
const toDecimal = (l: number) => 1 + 0.06 * l ** 1.5
/** BigInt from a decimal text of `d` digits (the job carries operands as text). */
const fromDecimal = (d: number) => 0.5 + 0.008 * d + 1.5e-6 * d * d
/** Per bit of an exponent, whatever the operand sizes: one trip round the square-and-multiply loop. */
const LOOP_STEP = 0.3

export const costMicros = {
  /** Fast doubling: dominated by the last products (half the result's size) and the conversion. */
  fibonacci(n: number, resultDigits: number): number {
    const l = limbs(bitsOfDigits(resultDigits))
    return 2 + Math.log2(n + 1) * LOOP_STEP + 2 * product(l / 2) + toDecimal(l)
  },

  /** Prime swing: a sieve up to n, a product tree whose top products are half the result's size. */
  factorial(n: number, resultDigits: number): number {
    const l = limbs(bitsOfDigits(resultDigits))
    return 20 + 0.05 * n + 3 * product(l / 2) + toDecimal(l)
  },

  /** Square-and-multiply up to the result's size, after parsing the operands. */
  power(baseDigits: number, exponentBits: number, resultDigits: number): number {
    const l = limbs(bitsOfDigits(resultDigits))
    return (
      2 +
      fromDecimal(baseDigits) +
      exponentBits * LOOP_STEP +
      3 * product(l / 2) +
      product(limbs(bitsOfDigits(baseDigits))) +
      toDecimal(l)
    )
  },

  /**
   * bits(exponent) × 2 modular products of the modulus' size, after reducing the base (whose size
   * counts: a long division of its limbs by the modulus' limbs).
   */
  powerMod(baseDigits: number, exponentDigits: number, modulusDigits: number): number {
    const l = limbs(bitsOfDigits(modulusDigits))
    const baseLimbs = limbs(bitsOfDigits(baseDigits))
    return (
      2 +
      fromDecimal(baseDigits) +
      fromDecimal(exponentDigits) +
      fromDecimal(modulusDigits) +
      0.1 +
      0.005 * baseLimbs * l +
      bitsOfDigits(exponentDigits) * (LOOP_STEP + 2 * modularProduct(l)) +
      toDecimal(l)
    )
  },
}
