import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats'
import createClient, { type Middleware } from 'openapi-fetch'
import { beforeAll, expect, it } from 'vitest'
import type { paths } from '../../web/src/api-schema.js'
import { ADMIN, describeEachBackend, useApp } from '../helpers.js'

/*
 * The contract as a client sees it: every operation of the served /openapi.json is driven through the
 * openapi-fetch client typed by the checked-in generated types (web/src/api-schema.d.ts), against a live
 * server over real HTTP, and every answer is checked against the document: its status must be one the
 * operation documents, its media type one that status documents, and its body must validate (Ajv) against
 * that schema. Successes and the documented errors are both exercised; at the end every operation in the
 * document must have been called.
 */

const addFormats = ((addFormatsModule as unknown as { default?: FormatsPlugin }).default ??
  addFormatsModule) as FormatsPlugin

type Json = Record<string, unknown>
interface Operation {
  operationId: string
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>
}

/** The document's local references (#/components/…) pointed at the document registered under `id`. */
function anchored(schema: unknown, id: string): unknown {
  if (Array.isArray(schema)) return schema.map((item) => anchored(item, id))
  if (schema === null || typeof schema !== 'object') return schema
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [
      key,
      key === '$ref' && typeof value === 'string' && value.startsWith('#')
        ? `${id}${value}`
        : anchored(value, id),
    ]),
  )
}

