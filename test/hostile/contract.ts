import { Ajv, type ValidateFunction } from 'ajv'
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats'
import type { JsonSchema } from './arbitraries.js'

const addFormats = ((addFormatsModule as unknown as { default?: FormatsPlugin }).default ??
  addFormatsModule) as FormatsPlugin

export interface OpenApiOperation {
  operationId?: string
  parameters?: { in: 'path' | 'query' | 'header'; name: string; required?: boolean; schema: JsonSchema }[]
  requestBody?: { required?: boolean; content: Record<string, { schema: JsonSchema }> }
  responses: Record<string, { content?: Record<string, { schema: JsonSchema }> }>
  security?: unknown[]
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>
  components?: { schemas?: Record<string, JsonSchema> }
}

export interface Operation {
  method: string
  path: string
  id: string
  spec: OpenApiOperation
}

export function operationsOf(document: OpenApiDocument): Operation[] {
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, spec]) => ({
      method: method.toUpperCase(),
      path,
      id: spec.operationId ?? `${method} ${path}`,
      spec,
    })),
  )
}

/** Inlines `#/components/schemas/X` references, so each schema compiles (or generates values) on its own. */
export function inline(schema: unknown, components: Record<string, JsonSchema>): unknown {
  if (Array.isArray(schema)) return schema.map((item) => inline(item, components))
  if (schema === null || typeof schema !== 'object') return schema
  const ref = (schema as { $ref?: unknown }).$ref
  if (typeof ref === 'string' && ref.startsWith('#/components/schemas/')) {
    const target = components[ref.slice('#/components/schemas/'.length)]
    if (!target) throw new Error(`unresolved ${ref}`)
    return inline(target, components)
  }
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [
      key,
      key === '$id' ? undefined : inline(value, components),
    ]),
  )
}

export interface CheckedResponse {
  statusCode: number
  headers: Record<string, unknown>
  body: string
}

const LEAKS = /\bat [^\n]*\.(ts|js):\d+|SQLITE_|syntax error|relation "|stack|node_modules/i

/**
 * The contract every response must keep, whatever the input: no 5xx but 503, X-Request-Id on every
 * response, errors as problem+json carrying that id, documented 2xx bodies matching their schema.
 * Returns a list of violations (empty when the response is fine).
 */
export function contractChecker(document: OpenApiDocument) {
  const ajv = addFormats(new Ajv({ strict: false, allErrors: true, validateFormats: true }))
  const components = document.components?.schemas ?? {}
  const cache = new Map<unknown, ValidateFunction>()
  const compile = (schema: JsonSchema) => {
    let validate = cache.get(schema)
    if (!validate) {
      validate = ajv.compile(inline(schema, components) as object)
      cache.set(schema, validate)
    }
    return validate
  }
  const problemValidator = compile({ $ref: '#/components/schemas/Problem' })

  return (operation: Operation | undefined, response: CheckedResponse): string[] => {
    const problems: string[] = []
    const status = response.statusCode
    const requestId = response.headers['x-request-id']
    const contentType = String(response.headers['content-type'] ?? '')
    if (status >= 500 && status !== 503) problems.push(`status ${status}`)
    if (typeof requestId !== 'string' || requestId.length === 0) problems.push('no X-Request-Id')
    if (LEAKS.test(response.body)) problems.push('response leaks internals')
    const documented = operation?.spec.responses[String(status)]
    const documentedJson = documented?.content?.['application/json']?.schema
    if (status >= 400 && !documentedJson) {
      if (!contentType.startsWith('application/problem+json')) {
        problems.push(`error ${status} with content-type ${contentType}`)
        return problems
      }
      let body: { status?: unknown; requestId?: unknown }
      try {
        body = JSON.parse(response.body)
      } catch {
        problems.push('problem body is not JSON')
        return problems
      }
      if (!problemValidator(body))
        problems.push(`not a problem document: ${ajv.errorsText(problemValidator.errors)}`)
      if (body.status !== status) problems.push(`problem status ${body.status} ≠ ${status}`)
      if (body.requestId !== requestId) problems.push('problem requestId ≠ X-Request-Id')
      return problems
    }
    if (!operation) return problems
    if (status < 400 && status !== 304 && !documented) problems.push(`undocumented status ${status}`)
    if (documentedJson && status !== 204) {
      if (!contentType.startsWith('application/json')) {
        problems.push(`${status} with content-type ${contentType}, documented application/json`)
        return problems
      }
      const validate = compile(documentedJson)
      let body: unknown
      try {
        body = JSON.parse(response.body)
      } catch {
        problems.push('body is not JSON')
        return problems
      }
      if (!validate(body)) problems.push(`body breaks its schema: ${ajv.errorsText(validate.errors)}`)
    }
    return problems
  }
}
