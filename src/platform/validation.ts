import { Ajv, type Options, type ValidateFunction } from 'ajv'
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats'
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify'
import { badRequest, type FieldError } from './errors.js'

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
    ? refusingUnacceptable(strict.compile(schema), false)
    : refusingUnacceptable(coercing.compile(schema), true)

const utf8 = new TextDecoder('utf-8', { fatal: true })

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
      text = utf8.decode(body as Buffer)
    } catch {
      done(badRequest('The body is not valid UTF-8'), undefined)
      return
    }
    parseJson(request, text, done)
  })
}