describeEachBackend(
  'contract: every operation through the generated client, validated against the document',
  (backend) => {
    const t = useApp(backend)
    let baseUrl: string
    let document: { paths: Record<string, Record<string, Operation>>; components: Json }
    const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }))
    const validators = new Map<string, ValidateFunction>()
    /** operationId → statuses seen. */
    const exercised = new Map<string, Set<number>>()
    const violations: string[] = []

    const checkAgainstDocument: Middleware = {
      async onResponse({ request, response, schemaPath }) {
        const operation = document.paths[schemaPath]?.[request.method.toLowerCase()]
        const where = `${request.method} ${schemaPath} → ${response.status}`
        if (!operation) {
          violations.push(`${where}: no such operation in the document`)
          return
        }
        const seen = exercised.get(operation.operationId) ?? new Set<number>()
        seen.add(response.status)
        exercised.set(operation.operationId, seen)
        const documented = operation.responses[String(response.status)]
        if (!documented) {
          violations.push(`${where}: status not documented (${Object.keys(operation.responses).join(', ')})`)
          return
        }
        const mediaType = response.headers.get('content-type')?.split(';')[0]?.trim()
        if (!documented.content) {
          if (mediaType && (await response.clone().text()).length > 0)
            violations.push(`${where}: a body (${mediaType}) where the document says none`)
          return
        }
        const content = mediaType ? documented.content[mediaType] : undefined
        if (!content) {
          violations.push(
            `${where}: media type ${mediaType} not documented (${Object.keys(documented.content)})`,
          )
          return
        }
        if (!mediaType?.endsWith('json')) return // bytes: the media type is what the document says of them
        const key = `${operation.operationId} ${response.status} ${mediaType}`
        let validate = validators.get(key)
        if (!validate) {
          validate = ajv.compile(anchored(content.schema, 'openapi.json') as object)
          validators.set(key, validate)
        }
        const body = await response.clone().json()
        if (!validate(body)) violations.push(`${where}: ${ajv.errorsText(validate.errors)}`)
      },
    }

    beforeAll(async () => {
      baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' })
      document = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as typeof document
      ajv.addSchema({ $id: 'openapi.json', components: anchored(document.components, 'openapi.json') })
    })

    const client = () => {
      const api = createClient<paths>({ baseUrl })
      api.use(checkAgainstDocument)
      return api
    }
    const as = (token: string) => {
      const api = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${token}` } })
      api.use(checkAgainstDocument)
      return api
    }

    it('answers every operation as the document says', async () => {
      const anyone = client()
      const nobody = as('not-a-token')

      // --- operations
      expect((await anyone.GET('/health/live')).response.status).toBe(200)
      expect((await anyone.GET('/health/ready')).data?.status).toBe('ok')
      expect((await anyone.GET('/health')).response.status).toBe(200)

      // --- auth
      const registered = await anyone.POST('/api/v1/auth/register', {
        params: { header: { 'idempotency-key': 'contract-register-ada' } },
        body: { username: 'ada', email: 'ada@example.com', password: 'ada-password-123' },
      })
      expect(registered.response.status).toBe(201)
      const adaId = registered.data!.id
      const duplicate = await anyone.POST('/api/v1/auth/register', {
        body: { username: 'ADA', email: 'other@example.com', password: 'ada-password-123' },
      })
      expect(duplicate.response.status).toBe(409)
      expect(
        (await anyone.POST('/api/v1/auth/register', { body: { username: 'x', email: 'no', password: '' } }))
          .response.status,
      ).toBe(400)

      const form = (fields: Record<string, string>) => ({
        body: fields as never,
        bodySerializer: (body: Record<string, string>) => new URLSearchParams(body).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      })
      const byForm = await anyone.POST(
        '/api/v1/auth/token',
        form({ grant_type: 'password', username: 'ada', password: 'ada-password-123' }),
      )
      expect(byForm.data?.token_type).toBe('bearer')
      const refreshedByForm = await anyone.POST(
        '/api/v1/auth/token',
        form({ grant_type: 'refresh_token', refresh_token: byForm.data!.refresh_token }),
      )
      expect(refreshedByForm.response.status).toBe(200)
      expect(
        (await anyone.POST('/api/v1/auth/token', form({ grant_type: 'password' }))).response.status,
      ).toBe(400)
      expect(
        (await anyone.POST('/api/v1/auth/token', form({ username: 'ada', password: 'wrong-password' })))
          .response.status,
      ).toBe(401)

      const login = await anyone.POST('/api/v1/auth/login', {
        body: { username: 'ada', password: 'ada-password-123' },
      })
      expect(login.response.status).toBe(200)
      expect(
        (await anyone.POST('/api/v1/auth/login', { body: { username: 'ada', password: 'nope' } })).response
          .status,
      ).toBe(401)
      expect(
        (await anyone.POST('/api/v1/auth/login', { body: { username: '' } as never })).response.status,
      ).toBe(400)

      const refreshed = await anyone.POST('/api/v1/auth/refresh', {
        body: { refresh_token: login.data!.refresh_token },
      })
      expect(refreshed.response.status).toBe(200)
      const adaTokens = refreshed.data!
      expect(
        (await anyone.POST('/api/v1/auth/refresh', { body: { refresh_token: 'unknown' } })).response.status,
      ).toBe(401)
      expect((await anyone.POST('/api/v1/auth/refresh', { body: {} as never })).response.status).toBe(400)

      const ada = as(adaTokens.access_token)
      expect((await ada.GET('/api/v1/auth/me')).data?.id).toBe(adaId)
      expect((await nobody.GET('/api/v1/auth/me')).response.status).toBe(401)

      const adminLogin = await anyone.POST('/api/v1/auth/login', {
        body: { username: ADMIN.username, password: ADMIN.password },
      })
      const admin = as(adminLogin.data!.access_token)

      // --- users
      const users = await admin.GET('/api/v1/users', { params: { query: { pageSize: 5 } } })
      expect(users.data?.page).toBe(1)
      expect((await ada.GET('/api/v1/users')).response.status).toBe(403)
      expect((await admin.GET('/api/v1/users', { params: { query: { page: 0 } } })).response.status).toBe(400)
      expect((await nobody.GET('/api/v1/users')).response.status).toBe(401)
      const byId = (id: string) => ({ params: { path: { id } } })
      expect((await ada.GET('/api/v1/users/{id}', byId(adaId))).data?.username).toBe('ada')
      expect(
        (await admin.GET('/api/v1/users/{id}', byId('00000000-0000-4000-8000-000000000000'))).response.status,
      ).toBe(404)
      expect((await ada.GET('/api/v1/users/{id}', byId('not-a-uuid'))).response.status).toBe(400)
      const updated = await ada.PATCH('/api/v1/users/{id}', {
        ...byId(adaId),
        body: { email: 'ada@example.org' },
      })
      expect(updated.data?.email).toBe('ada@example.org')
      expect((await ada.PATCH('/api/v1/users/{id}', { ...byId(adaId), body: {} })).response.status).toBe(400)
      const bob = await anyone.POST('/api/v1/auth/register', {
        body: { username: 'bob', email: 'bob@example.com', password: 'bob-password-123' },
      })
      const bobId = bob.data!.id
      expect(
        (await ada.PATCH('/api/v1/users/{id}', { ...byId(bobId), body: { email: 'x@example.com' } })).response
          .status,
      ).toBe(403)
      expect(
        (await admin.PUT('/api/v1/users/{id}/role', { ...byId(bobId), body: { role: 'admin' } })).data?.role,
      ).toBe('admin')
      expect(
        (await ada.PUT('/api/v1/users/{id}/role', { ...byId(adaId), body: { role: 'admin' } })).response
          .status,
      ).toBe(403)
      expect(
        (await admin.PUT('/api/v1/users/{id}/role', { ...byId(adaId), body: { role: 'root' as never } }))
          .response.status,
      ).toBe(400)

      // --- math
      const fibonacci = await ada.GET('/api/v1/math/fibonacci/{n}', { params: { path: { n: '90' } } })
      expect(fibonacci.data?.result).toBe('2880067194370816120')
      expect((await ada.POST('/api/v1/math/fibonacci', { body: { n: 90 } })).data?.cached).toBe(true)
      expect(
        (await ada.GET('/api/v1/math/factorial/{n}', { params: { path: { n: '20' } } })).data?.result,
      ).toBe('2432902008176640000')
      expect((await ada.POST('/api/v1/math/factorial', { body: { n: '1e1' } })).data?.result).toBe('3628800')
      expect((await ada.POST('/api/v1/math/factorial', { body: { n: '1e12' } })).response.status).toBe(422)
      expect((await ada.POST('/api/v1/math/factorial', { body: { n: -1 } })).response.status).toBe(400)
      const power = await ada.GET('/api/v1/math/power', {
        params: { query: { base: '2', exponent: '100', modulus: '1000000007' } },
      })
      expect(power.data?.result).toBe('976371285')
      expect((await ada.POST('/api/v1/math/power', { body: { base: 2.5, exponent: 2 } })).data?.result).toBe(
        '6.25',
      )
      expect(
        (await nobody.GET('/api/v1/math/power', { params: { query: { base: '2', exponent: '3' } } })).response
          .status,
      ).toBe(401)

      // --- history
      const history = await ada.GET('/api/v1/history', { params: { query: { limit: 2 } } })
      expect(history.data?.items).toHaveLength(2)
      expect(
        (await ada.GET('/api/v1/history', { params: { query: { cursor: history.data!.nextCursor! } } }))
          .response.status,
      ).toBe(200)
      expect(
        (await ada.GET('/api/v1/history', { params: { query: { userId: bobId } } })).response.status,
      ).toBe(403)

      // --- products
      const created = await admin.POST('/api/v1/products', {
        params: { header: { 'idempotency-key': 'contract-product-lamp' } },
        body: { name: 'Desk lamp', price: 39.99, stock: 12, category: 'lighting', sku: 'LAMP-001' },
      })
      expect(created.response.status).toBe(201)
      const productId = created.data!.id
      expect(
        (
          await admin.POST('/api/v1/products', {
            body: { name: 'Other', price: 1, stock: 1, category: 'x', sku: 'lamp-001' },
          })
        ).response.status,
      ).toBe(409)
      expect(
        (
          await ada.POST('/api/v1/products', {
            body: { name: 'Nope', price: 1, stock: 1, category: 'x', sku: 'NOPE' },
          })
        ).response.status,
      ).toBe(403)
      const listed = await anyone.GET('/api/v1/products', {
        params: { query: { inStockOnly: true, sortBy: 'price' } },
      })
      expect(listed.data?.items.map((item) => item.id)).toContain(productId)
      expect(
        (await anyone.GET('/api/v1/products', { params: { query: { sortBy: 'colour' as never } } })).response
          .status,
      ).toBe(400)
      expect(
        (await anyone.GET('/api/v1/products/search', { params: { query: { q: 'lamp' } } })).data?.total,
      ).toBe(1)
      expect((await anyone.GET('/api/v1/products/{id}', byId(productId))).data?.sku).toBe('LAMP-001')
      expect(
        (await anyone.GET('/api/v1/products/{id}', byId('00000000-0000-4000-8000-000000000000'))).response
          .status,
      ).toBe(404)
      const replaced = await admin.PUT('/api/v1/products/{id}', {
        ...byId(productId),
        body: { name: 'Desk lamp', price: 34.99, stock: 3, category: 'lighting', sku: 'LAMP-001' },
      })
      expect(replaced.data?.description).toBeNull()
      expect(
        (await admin.PATCH('/api/v1/products/{id}', { ...byId(productId), body: { stock: 4 } })).data?.stock,
      ).toBe(4)
      expect((await admin.DELETE('/api/v1/products/{id}', byId(productId))).response.status).toBe(204)
      expect((await admin.DELETE('/api/v1/products/{id}', byId(productId))).response.status).toBe(404)

      // --- tasks
      const task = await ada.POST('/api/v1/tasks', {
        params: { header: { 'idempotency-key': 'contract-task-report' } },
        body: { title: 'Write the report', priority: 'high', dueDate: '2030-02-01T17:00:00Z' },
      })
      expect(task.response.status).toBe(201)
      const taskId = task.data!.id
      expect((await ada.POST('/api/v1/tasks', { body: { title: '' } })).response.status).toBe(400)
      expect(
        (await ada.GET('/api/v1/tasks', { params: { query: { status: 'pending', sortBy: 'dueDate' } } })).data
          ?.total,
      ).toBe(1)
      expect(
        (await ada.GET('/api/v1/tasks', { params: { query: { ownerId: bobId } } })).response.status,
      ).toBe(403)
      expect((await ada.GET('/api/v1/tasks/statistics')).data?.byPriority.high).toBe(1)
      expect((await ada.GET('/api/v1/tasks/{id}', byId(taskId))).data?.title).toBe('Write the report')
      expect(
        (await as(adminLogin.data!.access_token).GET('/api/v1/tasks/{id}', byId(taskId))).response.status,
      ).toBe(200)
      const replacedTask = await ada.PUT('/api/v1/tasks/{id}', {
        ...byId(taskId),
        body: { title: 'Write the report' },
      })
      expect(replacedTask.data?.priority).toBe('medium')
      expect(
        (await ada.PATCH('/api/v1/tasks/{id}', { ...byId(taskId), body: { status: 'completed' } })).data
          ?.status,
      ).toBe('completed')
      expect((await ada.DELETE('/api/v1/tasks/{id}', byId(taskId))).response.status).toBe(204)
      expect((await ada.GET('/api/v1/tasks/{id}', byId(taskId))).response.status).toBe(404)

      // --- files
      const upload = (content: string, name: string) =>
        ada.POST('/api/v1/files', {
          params: { header: { 'idempotency-key': `contract-upload-${name}` } },
          body: { file: new Blob([content]) },
          bodySerializer: (body) => {
            const multipart = new FormData()
            multipart.append('file', body.file, name)
            return multipart
          },
        })
      const file = await upload('hello world\n', 'notes.txt')
      expect(file.data?.contentType).toBe('text/plain')
      const fileId = file.data!.id
      expect((await upload('<html><script>alert(1)</script>', 'page.html')).response.status).toBe(415)
      expect(
        (
          await ada.POST('/api/v1/files', {
            body: { file: new Blob(['x']) },
            bodySerializer: () => 'x',
            headers: { 'content-type': 'text/plain' },
          })
        ).response.status,
      ).toBe(415)
      expect((await ada.GET('/api/v1/files', { params: { query: { page: 1 } } })).data?.total).toBe(1)
      expect((await ada.GET('/api/v1/files/{id}', byId(fileId))).data?.sha256).toBe(file.data!.sha256)
      const content = await ada.GET('/api/v1/files/{id}/content', { ...byId(fileId), parseAs: 'text' })
      expect(content.data).toBe('hello world\n')
      const etag = content.response.headers.get('etag')!
      const notModified = await ada.GET('/api/v1/files/{id}/content', {
        ...byId(fileId),
        headers: { 'if-none-match': etag },
        parseAs: 'text',
      })
      expect(notModified.response.status).toBe(304)
      expect((await ada.DELETE('/api/v1/files/{id}', byId(fileId))).response.status).toBe(204)
      expect((await ada.GET('/api/v1/files/{id}', byId(fileId))).response.status).toBe(404)

      // --- events
      const events = await admin.GET('/api/v1/events', { params: { query: { limit: 5 } } })
      expect(events.data?.items.length).toBe(5)
      expect((await ada.GET('/api/v1/events')).response.status).toBe(403)

      // --- the end of a login, and of an account
      expect(
        (await anyone.POST('/api/v1/auth/logout', { body: { refresh_token: adaTokens.refresh_token } }))
          .response.status,
      ).toBe(204)
      const revoked = await anyone.POST('/api/v1/auth/refresh', {
        body: { refresh_token: adaTokens.refresh_token },
      })
      expect(revoked.error?.detail).toBe(
        'This refresh token has been revoked (its login was logged out or revoked)',
      )
      expect((await admin.DELETE('/api/v1/users/{id}', byId(bobId))).response.status).toBe(204)
      expect((await admin.DELETE('/api/v1/users/{id}', byId(bobId))).response.status).toBe(404)

      // --- a documented error of each operation not refused above
      const missing = byId('00000000-0000-4000-8000-000000000000')
      const refusals = await Promise.all([
        nobody.GET('/api/v1/math/fibonacci/{n}', { params: { path: { n: '10' } } }),
        ada.POST('/api/v1/math/fibonacci', { body: { n: 1.5 } }),
        ada.GET('/api/v1/math/factorial/{n}', { params: { path: { n: 'ten' } } }),
        ada.POST('/api/v1/math/power', { body: { base: 2 } as never }),
        anyone.GET('/api/v1/products/search', { params: { query: {} as never } }),
        ada.PUT('/api/v1/products/{id}', {
          ...missing,
          body: { name: 'x', price: 1, stock: 1, category: 'x', sku: 'X' },
        }),
        admin.PATCH('/api/v1/products/{id}', { ...missing, body: { stock: 1 } }),
        nobody.GET('/api/v1/tasks/statistics'),
        ada.PUT('/api/v1/tasks/{id}', { ...missing, body: { title: 'x' } }),
        ada.PATCH('/api/v1/tasks/{id}', { ...missing, body: { status: 'pending' } }),
        ada.DELETE('/api/v1/tasks/{id}', missing),
        nobody.GET('/api/v1/files'),
        ada.GET('/api/v1/files/{id}/content', { ...missing, parseAs: 'text' }),
        ada.DELETE('/api/v1/files/{id}', missing),
        anyone.POST('/api/v1/auth/logout', { body: {} as never }),
      ])
      expect(refusals.map(({ response }) => response.status)).toEqual([
        401, 400, 400, 400, 400, 403, 404, 401, 404, 404, 404, 401, 404, 404, 400,
      ])

      expect(violations).toEqual([])
      const operations = Object.values(document.paths).flatMap((item) =>
        Object.values(item).map((operation) => operation.operationId),
      )
      expect(operations.filter((id) => !exercised.has(id))).toEqual([])
      // Every documented error status an operation answered with was checked too: at least one per operation
      // that has a 4xx (the health probes have none).
      const withoutError = [...exercised].filter(
        ([id, statuses]) => !id.startsWith('health') && ![...statuses].some((status) => status >= 400),
      )
      expect(withoutError.map(([id]) => id)).toEqual([])
    })
  },
)
