import { badRequest, limitExceeded } from '../../platform/errors.js'

/*
 * Every math operand is parsed here, once, from the text the client sent (a query value, a path segment,
 * a JSON string, or the source text of a JSON number) into one tagged value. Nothing later looks at the
 * spelling again, so "7", "7.0", "+7", "7e0" and 70e-1 all take the same path, limits included.
 *
 * What a spelling means:
 * - The grammar is plain decimal: optional sign, digits with an optional fraction, optional exponent
 *   (`-12`, `+7`, `7.0`, `.5`, `5.`, `1e7`, `2.5E-3`). No spaces, no hex (`0x10`), no `_`, no
 *   Infinity/NaN: those are 400.
 * - A value is an INTEGER when it is mathematically one, however written: `7.0`, `7e0`, `1e7`, `1.5e3`
 *   and `-0` (which is 0) are integers and are computed exactly. Anything else (`7.5`, `1e-3`) is a
 *   DOUBLE: the nearest IEEE-754 double, and results computed from it say `exact: false`.
 * - An integer may have at most MAX_OPERAND_DIGITS digits however written, so `1e1000000000` is refused
 *   (422) before a digit of it is materialised.
 * - A JSON number that is an integer must be a safe integer (|n| ≤ 2^53 − 1): beyond that, clients'
 *   JSON libraries round it before sending, so it is refused (400) with a request to send a string. The
 *   check reads the number's source text, so a JSON 7.0000000000000000001 (which JSON.parse rounds to 7)
 *   is the double it is written as, never the exact integer 7.
 */

export type Operand =
  | {
      readonly kind: 'integer'
      readonly value: bigint
      /** Canonical decimal: no leading zeros, '-' only for negatives. Kept so big values are never re-printed. */
      readonly text: string
    }
  | { readonly kind: 'double'; readonly value: number }

export const MAX_OPERAND_DIGITS = 10_000

/**
 * The decimal grammar, shared by the schemas (as a `pattern`, where it is documented) and the parser.
 * Linear: the integer digits, the fraction and the exponent are separated by characters they cannot
 * contain, so there is one way to match any text (checked by test/hostile/redos.test.ts).
 */
export const DECIMAL_PATTERN = '^([+-]?)(?:([0-9]+)(?:\\.([0-9]*))?|\\.([0-9]+))(?:[eE]([+-]?[0-9]+))?$'
const DECIMAL = new RegExp(DECIMAL_PATTERN)

/**
 * Longest text accepted for an operand (a 400 beyond, like any malformed input). Far above what
 * MAX_OPERAND_DIGITS needs, so that the digit limit — a 422 — decides for every spelling of a value:
 * 20,000 digits written out and `1e20000` are refused alike.
 */
export const MAX_OPERAND_TEXT = 65_536

/** Where an operand came from, for error messages: its name and its JSON pointer in the request. */
export interface OperandSource {
  name: string
  path: string
}

const notDecimal = ({ name, path }: OperandSource) =>
  badRequest(`${name} must be a decimal number such as 12, -3.5 or 1e6`, [
    { path, message: 'must be a decimal number' },
  ])

/** Index just past the last non-'0' character of `digits` (a plain loop: a `0+$` regex is quadratic). */
function withoutTrailingZeros(digits: string): number {
  let end = digits.length
  while (end > 0 && digits.charCodeAt(end - 1) === 48) end--
  return end
}

function firstNonZero(digits: string): number {
  let start = 0
  while (start < digits.length && digits.charCodeAt(start) === 48) start++
  return start
}

interface Decimal {
  negative: boolean
  /** Significant digits, no leading or trailing zeros ('' for zero). */
  significand: string
  /** value = significand × 10^scale; ±Infinity when the exponent itself is absurd. */
  scale: number
}

