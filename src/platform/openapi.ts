import type { SwaggerOptions } from '@fastify/swagger'
import type { FastifySchema } from 'fastify'

/**
 * What the OpenAPI document says beyond the routes' own schemas: info, servers, security schemes and tags.
 * The served /openapi.json is linted in CI (test/contract/openapi-lint.test.ts) and is what the checked-in
 * client types (web/src/api-schema.d.ts) are generated from.
 */

export const API_TAGS = [
  {
    name: 'auth',
    description: 'Accounts, the OAuth2 token endpoint, login, refresh-token rotation and logout',
  },
  { name: 'users', description: 'Reading and changing accounts: yours, or (admins) everyone’s' },
  {
    name: 'math',
    description: 'Fibonacci, factorial and power, exact for integers of any size within the service limits',
  },
  { name: 'history', description: 'The math calls each user made' },
  { name: 'products', description: 'A product catalogue: public reads, admin writes' },
  { name: 'tasks', description: 'Per-user task lists with filters, sorting and statistics' },
  { name: 'files', description: 'Per-user file uploads, checked by content, with quotas' },
  { name: 'events', description: 'The transactional outbox: every change the service made (admins)' },
  { name: 'operations', description: 'Health probes for orchestrators and load balancers' },
]

type OpenApiDocument = NonNullable<Extract<SwaggerOptions, { openapi?: unknown }>['openapi']>

export function openApiDocument(): OpenApiDocument {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Math API',
      version: '1.0.0',
      description:
        'Exact big-number math with per-user history, products, tasks and files. Errors are RFC 9457 problem ' +
        'documents (application/problem+json). Authenticate with the OAuth2 password flow at ' +
        '/api/v1/auth/token (or POST /api/v1/auth/login) and send the access token as a bearer token.',
      contact: { name: 'Math API maintainers' },
      license: { name: 'MIT', identifier: 'MIT' },
    },
    // Relative: the API is wherever this document was fetched from (a replica, a proxy, localhost).
    servers: [{ url: '/', description: 'The server that serves this document' }],
    tags: API_TAGS,
    components: {
      securitySchemes: {
        oauth2: {
          type: 'oauth2',
          description: 'OAuth2 password flow; refresh with grant_type=refresh_token at the same endpoint',
          flows: {
            password: { tokenUrl: '/api/v1/auth/token', refreshUrl: '/api/v1/auth/token', scopes: {} },
          },
        },
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'An access token from /api/v1/auth/token or /api/v1/auth/login',
        },
      },
    },
  }
}

/** Shared schemas appear under components.schemas by their own name (their $id), not def-0, def-1, …. */
export const refResolver = {
  buildLocalReference: (json: { $id?: unknown }, _baseUri: unknown, _fragment: unknown, i: number) =>
    typeof json.$id === 'string' ? json.$id : `def-${i}`,
}

/**
 * A query parameter with a default may be left out by the client: the route's schema lists it as required
 * because validation fills it in (so the handler's type has it), but the document must not make clients
 * send it.
 */
export function optionalWhenDefaulted({ schema, url }: { schema: FastifySchema; url: string }) {
  const query = schema?.querystring as {
    properties?: Record<string, { default?: unknown }>
    required?: string[]
  }
  if (!query?.properties || !query.required) return { schema, url }
  const properties = query.properties
  const required = query.required.filter((name) => properties[name]?.default === undefined)
  return { schema: { ...schema, querystring: { ...query, required } }, url }
}
