import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  compute,
  factorial,
  factorialDigits,
  fibonacci,
  fibonacciDigits,
  powerDigits,
  powerExact,
  powerFloat,
  powerMod,
  toDecimal,
} from '../../src/modules/math/engine/index.js'
import runJob from '../../src/modules/math/engine/worker.js'

const digitCount = (x: bigint): number => (x < 0n ? -x : x).toString().length

// Naive references, built once up to the property-test bound.
const NAIVE_MAX = 300
const naiveFib: bigint[] = [0n, 1n]
for (let i = 2; i <= NAIVE_MAX + 1; i++) naiveFib.push(naiveFib[i - 1]! + naiveFib[i - 2]!)
const naiveFact: bigint[] = [1n]
for (let i = 1; i <= NAIVE_MAX; i++) naiveFact.push(naiveFact[i - 1]! * BigInt(i))

/** Deterministic random bigint with exactly `digits` digits (xorshift, so failures reproduce). */
function randomBigInt(digits: number, seed: number): bigint {
  let s = seed | 1
  const parts: string[] = [String(1 + (seed % 9))]
  for (let i = 1; i < digits; i += 9) {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    parts.push(String((s >>> 0) % 1_000_000_000).padStart(9, '0'))
  }
  return BigInt(parts.join('').slice(0, digits))
}

describe('fibonacci', () => {
  it('matches known values', () => {
    expect(fibonacci(0)).toBe(0n)
    expect(fibonacci(1)).toBe(1n)
    expect(fibonacci(2)).toBe(1n)
    expect(fibonacci(100)).toBe(354224848179261915075n)
    expect(digitCount(fibonacci(1000))).toBe(209)
  })

  it('agrees with the naive recurrence for n ≤ 300', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: NAIVE_MAX }), (n) => fibonacci(n) === naiveFib[n]))
  })

  it.each([1, 2, 3, 10, 1000, 12_345, 100_001, 262_144])('satisfies doubling and Cassini at n = %i', (n) => {
    const [prev, cur, next] = [fibonacci(n - 1), fibonacci(n), fibonacci(n + 1)]
    expect(fibonacci(2 * n)).toBe(cur * (2n * next - cur))
    expect(prev * next - cur * cur).toBe(n % 2 === 0 ? 1n : -1n)
  })

  it('rejects indices that are not non-negative safe integers', () => {
    for (const n of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => fibonacci(n)).toThrow(RangeError)
  })
})

describe('factorial', () => {
  it('matches known values', () => {
    expect(factorial(0)).toBe(1n)
    expect(factorial(1)).toBe(1n)
    expect(factorial(20)).toBe(2432902008176640000n)
    const f100 = factorial(100).toString()
    expect(f100).toHaveLength(158)
    expect(
      f100.startsWith(
        '93326215443944152681699238856266700490715968264381621468592963895217599993229915608941463976156518286253697920827223758251185210916864',
      ),
    ).toBe(true)
    expect(f100.endsWith('0'.repeat(24))).toBe(true)
  })

  it('agrees with the naive product for n ≤ 300', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: NAIVE_MAX }), (n) => factorial(n) === naiveFact[n]))
  })

  it.each([1000, 4097, 20_000, 100_000])('satisfies n!/(n−1)! = n at n = %i', (n) => {
    const big = factorial(n)
    const small = factorial(n - 1)
    expect(big % small).toBe(0n)
    expect(big / small).toBe(BigInt(n))
  })
})

