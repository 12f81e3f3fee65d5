import fc from 'fast-check'

/*
 * A small JSON-Schema → fast-check bridge for the subset /openapi.json uses (TypeBox output: type, anyOf,
 * enum, const, properties/required/additionalProperties, minProperties, items, min/max, minLength/maxLength,
 * pattern, format). `validValue` draws values the schema accepts; `hostileValue` draws the values a
 * schema-violating or malicious client would send.
 */
export type JsonSchema = Record<string, unknown> & {
  type?: string | string[]
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  enum?: unknown[]
  const?: unknown
  properties?: Record<string, JsonSchema>
  required?: string[]
  additionalProperties?: boolean | JsonSchema
  minProperties?: number
  items?: JsonSchema
  minimum?: number
  maximum?: number
  minLength?: number
  maxLength?: number
  pattern?: string
  format?: string
}

/** Per-field overrides, e.g. to keep valid math inputs small: legitimate huge work is not the point here. */
export type Hints = Record<string, fc.Arbitrary<unknown>>

const LONG = 'x'.repeat(5000)
const VERY_LONG = 'y'.repeat(60_000)

/** Values that break types, ranges and assumptions: the usual suspects, by category. */
export const HOSTILE_STRINGS = [
  '',
  ' ',
  '\t\n',
  'NaN',
  'Infinity',
  '-Infinity',
  'null',
  'undefined',
  'true',
  '-1',
  '-0',
  '0.5',
  '1e999',
  '-1e999',
  '9007199254740993',
  '123456789012345678901234567890123456789',
  '0x1f',
  '1_000',
  "' OR '1'='1",
  "'; DROP TABLE users; --",
  '" OR ""="',
  '1; SELECT * FROM users',
  "admin'--",
  '%',
  '_',
  '%_%',
  '\\',
  '\\%',
  '%00',
  '\u0000',
  '../../../../etc/passwd',
  '..\\..\\..\\windows\\win.ini',
  '..%2F..%2Fetc%2Fpasswd',
  '/etc/passwd',
  'C:\\boot.ini',
  '\u202egnp.exe',
  '\u0430dmin', // Cyrillic а
  'ａｄｍｉｎ', // fullwidth
  'ad\u200dmin', // zero-width joiner
  'e\u0301', // combining acute
  '\ud83d\ude00'.repeat(50),
  '\ud800', // lone surrogate
  '<script>alert(1)</script>',
  '\u0024{7*7}{{7*7}}',
  '{"$ne":null}',
  '__proto__',
  'constructor',
  'prototype',
  LONG,
]

export const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'role',
  'isAdmin',
  'id',
  'ownerId',
  '$where',
  "a'b",
  '',
  'x'.repeat(300),
]

export const hostileScalar: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      null,
      true,
      false,
      0,
      -1,
      -0.5,
      1.5,
      0.001,
      1e308,
      -1e308,
      2 ** 31,
      2 ** 53 + 2,
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
    ),
  },
  { weight: 1, arbitrary: fc.constant(VERY_LONG) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
)

export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: hostileScalar },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      [],
      {},
      [1, 2],
      ['a'],
      { a: { b: { c: { d: [] } } } },
      { $gt: '' },
      { __proto__: { admin: true } },
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
)

function typesOf(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type
  return schema.type ? [schema.type] : []
}

function stringArbitrary(schema: JsonSchema): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0
  const maxLength = Math.min(schema.maxLength ?? 60, Math.max(minLength, 60))
  const inLength = (text: string) => text.length >= minLength && text.length <= (schema.maxLength ?? Infinity)
  switch (schema.format) {
    case 'uuid':
      return fc.uuid()
    case 'date-time':
      return fc
        .date({
          min: new Date('2000-01-01T00:00:00Z'),
          max: new Date('2099-12-31T00:00:00Z'),
          noInvalidDate: true,
        })
        .map((date) => date.toISOString())
    case 'email':
      return fc
        .tuple(fc.stringMatching(/^[a-z0-9]{1,20}$/), fc.constantFrom('example.com', 'example.org'))
        .map(([local, domain]) => `${local}@${domain}`)
    default:
      break
  }
  if (schema.pattern) {
    const pattern = new RegExp(schema.pattern, 'u')
    // An anchored pattern describes the whole string; an unanchored one only says what it must contain.
    if (schema.pattern.startsWith('^')) return fc.stringMatching(pattern).filter(inLength)
    return fc
      .string({ unit: 'grapheme', minLength, maxLength })
      .filter((text) => pattern.test(text) && inLength(text))
  }
  return fc.oneof(
    fc.string({ unit: 'grapheme-ascii', minLength, maxLength }),
    fc.string({ unit: 'binary', minLength, maxLength }),
  )
}

