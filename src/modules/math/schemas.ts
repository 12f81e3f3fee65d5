import { Type } from 'typebox'

const N = Type.Integer({ minimum: 0, description: 'A non-negative integer' })

const DECIMAL = '^\\s*[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?\\s*$'

/** Query values stay strings, so an integer beyond 2^53 keeps every digit. */
const DecimalString = (description: string) =>
  Type.String({ maxLength: 10_000, pattern: DECIMAL, description: `${description}, in decimal` })

/** JSON number, or a decimal string for integers beyond 2^53 (exactness matters here). */
const NumberLike = (description: string) =>
  Type.Union([Type.Number(), Type.String({ maxLength: 10_000, pattern: DECIMAL })], {
    description: `${description}: a number, or a decimal string (use one for integers beyond 2^53)`,
  })

export const NParams = Type.Object({ n: N }, { additionalProperties: false })
export const NBody = Type.Object({ n: N }, { additionalProperties: false, description: 'The input n' })

export const PowerQuery = Type.Object(
  {
    base: DecimalString('Base'),
    exponent: DecimalString('Exponent'),
    modulus: Type.Optional(DecimalString('Modulus, an integer >= 1 (integer base and exponent >= 0 only)')),
  },
  { additionalProperties: false },
)
export const PowerBody = Type.Object(
  {
    base: NumberLike('Base'),
    exponent: NumberLike('Exponent'),
    modulus: Type.Optional(NumberLike('Modulus, an integer >= 1 (integer base and exponent >= 0 only)')),
  },
  { additionalProperties: false, description: 'base^exponent, optionally mod modulus' },
)

export const MathResult = Type.Object(
  {
    operation: Type.Union([Type.Literal('fibonacci'), Type.Literal('factorial'), Type.Literal('power')], {
      description: 'Which operation',
    }),
    input: Type.Record(Type.String(), Type.Union([Type.Number(), Type.String()]), {
      description: 'The input as received',
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
)
