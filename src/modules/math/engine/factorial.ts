import { assertIndex } from './arguments.js'

/** n − popcount(n): the exponent of 2 in n! (Legendre), applied as one final shift. */
function twoAdicExponent(n: number): bigint {
  let ones = 0
  for (let m = n; m > 0; m = Math.floor(m / 2)) ones += m % 2
  return BigInt(n - ones)
}

/** Balanced product so that the big multiplications see operands of equal size. */
function productTree(xs: bigint[], from: number, to: number): bigint {
  if (to - from <= 4) {
    let p = 1n
    for (let i = from; i < to; i++) p *= xs[i]!
    return p
  }
  const mid = (from + to) >>> 1
  return productTree(xs, from, mid) * productTree(xs, mid, to)
}

/** Packs small factors into doubles below 2^53 first: one BigInt per ~53 bits instead of per factor. */
class Packer {
  readonly chunks: bigint[] = []
  private acc = 1

  push(k: number): void {
    if (this.acc * k > Number.MAX_SAFE_INTEGER) {
      this.chunks.push(BigInt(this.acc))
      this.acc = k
    } else {
      this.acc *= k
    }
  }

  product(): bigint {
    this.chunks.push(BigInt(this.acc))
    this.acc = 1
    return productTree(this.chunks, 0, this.chunks.length)
  }
}

function oddPrimesUpTo(n: number): Uint32Array {
  const composite = new Uint8Array(n + 1)
  const primes: number[] = []
  for (let p = 3; p <= n; p += 2) {
    if (composite[p]) continue
    primes.push(p)
    for (let q = p * p; q <= n; q += 2 * p) composite[q] = 1
  }
  return Uint32Array.from(primes)
}

/** Odd part of n!/⌊n/2⌋!², factored: p appears with exponent Σ_i (⌊n/p^i⌋ mod 2), so p^e ≤ n. */
function oddSwing(n: number, primes: Uint32Array): bigint {
  const packer = new Packer()
  for (const p of primes) {
    if (p > n) break
    let pe = 1
    for (let q = Math.floor(n / p); q > 0; q = Math.floor(q / p)) {
      if (q % 2 === 1) pe *= p
    }
    if (pe > 1) packer.push(pe)
  }
  return packer.product()
}

/**
 * Luschny's prime swing: odd(n!) = odd(⌊n/2⌋!)² · oddSwing(n), with the power of two as a final shift.
 * Chosen over binary splitting of the odd parts (Π_i of odd numbers ≤ ⌊n/2^i⌋), which was 1.2–1.5×
 * slower under Node 24 for n = 10^4…10^6: the swing has far fewer, and better balanced, big products.
 */
export function factorial(n: number): bigint {
  assertIndex(n)
  const primes = oddPrimesUpTo(n)
  const odd = (m: number): bigint => (m < 3 ? 1n : odd(Math.floor(m / 2)) ** 2n * oddSwing(m, primes))
  return odd(n) << twoAdicExponent(n)
}
