import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv'
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats'
import type { FastifyInstance, FastifyRequest, FastifySchemaCompiler } from 'fastify'
import secureJson from 'secure-json-parse'
import { badRequest, type FieldError } from './errors.js'
import { namedSchema } from './schemas.js'

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: FormatsPlugin }).default ??
  addFormatsModule) as FormatsPlugin

const shared: Options = { removeAdditional: false, useDefaults: true, allErrors: true }

/**
 * Query strings and path parameters are text, so they are coerced to the schema's types ("5" → 5).
 * JSON bodies are not: a string where a number belongs is the client's mistake and gets a 400.
 */
const coercing = addFormats(new Ajv({ ...shared, coerceTypes: 'array' }))
const strict = addFormats(new Ajv({ ...shared, coerceTypes: false }))

/*
 * Length before pattern. With allErrors Ajv evaluates every keyword of a string even after maxLength has
 * failed, so a 1 MB string would still meet the pattern. Each `pattern` is therefore compiled as this
 * keyword, which runs the expression only on a string within the same schema's maxLength (an over-long
 * one already has its maxLength error). Patterns must be linear as well (test/hostile/redos.test.ts).
 */
const GATED_PATTERN = 'x-length-gated-pattern'
interface GatedPattern {
  pattern: string
  maxLength?: number
}
for (const ajv of [coercing, strict]) {
  ajv.addKeyword({
    keyword: GATED_PATTERN,
    type: 'string',
    schemaType: 'object',
    errors: true,
    compile({ pattern, maxLength }: GatedPattern) {
      // The flags Ajv gives `pattern` itself.
      const expression = new RegExp(pattern, 'u')
      const validate = (data: string): boolean => {
        if ((maxLength !== undefined && data.length > maxLength) || expression.test(data)) return true
        validate.errors = [
          { keyword: 'pattern', message: `must match pattern "${pattern}"`, params: { pattern } },
        ]
        return false
      }
      validate.errors = [] as Partial<ErrorObject>[]
      return validate
    },
  })
}

/**
 * A copy of `schema` whose string patterns are length-gated (the original keeps documenting them) and
 * whose references to named schemas (`ref(...)`, schemas.ts) are replaced by the schemas they name, without
 * their `$id` and examples: each route's validator stands alone.
 */
function gatePatterns(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(gatePatterns)
  if (schema === null || typeof schema !== 'object') return schema
  const { $ref } = schema as { $ref?: unknown }
  const target = typeof $ref === 'string' ? namedSchema($ref) : undefined
  if (target) {
    const { $id: _id, examples: _examples, ...inline } = target as unknown as Record<string, unknown>
    const { $ref: _ref, ...siblings } = schema as Record<string, unknown>
    return gatePatterns({ ...inline, ...siblings })
  }
  const copy: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(schema)) copy[key] = gatePatterns(value)
  const { pattern, maxLength } = copy
  if (typeof pattern === 'string') {
    delete copy.pattern
    copy[GATED_PATTERN] = { pattern, ...(typeof maxLength === 'number' ? { maxLength } : {}) }
  }
  return copy
}

/**
 * Where a valid input still holds a value no request legitimately sends, its path and why; else undefined.
 * - A NUL character in any string: PostgreSQL refuses it in text (a 500 on `?name=%00`), and SQLite's
 *   string functions stop at it (so a search for "x\0y" matched everything containing "x").
 * - In query strings and path parameters, a number coerced to Infinity ("Infinity", "1e400"): Ajv then
 *   skips minimum/maximum, which it checks only for finite numbers, so `?pageSize=Infinity` reached SQL.
 */
function unacceptable(data: unknown, coerced: boolean, path = ''): FieldError | undefined {
  if (typeof data === 'string')
    return data.includes('\u0000')
      ? { path: path || '/', message: 'must not contain NUL characters' }
      : undefined
  if (typeof data === 'number')
    return coerced && !Number.isFinite(data)
      ? { path: path || '/', message: 'must be a finite number' }
      : undefined
  if (data === null || typeof data !== 'object') return undefined
  for (const [key, value] of Object.entries(data)) {
    const found = unacceptable(value, coerced, `${path}/${key}`)
    if (found) return found
  }
  return undefined
}