function numberArbitrary(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const min = schema.minimum ?? -1_000_000
  const max = Math.min(schema.maximum ?? 1_000_000, min + 1_000_000)
  const integers = fc.integer({ min: Math.ceil(min), max: Math.floor(max) })
  if (integer) return integers
  // Mostly "money-like" values (2 decimals), sometimes any double in range.
  return fc.oneof(
    fc.integer({ min: Math.ceil(min * 100), max: Math.floor(max * 100) }).map((cents) => cents / 100),
    fc.double({ min, max, noNaN: true, noDefaultInfinity: true }),
  )
}

/** Values the schema accepts (up to formats/patterns the generic code cannot express exactly). */
export function validValue(schema: JsonSchema, hints: Hints = {}, name = ''): fc.Arbitrary<unknown> {
  const hinted = hints[name]
  if (hinted) return hinted
  if (schema.const !== undefined) return fc.constant(schema.const)
  if (schema.enum) return fc.constantFrom(...schema.enum)
  const alternatives = schema.anyOf ?? schema.oneOf
  if (alternatives)
    return fc.oneof(...alternatives.map((alternative) => validValue(alternative, hints, name)))
  const types = typesOf(schema)
  if (types.length > 1) return fc.oneof(...types.map((type) => validValue({ ...schema, type }, hints, name)))
  switch (types[0]) {
    case 'string':
      return stringArbitrary(schema)
    case 'integer':
      return numberArbitrary(schema, true)
    case 'number':
      return numberArbitrary(schema, false)
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'array':
      return fc.array(validValue(schema.items ?? {}, hints, name), { maxLength: 3 })
    case 'object':
      return objectArbitrary(schema, hints)
    default:
      return fc.jsonValue({ maxDepth: 2 })
  }
}

function objectArbitrary(schema: JsonSchema, hints: Hints): fc.Arbitrary<Record<string, unknown>> {
  const properties = schema.properties ?? {}
  const model = Object.fromEntries(
    Object.entries(properties).map(([key, property]) => [key, validValue(property, hints, key)]),
  )
  const record = fc.record(model, { requiredKeys: (schema.required ?? []) as never[] }) as fc.Arbitrary<
    Record<string, unknown>
  >
  const minProperties = schema.minProperties ?? 0
  return minProperties > 0 ? record.filter((value) => Object.keys(value).length >= minProperties) : record
}

export type Mutation = 'replace' | 'delete' | 'extra' | 'whole' | 'duplicate'

/** A valid object with one thing wrong: a field replaced, a required field dropped, an extra field, or not an object at all. */
export function mutatedObject(schema: JsonSchema, hints: Hints = {}): fc.Arbitrary<unknown> {
  const keys = Object.keys(schema.properties ?? {})
  return fc
    .tuple(
      objectArbitrary(schema, hints),
      fc.constantFrom<Mutation>('replace', 'replace', 'delete', 'extra', 'whole'),
      fc.nat(),
      hostileValue,
      fc.oneof(fc.constantFrom(...HOSTILE_KEYS), fc.string({ maxLength: 10 })),
    )
    .map(([value, mutation, index, hostile, extraKey]) => {
      const copy: Record<string, unknown> = { ...value }
      const key = keys.length > 0 ? keys[index % keys.length]! : undefined
      switch (mutation) {
        case 'replace':
          if (key === undefined) return hostile
          copy[key] = hostile
          return copy
        case 'delete':
          if (key !== undefined) delete copy[key]
          return copy
        case 'extra':
          Object.defineProperty(copy, extraKey, {
            value: hostile,
            enumerable: true,
            configurable: true,
            writable: true,
          })
          return copy
        default:
          return hostile
      }
    })
}

/** A multipart/form-data body with one file part. */
export function multipart(
  field: string,
  filename: string,
  content: Buffer,
  partType = 'application/octet-stream',
): { headers: Record<string, string>; body: Buffer } {
  const boundary = '----hostile-boundary-7d93'
  const safeName = filename.replace(/["\r\n]/g, '_')
  const body = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${safeName}"\r\n` +
        `Content-Type: ${partType}\r\n\r\n`,
    ),
    content,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ])
  return { headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body }
}
