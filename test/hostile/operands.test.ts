import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { describeEachBackend, expectProblem, useApp } from '../helpers.js'

/*
 * Class 1 and 2 of issue 10: an operand's meaning must not depend on its spelling, and no result computed
 * from a rounded input may say `exact: true`. Every spelling an outsider might try goes through GET, POST
 * with a string and POST with a raw JSON number (sent as text, so the literal reaches the server as
 * written), and all must agree — result, exactness, and the types echoed in `input`.
 */

const SEED = Number(process.env.HOSTILE_SEED ?? 20_261_123)

/** Spellings of the integer 7 that a client, a form or a generated SDK might send. */
const SEVEN_AS_TEXT = [
  '7',
  '+7',
  '07',
  '007',
  '7.0',
  '7.',
  '7.000',
  '7e0',
  '7E0',
  '7e+0',
  '70e-1',
  '0.7e1',
  '.7e1',
]
/** Spellings of 7 as a JSON number literal (JSON has no '+', no leading zero, no bare '.'). */
const SEVEN_AS_JSON = ['7', '7.0', '7e0', '7E0', '7e+0', '70e-1', '0.7e1', '7.000']

const REFUSED_TEXT = [
  ' 7',
  '7 ',
  '\t7',
  '7\n',
  '0x10',
  '0b11',
  '0o7',
  '1_000',
  '1,000',
  'Infinity',
  '-Infinity',
  'NaN',
  '7e',
  'e7',
  '.',
  '-',
  '+',
  '--7',
  '+-7',
  '1e+',
  '1e1.5',
  '٧', // Arabic-Indic seven
  '７', // fullwidth seven
  '7\u0000',
  '1.2.3',
  'null',
]