function refusingUnacceptable(validate: ValidateFunction, coerced: boolean): ValidateFunction {
  const checked = ((data: unknown) => {
    const valid = validate(data)
    checked.errors = validate.errors
    if (!valid) return false
    const found = unacceptable(data, coerced)
    if (!found) return true
    checked.errors = [
      { instancePath: found.path, schemaPath: '#', keyword: 'type', params: {}, message: found.message },
    ]
    return false
  }) as ValidateFunction
  return checked
}

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  httpPart === 'body'
    ? refusingUnacceptable(strict.compile(gatePatterns(schema) as object), false)
    : refusingUnacceptable(coercing.compile(gatePatterns(schema) as object), true)

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Source texts of JSON numbers, by the object or array holding them and their key there. */
const numberTexts = new WeakMap<object, Map<string, string>>()

function recordNumberText(this: unknown, key: string, value: unknown, context?: { source?: string }) {
  if (typeof value === 'number' && typeof context?.source === 'string' && typeof this === 'object' && this) {
    const texts = numberTexts.get(this) ?? new Map<string, string>()
    numberTexts.set(this, texts)
    texts.set(key, context.source)
  }
  return value
}

/**
 * The literal text of the JSON number at `holder[key]`, as the client wrote it (`7.0`, `1e3`,
 * `12345678901234567891`), for a body parsed by a route that keeps number texts; undefined otherwise.
 */
export function jsonNumberText(holder: unknown, key: string): string | undefined {
  return typeof holder === 'object' && holder ? numberTexts.get(holder)?.get(key) : undefined
}

type JsonParser = (
  request: FastifyRequest,
  body: string | Buffer,
  done: (error: Error | null, body?: unknown) => void,
) => void

function decodeUtf8(body: Buffer): string {
  try {
    return utf8.decode(body)
  } catch {
    throw badRequest('The body is not valid UTF-8')
  }
}

const SECURE = { protoAction: 'error', constructorAction: 'error' } as const
/** Bodies whose number texts are worth keeping: a flat object of a few scalar fields (the math inputs). */
const MAX_FIELDS_WITH_NUMBER_TEXT = 8

function isFlatScalarObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const entries = Object.values(value)
  return (
    entries.length <= MAX_FIELDS_WITH_NUMBER_TEXT &&
    entries.every((field) => typeof field === 'number' || typeof field === 'string')
  )
}

/**
 * JSON that also records each number's source text (JSON.parse source text access, Node ≥ 21), for the
 * routes whose numbers must not be rounded before they are read. A reviver costs ~1.5 µs per value (a
 * 64 KiB array of numbers took 50 ms of CPU on the CI machine), so the body is parsed plainly first and
 * read again with the reviver only when it is the small flat object those routes accept; any other shape
 * fails their schema anyway.
 */
const parseJsonKeepingNumberText: JsonParser = (_request, body, done) => {
  let value: unknown
  try {
    const text = decodeUtf8(body as Buffer)
    if (text.length === 0) throw badRequest('The body is empty; send a JSON object')
    try {
      value = secureJson.parse(text, null, SECURE)
      if (isFlatScalarObject(value) && Object.values(value).some((field) => typeof field === 'number')) {
        value = secureJson.parse(text, recordNumberText, SECURE)
      }
    } catch {
      throw badRequest('The body is not valid JSON')
    }
  } catch (error) {
    done(error as Error, undefined)
    return
  }
  done(null, value)
}

/** Replaces the JSON parser of `app` (a route plugin) by one that keeps number source texts. */
export function keepJsonNumberText(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseJsonKeepingNumberText)
}

/**
 * Request bodies are JSON in UTF-8 (RFC 8259 §8.1) or, where a route registers it, a form or multipart.
 * Fastify's defaults decoded invalid UTF-8 into U+FFFD and stored it (a 201 for a body that is not JSON),
 * and parsed text/plain into a string that then failed validation with 400 instead of the contract's 415.
 */
export function registerBodyParsers(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string
    try {
      text = decodeUtf8(body as Buffer)
    } catch (error) {
      done(error as Error, undefined)
      return
    }
    parseJson(request, text, done)
  })
}
