import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Operation } from '../../src/modules/math/operation.js'
import { mathResultJson } from '../../src/modules/math/result-json.js'
import { describeEachBackend, expectProblem, useApp } from '../helpers.js'

/** F(n) by fast doubling, independently of the service's engine. */
function fibonacci(n: number): bigint {
  const step = (k: number): [bigint, bigint] => {
    if (k === 0) return [0n, 1n]
    const [a, b] = step(Math.floor(k / 2))
    const c = a * (2n * b - a)
    const d = a * a + b * b
    return k % 2 === 0 ? [c, d] : [d, c + d]
  }
  return step(n)[0]
}

function factorial(n: number): bigint {
  let product = 1n
  for (let i = 2n; i <= BigInt(n); i++) product *= i
  return product
}

type Body = Parameters<typeof mathResultJson>[0]

describe('mathResultJson', () => {
  const body = (result: string, overrides: Partial<Body> = {}): Body => ({
    operation: 'power',
    input: { base: '2', exponent: 0.5 },
    result,
    exact: false,
    digits: result.replace(/\D/g, '').length,
    cached: false,
    computeMs: 0.125,
    ...overrides,
  })

  it.each([
    ['a small integer', '55'],
    ['a negative integer', '-8'],
    ['a double', '1.4142135623730951'],
    ['a double with an exponent', '1e+300'],
    ['a tiny negative double', '-2.5e-7'],
    ['an integer just under the buffer size', '9'.repeat(16_383)],
    ['an integer at the buffer size', '1'.repeat(16_384)],
    ['a huge integer', '7'.repeat(3_000_001)],
  ])('writes %s exactly as JSON.stringify does', (_what, result) => {
    const value = body(result)
    expect(String(mathResultJson(value))).toBe(JSON.stringify(value))
  })

  it('escapes a short result that is not a decimal, and non-ASCII inputs around a huge one', () => {
    const odd = body('a"b\\c\n</script>')
    expect(JSON.parse(String(mathResultJson(odd)))).toEqual(odd)
    const huge = body('5'.repeat(20_000), { input: { base: 'ünïcødé "quoted" 😀', exponent: 1 } })
    const bytes = mathResultJson(huge)
    expect(Buffer.isBuffer(bytes)).toBe(true)
    expect(String(bytes)).toBe(JSON.stringify(huge))
  })

  it('agrees with JSON.stringify for any body the schema allows', () => {
    const decimal = fc.oneof(
      fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
      fc.string(),
    )
    fc.assert(
      fc.property(
        fc.record({
          operation: fc.constantFrom(...Operation.anyOf.map((literal) => literal.const)),
          input: fc.dictionary(fc.string(), fc.oneof(fc.integer(), fc.string())),
          result: decimal,
          exact: fc.boolean(),
          digits: fc.nat(),
          cached: fc.boolean(),
          computeMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
        }),
        (value) => String(mathResultJson(value)) === JSON.stringify(value),
      ),
      { seed: 15, numRuns: 500 },
    )
  })
})

describeEachBackend('huge results through the API', (backend) => {
  const t = useApp(backend, {
    users: ['alice'],
    env: { MATH_MAX_FIBONACCI_N: '500000', MATH_MAX_RESULT_DIGITS: '200000' },
  })

  const get = (url: string, method: 'GET' | 'HEAD' = 'GET') =>
    t.app.inject({ method, url: `/api/v1${url}`, headers: t.users.alice.headers })

  it.each([
    // 83,595 digits: over BYTES_MIN_CHARS, so it leaves the worker, is cached and is sent as bytes.
    ['F(400000) by GET', '/math/fibonacci/400000', () => fibonacci(400_000)],
    ['F(200000) by GET', '/math/fibonacci/200000', () => fibonacci(200_000)],
    ['20000! by GET', '/math/factorial/20000', () => factorial(20_000)],
  ])('%s: computed, then cached, byte-exact JSON with the right length', async (_what, url, expected) => {
    const digits = expected().toString()
    expect(digits.length).toBeGreaterThan(16_384)
    const computed = await get(url)
    const cached = await get(url)
    for (const [response, wasCached] of [
      [computed, false],
      [cached, true],
    ] as const) {
      expect(response.statusCode).toBe(200)
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
      expect(Number(response.headers['content-length'])).toBe(Buffer.byteLength(response.body))
      const json = response.json()
      expect(json.result).toBe(digits)
      expect(json.digits).toBe(digits.length)
      expect(json.cached).toBe(wasCached)
      // Exactly what the generic serializer would have written.
      expect(response.body).toBe(JSON.stringify(json))
    }
    const head = await get(url, 'HEAD')
    expect(head.statusCode).toBe(200)
    expect(head.body).toBe('')
  })

  it('a huge result by POST and a non-exact one, cached or not, serialise exactly', async () => {
    const byPost = await t.app.inject({
      method: 'POST',
      url: '/api/v1/math/fibonacci',
      headers: t.users.alice.headers,
      payload: { n: 100_000 },
    })
    expect(byPost.json().result).toBe(fibonacci(100_000).toString())
    for (let i = 0; i < 2; i++) {
      const double = await get('/math/power?base=2&exponent=0.5')
      expect(double.body).toBe(
        JSON.stringify({
          operation: 'power',
          input: { base: 2, exponent: 0.5 },
          result: String(Math.SQRT2),
          exact: false,
          digits: double.json().digits,
          cached: i === 1,
          computeMs: double.json().computeMs,
        }),
      )
    }
  })

  it('refusals from the math routes stay problem+json', async () => {
    expectProblem(await get('/math/fibonacci/600000'), 422)
    expectProblem(await get('/math/fibonacci/-1'), 400)
  })
})

describeEachBackend('huge results on the JavaScript engine', (backend) => {
  const t = useApp(backend, {
    users: ['alice'],
    env: {
      MATH_ENGINE: 'js',
      MATH_MAX_FIBONACCI_N: '500000',
      MATH_MAX_RESULT_DIGITS: '200000',
    },
  })

  it('a result past BYTES_MIN_CHARS, copied once into bytes by the worker, is byte-exact computed and cached', async () => {
    const digits = fibonacci(400_001).toString()
    for (const wasCached of [false, true]) {
      const response = await t.app.inject({
        method: 'GET',
        url: '/api/v1/math/fibonacci/400001',
        headers: t.users.alice.headers,
      })
      expect(response.statusCode).toBe(200)
      expect(Number(response.headers['content-length'])).toBe(Buffer.byteLength(response.body))
      const json = response.json()
      expect(json).toMatchObject({ result: digits, digits: digits.length, cached: wasCached, exact: true })
      expect(response.body).toBe(JSON.stringify(json))
    }
  })
})
