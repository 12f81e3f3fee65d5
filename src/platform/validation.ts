import { Ajv, type Options } from 'ajv'
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'

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

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : coercing).compile(schema)
