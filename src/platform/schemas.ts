import { type Static, type TSchema, Type } from 'typebox'

/** Shapes shared by several modules. Every field carries a description: the schema is the documentation. */

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
export function PageOf<Item extends TSchema>(item: Item, noun: string, order: string) {
  return Type.Object(
    {
      items: Type.Array(item, { description: `${noun} on this page, ${order}` }),
      total: Type.Integer({ description: `Number of matching ${noun.toLowerCase()} in all pages` }),
      page: Type.Integer({ description: 'This page number, from 1' }),
      pageSize: Type.Integer({ description: 'Page size used' }),
    },
    { description: `A page of ${noun.toLowerCase()}` },
  )
}

export const Timestamp = Type.String({ format: 'date-time', description: 'ISO-8601 timestamp (UTC)' })

export const Problem = Type.Object(
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
  { $id: 'Problem', description: 'RFC 9457 problem details' },
)

/** Error responses a route documents, each as problem+json. */
export function problemResponses(...statuses: number[]): Record<number, unknown> {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: ERROR_DESCRIPTIONS[status] ?? 'Error',
        content: { 'application/problem+json': { schema: Type.Ref('Problem') } },
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

export function pageOf<T>(items: T[], total: number, query: PageQuery) {
  return { items, total, page: query.page, pageSize: query.pageSize }
}
