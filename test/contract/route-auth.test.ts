import { beforeAll, expect, it } from 'vitest'
import { describeEachBackend, useApp } from '../helpers.js'

/*
 * Which routes authenticate is decided once per route plugin (one hook), and what the document says is
 * decided per operation (`security`): the two must agree for every operation. An operation documented as
 * secured answers 401 to an anonymous request before looking at its input (malformed ids, bodies and
 * queries included), an admin-only one answers 403 to a plain user before looking at it, and a public one
 * never asks for a token, not even when a bad one is sent.
 */

type Operation = { security?: unknown[]; summary?: string }
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD'

/** Every path parameter filled with something no route accepts, and a query no listing accepts. */
const MALFORMED_QUERY = '?page=0&pageSize=0&limit=0&n=x&base=x&exponent=x&q='
const malformedPath = (path: string) => path.replaceAll(/\{[^}]+\}/g, 'not-an-id')
const adminOnly = (operation: Operation) => /\(admin[);]/.test(operation.summary ?? '')

describeEachBackend('every operation authenticates as its document says', (backend) => {
  const t = useApp(backend, { users: ['plain'] })
  const operations: { method: Method; path: string; operation: Operation }[] = []

  beforeAll(async () => {
    const document = (await t.app.inject({ url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, Operation>>
    }
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        operations.push({ method: method.toUpperCase() as Method, path, operation })
        if (method === 'get') operations.push({ method: 'HEAD', path, operation })
      }
    }
  })

  const send = (method: Method, path: string, headers: Record<string, string> = {}) =>
    t.app.inject({
      method,
      url: `${malformedPath(path)}${MALFORMED_QUERY}`,
      headers: {
        ...headers,
        ...(method === 'GET' || method === 'HEAD' ? {} : { 'content-type': 'application/json' }),
      },
      ...(method === 'GET' || method === 'HEAD' || method === 'DELETE' ? {} : { payload: '{"unexpected":' }),
    })

  it('an anonymous request: 401 exactly where a token is documented, whatever its input', async () => {
    expect(operations.length).toBeGreaterThan(30)
    const seen: string[] = []
    for (const { method, path, operation } of operations) {
      const secured = (operation.security ?? []).length > 0
      const status = (await send(method, path)).statusCode
      if (secured ? status !== 401 : status === 401) seen.push(`${method} ${path}: ${status}`)
    }
    expect(seen).toEqual([])
  })

  it('a plain user: 403 on every admin-only operation, whatever its input', async () => {
    const admins = operations.filter(({ operation }) => adminOnly(operation))
    expect(admins.map(({ method, path }) => `${method} ${path}`).sort()).toEqual(
      [
        'DELETE /api/v1/products/{id}',
        'GET /api/v1/events',
        'GET /api/v1/users',
        'HEAD /api/v1/events',
        'HEAD /api/v1/users',
        'PATCH /api/v1/products/{id}',
        'POST /api/v1/products',
        'PUT /api/v1/products/{id}',
        'PUT /api/v1/users/{id}/role',
      ].sort(),
    )
    const seen: string[] = []
    for (const { method, path } of admins) {
      const status = (await send(method, path, t.users.plain.headers)).statusCode
      if (status !== 403) seen.push(`${method} ${path}: ${status}`)
    }
    expect(seen).toEqual([])
  })

  it('public operations and pages ignore a bad token instead of refusing it', async () => {
    const forged = { authorization: 'Bearer not.a.token' }
    const publicOperations = operations.filter(({ operation }) => (operation.security ?? []).length === 0)
    const seen: string[] = []
    for (const { method, path } of publicOperations) {
      const status = (await send(method, path, forged)).statusCode
      if (status === 401 && !path.startsWith('/api/v1/auth/')) seen.push(`${method} ${path}: ${status}`)
    }
    for (const url of ['/openapi.json', '/metrics', '/docs/', '/health', '/api/v1/products']) {
      const status = (await t.app.inject({ url, headers: forged })).statusCode
      if (status !== 200) seen.push(`GET ${url}: ${status}`)
    }
    expect(seen).toEqual([])
  })
})