describeEachBackend('hostile input: operand spellings', (backend) => {
  const t = useApp(backend, {
    users: ['speller'],
    env: {
      MATH_MAX_FIBONACCI_N: '500000',
      MATH_MAX_FACTORIAL_N: '20000',
      MATH_MAX_RESULT_DIGITS: '200000',
    },
  })

  const get = (url: string) => t.app.inject({ url: `/api/v1/math/${url}`, headers: t.users.speller.headers })
  /** `body` is raw JSON text: number literals arrive exactly as written. */
  const post = (url: string, body: string) =>
    t.app.inject({
      method: 'POST',
      url: `/api/v1/math/${url}`,
      headers: { ...t.users.speller.headers, 'content-type': 'application/json' },
      payload: body,
    })
  const pick = (response: { json(): Record<string, unknown> }) => {
    const { result, exact, digits, input } = response.json()
    return { result, exact, digits, input }
  }

  it('every spelling of 7 is the integer 7: exact, one cache entry, the same echo, GET and POST', async () => {
    const expected = { result: '823543', exact: true, digits: 6, input: { base: 7, exponent: 7 } }
    const answers = []
    for (const spelling of SEVEN_AS_TEXT) {
      answers.push(
        await get(`power?base=${encodeURIComponent(spelling)}&exponent=${encodeURIComponent(spelling)}`),
      )
      answers.push(await post('power', JSON.stringify({ base: spelling, exponent: spelling })))
    }
    for (const literal of SEVEN_AS_JSON) {
      answers.push(await post('power', `{"base":${literal},"exponent":${literal}}`))
      answers.push(await post('power', `{"base":${literal},"exponent":"${literal}"}`))
    }
    for (const answer of answers) expect(pick(answer)).toEqual(expected)
    // One computation: every later spelling found the first one's cache entry.
    expect(answers.filter((answer) => answer.json().cached === false)).toHaveLength(1)
  })

  it('n accepts the same spellings, on GET and POST, for fibonacci and factorial', async () => {
    for (const operation of ['fibonacci', 'factorial']) {
      const expected = operation === 'fibonacci' ? '13' : '5040'
      for (const spelling of SEVEN_AS_TEXT) {
        expect(pick(await get(`${operation}/${encodeURIComponent(spelling)}`))).toEqual({
          result: expected,
          exact: true,
          digits: expected.length,
          input: { n: 7 },
        })
        expect(pick(await post(operation, JSON.stringify({ n: spelling }))).result).toBe(expected)
      }
      for (const literal of SEVEN_AS_JSON) {
        expect(pick(await post(operation, `{"n":${literal}}`)).input).toEqual({ n: 7 })
      }
    }
  })

  it('-0 is the integer 0 however written; non-integers and negative n are 400', async () => {
    for (const spelling of ['-0', '+0', '-0.0', '-0e5', '0e-5', '-.0']) {
      expect(pick(await get(`fibonacci/${encodeURIComponent(spelling)}`))).toMatchObject({
        result: '0',
        input: { n: 0 },
      })
      expect(pick(await get(`power?base=2&exponent=${encodeURIComponent(spelling)}`))).toEqual({
        result: '1',
        exact: true,
        digits: 1,
        input: { base: 2, exponent: 0 },
      })
    }
    expect(pick(await post('power', '{"base":-0,"exponent":2}'))).toMatchObject({
      result: '0',
      input: { base: 0 },
    })
    for (const spelling of ['7.5', '-1', '-1e0', '1e-1', '0.5']) {
      expectProblem(await get(`fibonacci/${encodeURIComponent(spelling)}`), 400)
      expectProblem(await post('factorial', JSON.stringify({ n: spelling })), 400)
    }
    expectProblem(await post('factorial', '{"n":7.5}'), 400)
  })

  it.each(REFUSED_TEXT)('%j is not a decimal number: 400 on GET and POST, never a 5xx', async (text) => {
    for (const response of [
      await get(`power?base=${encodeURIComponent(text)}&exponent=2`),
      await get(`power?base=2&exponent=${encodeURIComponent(text)}`),
      await post('power', JSON.stringify({ base: text, exponent: 2 })),
      await post('power', JSON.stringify({ base: 2, exponent: 3, modulus: text })),
      await post('fibonacci', JSON.stringify({ n: text })),
    ]) {
      expectProblem(response, 400)
    }
    if (!/[/?#%]/.test(text) && text.trim() !== '' && text !== '.') {
      const response = await get(`fibonacci/${encodeURIComponent(text)}`)
      expect([400, 404]).toContain(response.statusCode)
    }
  })

  it('non-integers are doubles whatever the spelling, and say exact: false', async () => {
    const expected = { result: '56.25', exact: false, digits: 4, input: { base: 7.5, exponent: 2 } }
    for (const spelling of ['7.5', '7.50', '75e-1', '.75e1', '+7.5', '0750e-2']) {
      expect(pick(await get(`power?base=${encodeURIComponent(spelling)}&exponent=2`))).toEqual(expected)
      expect(pick(await post('power', JSON.stringify({ base: spelling, exponent: '2.0' })))).toEqual(expected)
    }
    for (const literal of ['7.5', '7.50', '75e-1', '0.75e1']) {
      expect(pick(await post('power', `{"base":${literal},"exponent":2}`))).toEqual(expected)
    }
  })

  describe('JSON numbers that cannot be held exactly (class 2)', () => {
    it.each([
      ['12345678901234567891', 'the probe from the issue'],
      ['9007199254740992', '2^53'],
      ['-9007199254740993', '-(2^53 + 1)'],
      ['1e20', 'an integer in exponent notation'],
      ['123456789012345678901234567890', 'thirty digits'],
    ])('%s (%s) is 400 asking for a string, in every operand', async (literal) => {
      for (const body of [
        `{"base":${literal},"exponent":1}`,
        `{"base":2,"exponent":${literal}}`,
        `{"base":2,"exponent":3,"modulus":${literal}}`,
      ]) {
        const problem = expectProblem(await post('power', body), 400)
        expect(problem.detail).toMatch(/string/)
      }
      expectProblem(await post('fibonacci', `{"n":${literal}}`), 400)
    })

    it('a literal beyond the double range (1e400) is 400 too (schema: JSON.parse makes it Infinity)', async () => {
      for (const body of ['{"base":1e400,"exponent":1}', '{"base":2,"exponent":-1e400}', '{"n":1e400}']) {
        expectProblem(await post(body.includes('"n"') ? 'fibonacci' : 'power', body), 400)
      }
    })

    it('the same values as strings are exact', async () => {
      const answer = pick(await post('power', '{"base":"12345678901234567891","exponent":1}'))
      expect(answer).toEqual({
        result: '12345678901234567891',
        exact: true,
        digits: 20,
        input: { base: '12345678901234567891', exponent: 1 },
      })
      expect(pick(await get('power?base=12345678901234567891&exponent=1'))).toEqual(answer)
      expect(pick(await post('power', '{"base":"1e20","exponent":1}')).result).toBe(`1${'0'.repeat(20)}`)
    })

    it('2^53 − 1 is the largest JSON integer taken, and is exact', async () => {
      expect(pick(await post('power', '{"base":9007199254740991,"exponent":2}'))).toEqual({
        result: (9007199254740991n ** 2n).toString(),
        exact: true,
        digits: 32,
        input: { base: 9007199254740991, exponent: 2 },
      })
    })

    it('a literal JSON.parse would round to an integer is a double, never exact: true', async () => {
      for (const literal of ['7.0000000000000000001', '6.99999999999999999999', '1e-400']) {
        const answer = (await post('power', `{"base":${literal},"exponent":2}`)).json()
        expect(answer.exact).toBe(false)
      }
      // …and the exact 7 is still exact: the double and the integer never share a cache entry.
      expect((await post('power', '{"base":7,"exponent":2}')).json()).toMatchObject({
        exact: true,
        result: '49',
      })
    })
  })

  describe('limits apply to every spelling (class 1)', () => {
    const RESULT_LIMIT = /MATH_MAX_RESULT_DIGITS/

    it.each(['200000', '2e5', '2E5', '200000.0', '2.00000e5', '0.2e6', '2000000e-1'])(
      'exponent %s: 10^that is over MATH_MAX_RESULT_DIGITS by GET, POST string and POST number',
      async (spelling) => {
        expect(expectProblem(await get(`power?base=10&exponent=${spelling}`), 422).detail).toMatch(
          RESULT_LIMIT,
        )
        expect(expectProblem(await get(`power?base=10.0&exponent=${spelling}`), 422).detail).toMatch(
          RESULT_LIMIT,
        )
        expect(
          expectProblem(await post('power', JSON.stringify({ base: '1e1', exponent: spelling })), 422).detail,
        ).toMatch(RESULT_LIMIT)
        if (!spelling.startsWith('.')) {
          expect(
            expectProblem(await post('power', `{"base":1e1,"exponent":${spelling}}`), 422).detail,
          ).toMatch(RESULT_LIMIT)
        }
      },
    )

    it('the issue probe: "2.0" ^ "1e7" is refused before any work, not computed on the event loop', async () => {
      const started = performance.now()
      expect(expectProblem(await get('power?base=2.0&exponent=1e7'), 422).detail).toMatch(RESULT_LIMIT)
      expect(expectProblem(await post('power', '{"base":2.0,"exponent":1e7}'), 422).detail).toMatch(
        RESULT_LIMIT,
      )
      expect(performance.now() - started).toBeLessThan(1000)
    })

    it.each(['500001', '5.00001e5', '500001.0', '1e6', '1e400'])(
      'n = %s is over MATH_MAX_FIBONACCI_N, 422 naming it, by GET and POST',
      async (spelling) => {
        expect(expectProblem(await get(`fibonacci/${spelling}`), 422).detail).toMatch(/MATH_MAX_FIBONACCI_N/)
        expect(expectProblem(await post('fibonacci', JSON.stringify({ n: spelling })), 422).detail).toMatch(
          /MATH_MAX_FIBONACCI_N/,
        )
      },
    )

    it('an operand of more than 10,000 digits is 422 however written, before it is materialised', async () => {
      for (const spelling of [
        '1e10000',
        '1e1000000000',
        '1e99999999999999999999',
        `1${'0'.repeat(10_000)}`,
        '12.5e9999',
      ]) {
        const started = performance.now()
        const problem = expectProblem(
          await post('power', JSON.stringify({ base: spelling, exponent: 1 })),
          422,
        )
        expect(problem.detail).toMatch(/10000 digits/)
        expect(performance.now() - started).toBeLessThan(1000)
      }
      // Exactly 10,000 digits is an operand like any other.
      expect(
        (await post('power', JSON.stringify({ base: `9${'0'.repeat(9_999)}`, exponent: 1 }))).statusCode,
      ).toBe(200)
      // Leading zeros and a fraction of zeros add no digits.
      const padded = `${'0'.repeat(20_000)}7.${'0'.repeat(20_000)}`
      expect(pick(await post('power', JSON.stringify({ base: padded, exponent: 2 })))).toMatchObject({
        result: '49',
        exact: true,
      })
    })

    it('a non-integer base with an integer exponent in exponent notation is a double power', async () => {
      expect(pick(await post('power', JSON.stringify({ base: '0.5', exponent: '1e3' })))).toMatchObject({
        exact: false,
      })
      expect(
        expectProblem(await post('power', JSON.stringify({ base: '1.5', exponent: '1e5' })), 422).detail,
      ).toMatch(/finite/)
    })

    it('modular powers: every spelling, one value; the modulus must be an integer ≥ 1', async () => {
      const expected = (await post('power', '{"base":4,"exponent":13,"modulus":497}')).json().result
      expect(expected).toBe('445')
      for (const body of [
        '{"base":4.0,"exponent":1.3e1,"modulus":4.97e2}',
        '{"base":"4.0","exponent":"13","modulus":"497.000"}',
        '{"base":"40e-1","exponent":"130e-1","modulus":"0.497e3"}',
      ]) {
        expect(pick(await post('power', body))).toEqual({
          result: '445',
          exact: true,
          digits: 3,
          input: { base: 4, exponent: 13, modulus: 497 },
        })
      }
      expect(pick(await get('power?base=4.0&exponent=13e0&modulus=497.'))).toMatchObject({ result: '445' })
      for (const body of [
        '{"base":4,"exponent":13,"modulus":-0}',
        '{"base":4,"exponent":13,"modulus":"0.0"}',
        '{"base":4,"exponent":13,"modulus":497.5}',
        '{"base":4.5,"exponent":13,"modulus":497}',
        '{"base":4,"exponent":-13,"modulus":497}',
      ]) {
        expectProblem(await post('power', body), 400)
      }
    })
  })

  describe('where work runs is decided by its cost, not its spelling (class 3)', () => {
    const jobs = async (place: 'inline' | 'pool') => {
      const metrics = (await t.app.inject({ url: '/metrics' })).body
      const line = metrics
        .split('\n')
        .find((l) => l.startsWith(`math_jobs_total{operation="power",place="${place}"}`))
      return line ? Number(line.split(' ').at(-1)) : 0
    }
    const digits = (n: number, seed: number) => `${seed}${'7'.repeat(n - 2)}1`

    it('a modular power of 1,000-digit operands runs in the pool; of 20-digit ones, inline', async () => {
      const pool = await jobs('pool')
      const heavy = await post(
        'power',
        JSON.stringify({ base: digits(1000, 1), exponent: digits(1000, 2), modulus: digits(1000, 3) }),
      )
      expect(heavy.statusCode).toBe(200)
      expect(await jobs('pool')).toBe(pool + 1)
      const inline = await jobs('inline')
      expect(
        (
          await post(
            'power',
            JSON.stringify({ base: digits(20, 1), exponent: digits(20, 2), modulus: digits(20, 3) }),
          )
        ).statusCode,
      ).toBe(200)
      expect(await jobs('inline')).toBe(inline + 1)
    })

    it('the base counts: a 10,000-digit base makes a large modular power go to the pool', async () => {
      const pool = await jobs('pool')
      const response = await post(
        'power',
        JSON.stringify({ base: digits(10_000, 4), exponent: digits(120, 5), modulus: digits(120, 6) }),
      )
      expect(response.statusCode).toBe(200)
      expect(await jobs('pool')).toBe(pool + 1)
    })

    it.each([
      ['GET', 'power?base=3.0&exponent=150001e0'],
      ['GET', 'power?base=30e-1&exponent=150002.0'],
      ['POST', '{"base":3.0,"exponent":1.50003e5}'],
      ['POST', '{"base":"3","exponent":"150004.00"}'],
    ])(
      '%s %s: an exact power of ~72,000 digits goes to the pool however it is spelled',
      async (method, what) => {
        const pool = await jobs('pool')
        const response = method === 'GET' ? await get(what) : await post('power', what)
        expect(response.json()).toMatchObject({ exact: true, cached: false })
        expect(await jobs('pool')).toBe(pool + 1)
      },
    )
  })

  it('property: GET, POST string and POST number agree for any value and spelling', async () => {
    const digits = fc.stringMatching(/^[1-9][0-9]{0,24}$/)
    const value = fc.record({
      negative: fc.boolean(),
      digits,
      // value = digits × 10^-scale; scale 0 is an integer, positive scales usually are not.
      scale: fc.integer({ min: 0, max: 4 }),
    })
    const spell = (v: { negative: boolean; digits: string; scale: number }, style: number): string => {
      const sign = v.negative ? '-' : ''
      const { digits: d, scale } = v
      switch (style) {
        case 0:
          return scale === 0 ? `${sign}${d}` : `${sign}${d}e-${scale}`
        case 1: {
          // Plain decimal with the point placed by the scale.
          const padded = d.padStart(scale + 1, '0')
          const cut = padded.length - scale
          return `${sign}${padded.slice(0, cut)}${scale > 0 ? `.${padded.slice(cut)}` : '.0'}`
        }
        default:
          return `${sign}${d}0e-${scale + 1}`
      }
    }
    await fc.assert(
      fc.asyncProperty(
        value,
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: -2, max: 3 }),
        async (operand, styleA, styleB, exponent) => {
          const a = spell(operand, styleA)
          const b = spell(operand, styleB)
          const byGet = pick(await get(`power?base=${encodeURIComponent(a)}&exponent=${exponent}`))
          const byString = pick(await post('power', JSON.stringify({ base: b, exponent: String(exponent) })))
          expect(byString).toEqual(byGet)
          // As a JSON number only where one can carry it: within the safe range.
          const bigValue = BigInt(operand.digits)
          if (bigValue <= BigInt(Number.MAX_SAFE_INTEGER) || operand.scale > 0) {
            const byNumber = await post('power', `{"base":${b},"exponent":${exponent}}`)
            if (byNumber.statusCode === 200) expect(pick(byNumber)).toEqual(byGet)
            else expectProblem(byNumber, 400)
          }
          // Integer-valued inputs are exact unless the exponent is negative; others never are.
          const { digits: d, scale } = operand
          const integerValued = scale === 0 || (d.length > scale && /^0+$/.test(d.slice(d.length - scale)))
          expect(byGet.exact).toBe(integerValued && exponent >= 0)
        },
      ),
      { seed: SEED, numRuns: 60 },
    )
  })
})
