import { type Static, Type } from 'typebox'
import { named } from '../../platform/schemas.js'
import { DECIMAL_PATTERN, MAX_OPERAND_DIGITS, MAX_OPERAND_TEXT } from './operands.js'
import { Operation } from './operation.js'

/*
 * Operands are validated here for shape only (a number, or text in the decimal grammar); what they mean is
 * decided once, by operands.ts, whatever the spelling. See README "Math" for the rules.
 */

const SPELLING = `Decimal notation: optional sign, digits, optional fraction and exponent (12, -3.5, 7.0, 1e6). A value that is mathematically an integer (7.0, 1e6) is an integer, computed exactly; at most ${MAX_OPERAND_DIGITS.toLocaleString('en')} digits.`

/** Operand text in a query string or path segment: kept as text, so an integer of any size keeps every digit. */
const DecimalText = (description: string) =>
  Type.String({
    minLength: 1,
    maxLength: MAX_OPERAND_TEXT,
    pattern: DECIMAL_PATTERN,
    description: `${description}. ${SPELLING}`,
  })

/** JSON number, or a decimal string (needed for integers beyond 2^53 − 1, which are refused as numbers). */
const NumberOrDecimalText = (description: string) =>
  Type.Union(
    [
      Type.Number({ description: 'A JSON number; an integer must be within ±(2^53 − 1)' }),
      Type.String({
        minLength: 1,
        maxLength: MAX_OPERAND_TEXT,
        pattern: DECIMAL_PATTERN,
        description: 'A decimal string, for any size of integer',
      }),
    ],
    { description: `${description}. ${SPELLING}` },
  )

const N_DESCRIPTION = 'n, an integer ≥ 0'

export const NParams = Type.Object({ n: DecimalText(N_DESCRIPTION) }, { additionalProperties: false })
export const NBody = named(
  'MathN',
  Type.Object(
    { n: NumberOrDecimalText(N_DESCRIPTION) },
    { additionalProperties: false, description: 'The input n' },
  ),
  { n: 100 },
)

const MODULUS = 'Modulus, an integer ≥ 1 (with an integer base and an integer exponent ≥ 0)'

export const PowerQuery = Type.Object(
  {
    base: DecimalText('Base'),
    exponent: DecimalText('Exponent'),
    modulus: Type.Optional(DecimalText(MODULUS)),
  },
  { additionalProperties: false },
)
export const PowerBody = named(
  'PowerInput',
  Type.Object(
    {
      base: NumberOrDecimalText('Base'),
      exponent: NumberOrDecimalText('Exponent'),
      modulus: Type.Optional(NumberOrDecimalText(MODULUS)),
    },
    { additionalProperties: false, description: 'base^exponent, optionally mod modulus' },
  ),
  { base: 2, exponent: 100, modulus: '1000000007' },
)

export const MathResult = named(
  'MathResult',
  Type.Object(
    {
      operation: Type.Union(Operation.anyOf, { description: 'Which operation' }),
      input: Type.Record(Type.String(), Type.Union([Type.Number(), Type.String()]), {
        description:
          'The operands as understood, the same whichever form or spelling was sent: integers within ±(2^53 − 1) and non-integers as JSON numbers, larger integers as decimal strings',
      }),
      result: Type.String({
        description: 'The result in decimal: exact for integers, shortest round-trip for doubles',
      }),
      exact: Type.Boolean({ description: 'False when the result is an IEEE double' }),
      digits: Type.Integer({ description: 'Decimal digits in the result (without sign)' }),
      cached: Type.Boolean({ description: 'True when this request was served without computing' }),
      computeMs: Type.Number({
        description:
          'Milliseconds the computation took, including conversion to decimal (for a cached result, when it was computed)',
      }),
    },
    { description: 'A math result' },
  ),
  {
    operation: 'power',
    input: { base: 2, exponent: 100, modulus: 1000000007 },
    result: '976371285',
    exact: true,
    digits: 9,
    cached: false,
    computeMs: 0.012,
  },
)
export type MathResult = Static<typeof MathResult>
