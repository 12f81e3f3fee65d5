import { type Static, type TSchema, Type } from 'typebox'

/** Shapes shared by several modules. Every field carries a description: the schema is the documentation. */

/**
 * Named schemas: each is a component of the OpenAPI document (`#/components/schemas/<name>`), registered
 * with Fastify (app.ts) and referred to by `ref(...)` wherever a route or another schema uses it, so that a
 * generated client gets one named type per shape. The example is type-checked against the schema here and
 * validated against it again by the OpenAPI linters (test/contract).
 */
const namedSchemas = new Map<string, TSchema & { $id: string }>()

export function named<T extends TSchema>(
  name: string,
  schema: T,
  example: Static<T>,
): T & { $id: string; examples: [Static<T>] } {
  if (namedSchemas.has(name)) throw new Error(`two schemas are named ${name}`)
  const component = Object.assign(schema, { $id: name, examples: [example] as [Static<T>] })
  namedSchemas.set(name, component)
  return component
}

/** Every named schema, for app.addSchema. */
export function allNamedSchemas(): readonly (TSchema & { $id: string })[] {
  return [...namedSchemas.values()]
}

/** The named schema a `$ref` names (validation.ts inlines them for Ajv), or undefined. */
export function namedSchema(name: string): (TSchema & { $id: string }) | undefined {
  return namedSchemas.get(name)
}

/** A reference to a named schema, typed as the schema it names. */
export function ref<T extends TSchema & { $id: string }>(schema: T) {
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id))
}

/** Security requirements: an access token, from the OAuth2 password flow or pasted as a bearer token. */
export const AUTHENTICATED: { [scheme: string]: string[] }[] = [{ bearerAuth: [] }, { oauth2: [] }]
/** Security requirement of a public operation: none. */
export const PUBLIC: [] = []

export const Uuid = Type.String({ format: 'uuid', description: 'Identifier (UUID)' })

export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false })
export type IdParams = Static<typeof IdParams>

export const PageQuery = Type.Object(
  {
    page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1, description: 'Page number, from 1' }),
    pageSize: Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Items per page, 1–100' }),
  },
  { additionalProperties: false },
)
export type PageQuery = Static<typeof PageQuery>

/** The paginated list shape every listing endpoint shares: `{items, total, page, pageSize}`. */
export function PageOf<Item extends TSchema & { $id: string }>(
  item: Item,
  noun: string,
  order: string,
  example: Static<Item>,
) {
  const page = Type.Object(
    {
      items: Type.Array(ref(item), { description: `${noun} on this page, ${order}` }),
      total: Type.Integer({ description: `Number of matching ${noun.toLowerCase()} in all pages` }),
      page: Type.Integer({ description: 'This page number, from 1' }),
      pageSize: Type.Integer({ description: 'Page size used' }),
    },
    { description: `A page of ${noun.toLowerCase()}` },
  )
  return named(`${noun}Page`, page, { items: [example], total: 1, page: 1, pageSize: 20 })
}

export const Timestamp = Type.String({ format: 'date-time', description: 'ISO-8601 timestamp (UTC)' })

export const Problem = named(
  'Problem',
  Type.Object(
    {
      type: Type.String({ description: 'Problem type URI; about:blank for plain HTTP status problems' }),
      title: Type.String({ description: 'Short summary of the HTTP status' }),
      status: Type.Integer({ description: 'HTTP status code' }),
      detail: Type.Optional(Type.String({ description: 'What went wrong with this request' })),
      instance: Type.String({ description: 'Path of the request' }),
      requestId: Type.String({ description: 'Request id, also in the X-Request-Id header' }),
      errors: Type.Optional(
        Type.Array(
          Type.Object({
            path: Type.String({ description: 'JSON pointer to the offending input' }),
            message: Type.String({ description: 'What is wrong with it' }),
          }),
          { description: 'Field-level validation errors' },
        ),
      ),
    },
    { description: 'RFC 9457 problem details' },
  ),
  {
    type: 'about:blank',
    title: 'Bad Request',
    status: 400,
    detail: 'The request does not match the schema',
    instance: '/api/v1/tasks',
    requestId: '0f8fad5b-d9cb-469f-a165-70867728950e',
    errors: [{ path: '/body/title', message: 'must NOT have fewer than 1 characters' }],
  },
)

/** Error responses a route documents, each as problem+json. */
export function problemResponses(...statuses: number[]): Record<number, unknown> {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: ERROR_DESCRIPTIONS[status] ?? 'Error',
        content: { 'application/problem+json': { schema: ref(Problem) } },
      },
    ]),
  )
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed request',
  401: 'Missing, invalid, expired or revoked credentials',
  403: 'Not allowed for this role or owner',
  404: 'No such resource',
  409: 'Conflicts with existing data',
  413: 'Too large',
  415: 'Unsupported media type',
  422: 'Outside the service limits',
  429: 'Rate limited',
  503: 'Dependency unavailable or busy',
}