describe('power', () => {
  it('matches known values', () => {
    expect(powerExact(2n, 100n)).toBe(1267650600228229401496703205376n)
    expect(powerExact(-3n, 3n)).toBe(-27n)
    expect(powerExact(0n, 0n)).toBe(1n)
    expect(powerExact(0n, 5n)).toBe(0n)
    expect(powerExact(-1n, 10n ** 30n + 1n)).toBe(-1n)
    expect(powerExact(-12n, 7n)).toBe((-12n) ** 7n)
    expect(() => powerExact(2n, -1n)).toThrow(RangeError)
    expect(powerFloat(2, 0.5)).toBe(Math.SQRT2)
  })

  it('powerExact agrees with ** for small operands', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -1000n, max: 1000n }), fc.bigInt({ min: 0n, max: 300n }), (b, e) => {
        return powerExact(b, e) === b ** e
      }),
    )
  })

  it('powerMod agrees with (b ** e) mod m normalised to [0, m)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 6n), max: 10n ** 6n }),
        fc.bigInt({ min: 0n, max: 200n }),
        fc.bigInt({ min: 1n, max: 10n ** 9n }),
        (b, e, m) => {
          const expected = ((b ** e % m) + m) % m
          return powerMod(b, e, m) === expected
        },
      ),
    )
  })

  it('powerMod handles edge moduli and rejects bad ones', () => {
    expect(powerMod(5n, 0n, 1n)).toBe(0n)
    expect(powerMod(0n, 0n, 7n)).toBe(1n)
    expect(powerMod(-2n, 3n, 5n)).toBe(2n)
    // Fermat: a^(p−1) ≡ 1 for a prime p = 2^127 − 1.
    const p = 2n ** 127n - 1n
    expect(powerMod(3n, p - 1n, p)).toBe(1n)
    expect(() => powerMod(2n, 3n, 0n)).toThrow(RangeError)
    expect(() => powerMod(2n, -3n, 5n)).toThrow(RangeError)
  })
})

describe('toDecimal', () => {
  const same = (x: bigint) => expect(toDecimal(x)).toBe(x.toString())

  it('handles zero, small and negative values', () => {
    for (const x of [0n, 1n, -1n, 9n, 10n, -10n, 2n ** 64n, -(2n ** 64n)]) same(x)
  })

  it('agrees with toString on random values up to 12k digits', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 12_000n), max: 10n ** 12_000n }),
        (x) => toDecimal(x) === x.toString(),
      ),
      {
        numRuns: 50,
      },
    )
  })

  it('agrees with toString on random values of 9k–300k digits', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 9000, max: 300_000 }),
        fc.nat(),
        fc.boolean(),
        (digits, seed, negative) => {
          const x = randomBigInt(digits, seed)
          const signed = negative ? -x : x
          return toDecimal(signed) === signed.toString()
        },
      ),
      { numRuns: 25 },
    )
  })

  it('keeps zero runs and carries exact at chunk and level boundaries', () => {
    for (const k of [9_999, 10_000, 16_000, 16_001, 32_000, 64_000, 128_000, 256_000]) {
      const p = 10n ** BigInt(k)
      for (const x of [p, p - 1n, p + 1n, -p, p * 7n + 10n ** 500n, (p - 1n) * (p + 3n)]) same(x)
    }
  })

  it('splits the top exactly whatever the quotient: exact multiples, one off, short and long quotients', () => {
    // Levels split at 10^(500·2^i); the top split of a number between 10^m and 10^(2m) takes its quotient
    // from a truncated reciprocal, which for exact multiples of 10^m comes out one low and is corrected.
    for (const m of [16_000, 32_000, 64_000, 128_000]) {
      const tenM = 10n ** BigInt(m)
      for (const k of [
        1n,
        2n,
        7n,
        10n ** 50n + 3n,
        10n ** 3000n - 1n,
        10n ** BigInt(m / 2) + 11n,
        tenM - 1n,
      ]) {
        for (const x of [k * tenM, k * tenM - 1n, k * tenM + 1n, k * tenM + tenM / 3n]) same(x)
      }
    }
  })

  it('converts large results exactly', () => {
    same(factorial(50_000))
    same(fibonacci(1_000_000))
    same(-powerExact(7n, 500_001n))
  })
})