function decimalOf(text: string, source: OperandSource): Decimal {
  if (text.length > MAX_OPERAND_TEXT) {
    throw badRequest(`${source.name} is longer than ${MAX_OPERAND_TEXT} characters`, [
      { path: source.path, message: `must NOT have more than ${MAX_OPERAND_TEXT} characters` },
    ])
  }
  const match = DECIMAL.exec(text)
  if (!match) throw notDecimal(source)
  const [, sign, whole = '', fractionAfterWhole = '', fractionAlone, exponentText] = match
  const fraction = fractionAlone ?? fractionAfterWhole
  const digits = whole + fraction
  const start = firstNonZero(digits)
  const end = withoutTrailingZeros(digits)
  if (start >= end) return { negative: false, significand: '', scale: 0 }
  // An exponent beyond ±10^15 cannot describe an acceptable operand; Number() keeps its sign and size.
  const exponent = exponentText === undefined ? 0 : Number(exponentText)
  return {
    negative: sign === '-',
    significand: digits.slice(start, end),
    scale: exponent + (digits.length - end) - fraction.length,
  }
}

const tooManyDigits = (source: OperandSource) =>
  limitExceeded(`${source.name} has more than ${MAX_OPERAND_DIGITS} digits, the limit for an operand`, [
    { path: source.path, message: `must have at most ${MAX_OPERAND_DIGITS} digits` },
  ])

function operandOf(decimal: Decimal, text: string, source: OperandSource): Operand {
  const { negative, significand, scale } = decimal
  if (significand === '') return { kind: 'integer', value: 0n, text: '0' }
  if (scale >= 0) {
    if (significand.length + scale > MAX_OPERAND_DIGITS) throw tooManyDigits(source)
    const canonical = `${negative ? '-' : ''}${significand}${'0'.repeat(scale)}`
    return { kind: 'integer', value: BigInt(canonical), text: canonical }
  }
  const value = Number(text)
  if (!Number.isFinite(value)) {
    throw limitExceeded(`${source.name} is beyond the range of an IEEE-754 double (about ±1.8e308)`, [
      { path: source.path, message: 'must be within the range of a double' },
    ])
  }
  return { kind: 'double', value }
}

/** An operand given as text: a query value, a path segment, or a JSON string. */
export function parseOperandText(text: string, source: OperandSource): Operand {
  return operandOf(decimalOf(text, source), text, source)
}

/**
 * An operand given as a JSON number. `sourceText` is the literal as it appeared in the body (see
 * json-numbers.ts); without it, the number's shortest round-trip form is all there is to go on.
 */
export function parseOperandNumber(value: number, sourceText: string | undefined, source: OperandSource) {
  const text = sourceText ?? String(value)
  const decimal = decimalOf(text, source)
  const { significand, scale } = decimal
  const integerDigits = significand === '' ? 0 : scale >= 0 ? significand.length + scale : undefined
  // Up to 15 digits every integer is safe; 16 need a look at the value; more never are.
  if (integerDigits !== undefined && integerDigits > 15) {
    const operand = integerDigits === 16 ? operandOf(decimal, text, source) : undefined
    if (operand === undefined || typeof echoOperand(operand) !== 'number') {
      throw badRequest(
        `${source.name} is an integer beyond 2^53 − 1 as a JSON number, which JSON libraries round; send it as a decimal string ("${source.name}": "…")`,
        [{ path: source.path, message: 'integers beyond 2^53 − 1 must be sent as strings' }],
      )
    }
    return operand
  }
  return operandOf(decimal, text, source)
}

/**
 * How `input` echoes an operand, the same for GET and POST and for every spelling: integers within
 * ±(2^53 − 1) and doubles as JSON numbers, larger integers as decimal strings (so no digit is lost).
 */
export function echoOperand(operand: Operand): number | string {
  if (operand.kind === 'double') return operand.value
  const { value, text } = operand
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= -BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : text
}

/** Number of decimal digits of an integer operand, sign excluded. */
export const digitsOf = (operand: Extract<Operand, { kind: 'integer' }>) =>
  operand.text.length - (operand.text.startsWith('-') ? 1 : 0)