describe('digit estimates', () => {
  it('are exact for F(n), n ≤ 3000 and a few large n', () => {
    let [a, b] = [0n, 1n]
    for (let n = 0; n <= 3000; n++) {
      expect(fibonacciDigits(n), `F(${n})`).toBe(digitCount(a))
      ;[a, b] = [b, a + b]
    }
    for (const n of [10_000, 65_537, 300_000]) expect(fibonacciDigits(n)).toBe(digitCount(fibonacci(n)))
  })

  it('are exact for n!, n ≤ 2500 and a few large n', () => {
    let f = 1n
    for (let n = 0; n <= 2500; n++) {
      if (n > 0) f *= BigInt(n)
      expect(factorialDigits(n), `${n}!`).toBe(digitCount(f))
    }
    for (const n of [10_000, 30_103, 100_000]) expect(factorialDigits(n)).toBe(toDecimal(factorial(n)).length)
  })

  it('never under-estimate powers and over-estimate by at most one', () => {
    const check = (b: bigint, e: bigint) => {
      const over = powerDigits(b, e) - digitCount(powerExact(b, e))
      return over === 0 || over === 1
    }
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 6n), max: 10n ** 6n }), fc.bigInt({ min: 0n, max: 400n }), check),
    )
    const bases = [
      2n,
      3n,
      7n,
      10n,
      99n,
      100n,
      999n,
      1000n,
      -7n,
      10n ** 20n - 1n,
      10n ** 20n,
      10n ** 400n + 1n,
      2n ** 4000n,
    ]
    for (const b of bases) {
      for (const e of [0n, 1n, 2n, 3n, 10n, 97n, 1000n]) expect(check(b, e), `${b}^${e}`).toBe(true)
      // Powers of ten sit exactly on the boundary: they must come out exact.
      if (b === 10n || b === 1000n) expect(powerDigits(b, 1000n)).toBe(digitCount(b ** 1000n))
    }
    for (const b of [0n, 1n, -1n]) expect(powerDigits(b, 10n ** 100n)).toBe(1)
    expect(powerDigits(0n, 0n)).toBe(1)
    expect(powerDigits(7n, 10n ** 7n)).toBe(8_450_981)
  })

  it('reject negative inputs', () => {
    expect(() => fibonacciDigits(-1)).toThrow(RangeError)
    expect(() => factorialDigits(-1)).toThrow(RangeError)
    expect(() => powerDigits(2n, -1n)).toThrow(RangeError)
  })
})

describe('compute', () => {
  it('returns exact results with digit counts and timings', () => {
    const r = compute({ op: 'fibonacci', n: 100 })
    expect(r).toMatchObject({ result: '354224848179261915075', exact: true, digits: 21 })
    expect(Number.isFinite(r.computeMs) && r.computeMs >= 0).toBe(true)
    expect(Number(r.convertMs.toFixed(3))).toBe(r.convertMs)
    expect(compute({ op: 'factorial', n: 20 })).toMatchObject({ result: '2432902008176640000', digits: 19 })
    expect(compute({ op: 'power', base: '-3', exponent: '3' })).toMatchObject({
      result: '-27',
      exact: true,
      digits: 2,
    })
    expect(compute({ op: 'power', base: '0', exponent: '0' }).result).toBe('1')
    expect(compute({ op: 'power', base: '+10', exponent: '21' }).result).toBe(`1${'0'.repeat(21)}`)
  })

  it('uses the modular path when a modulus is given', () => {
    expect(compute({ op: 'power', base: '-2', exponent: '3', modulus: '5' })).toMatchObject({
      result: '2',
      exact: true,
    })
    expect(() => compute({ op: 'power', base: '2.5', exponent: '3', modulus: '5' })).toThrow(RangeError)
    expect(() => compute({ op: 'power', base: '2', exponent: '3', modulus: '0' })).toThrow(RangeError)
  })

  it('uses doubles for fractions and negative exponents', () => {
    expect(compute({ op: 'power', base: '2', exponent: '0.5' })).toMatchObject({
      result: '1.4142135623730951',
      exact: false,
      digits: 17,
    })
    expect(compute({ op: 'power', base: '2', exponent: '-1' })).toMatchObject({
      result: '0.5',
      exact: false,
      digits: 2,
    })
    expect(compute({ op: 'power', base: '10', exponent: '21.0' })).toMatchObject({
      result: '1e+21',
      digits: 1,
    })
    expect(compute({ op: 'power', base: '1.5', exponent: '1e1' }).result).toBe(String(1.5 ** 10))
  })

  it('rejects non-finite results and malformed numbers with RangeError', () => {
    for (const [base, exponent] of [
      ['10', '400.5'],
      ['-8', '0.5'],
      ['abc', '2'],
      ['0x10', '2.5'],
      ['', '2.5'],
      ['1e400', '0.5'],
      ['2', 'Infinity'],
    ] as const) {
      expect(() => compute({ op: 'power', base, exponent }), `${base}^${exponent}`).toThrow(RangeError)
    }
    expect(() => compute({ op: 'factorial', n: -1 })).toThrow(RangeError)
  })

  it('is what the worker entry runs', () => {
    const job = { op: 'factorial', n: 30 } as const
    expect(runJob(job).result).toBe(compute(job).result)
  })
})
