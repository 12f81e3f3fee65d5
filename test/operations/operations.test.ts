import { beforeAll, describe, expect, it } from 'vitest'
import { describeEachBackend, expectProblem, useApp } from '../helpers.js'

describeEachBackend('operations surface', (backend) => {
  const t = useApp(backend, { env: { CORS_ORIGINS: 'https://ui.example.com', BODY_LIMIT_BYTES: '2048' } })
  beforeAll(async () => {
    // A route that fails the way a bug would, to prove the 500 path leaks nothing.
    t.app.get('/boom', async () => {
      throw new Error('SELECT secret_column FROM internals -- password=hunter2')
    })
  })

  describe('request ids', () => {
    it('echoes a sane X-Request-Id and generates one otherwise', async () => {
      const kept = await t.app.inject({ url: '/health/live', headers: { 'x-request-id': 'abc-123_x.y:z' } })
      expect(kept.headers['x-request-id']).toBe('abc-123_x.y:z')
      const generated = await t.app.inject({ url: '/health/live' })
      expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    })

    it.each(['has space', 'x'.repeat(129), 'inject\r\nSet-Cookie: a=b', '<script>', ''])(
      'replaces an unsafe X-Request-Id %j',
      async (supplied) => {
        const response = await t.app.inject({ url: '/nope', headers: { 'x-request-id': supplied } })
        expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
        expect(response.headers['set-cookie']).toBeUndefined()
        expect(expectProblem(response, 404).requestId).toBe(response.headers['x-request-id'])
      },
    )
  })

  describe('errors are problem+json', () => {
    it('404 for unknown routes', async () => {
      const problem = expectProblem(await t.app.inject({ url: '/api/v1/does-not-exist?x=1' }), 404)
      expect(problem.instance).toBe('/api/v1/does-not-exist')
    })

    it('500 without internals', async () => {
      const response = await t.app.inject({ url: '/boom' })
      const problem = expectProblem(response, 500)
      expect(response.body).not.toMatch(/secret|SELECT|hunter2|at .*\.ts/)
      expect(problem.detail).toMatch(/unexpected error/)
    })

    it('413 for a body over the limit', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'x'.repeat(4096), password: 'y' },
      })
      expectProblem(response, 413)
    })

    it('415 for an unsupported content type', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        headers: { 'content-type': 'text/xml' },
        payload: '<login/>',
      })
      expectProblem(response, 415)
    })

    it('400 for a JSON body that is not an object, and for prototype poisoning', async () => {
      const array = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        headers: { 'content-type': 'application/json' },
        payload: '[1,2]',
      })
      expectProblem(array, 400)
      const poisoned = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        headers: { 'content-type': 'application/json' },
        payload:
          '{"username":"proto","email":"p@example.com","password":"long-enough","__proto__":{"role":"admin"}}',
      })
      expectProblem(poisoned, 400)
    })
  })

  describe('CORS', () => {
    it('allows only configured origins', async () => {
      const allowed = await t.app.inject({
        method: 'OPTIONS',
        url: '/api/v1/auth/login',
        headers: { origin: 'https://ui.example.com', 'access-control-request-method': 'POST' },
      })
      expect(allowed.headers['access-control-allow-origin']).toBe('https://ui.example.com')
      const denied = await t.app.inject({
        url: '/health/live',
        headers: { origin: 'https://evil.example.com' },
      })
      expect(denied.headers['access-control-allow-origin']).toBeUndefined()
    })
  })

  describe('health', () => {
    it('live is 200', async () => {
      const response = await t.app.inject({ url: '/health/live' })
      expect(response.statusCode).toBe(200)
      expect(response.json().status).toBe('ok')
    })

    it('ready and /health check every configured dependency', async () => {
      for (const url of ['/health/ready', '/health']) {
        const response = await t.app.inject({ url })
        expect(response.statusCode).toBe(200)
        const body = response.json()
        expect(body.status).toBe('ok')
        expect(body.checks.database.status).toBe('up')
        if (backend.redisUrl) expect(body.checks.redis.status).toBe('up')
        else expect(body.checks.redis).toBeUndefined()
      }
    })
  })

  describe('metrics', () => {
    it('exposes process metrics and requests labelled by route template', async () => {
      await t.app.inject({ url: '/api/v1/users/00000000-0000-4000-8000-000000000000' })
      const response = await t.app.inject({ url: '/metrics' })
      expect(response.statusCode).toBe(200)
      expect(response.headers['content-type']).toMatch(/^text\/plain/)
      expect(response.body).toMatch(/^process_cpu_user_seconds_total /m)
      expect(response.body).toMatch(/^nodejs_eventloop_lag_seconds /m)
      expect(response.body).toContain(
        'http_requests_total{method="GET",route="/api/v1/users/:id",status="401"}',
      )
      expect(response.body).toContain(
        'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/users/:id"',
      )
      expect(response.body).not.toContain('00000000-0000-4000-8000-000000000000')
    })
  })

  describe('OpenAPI', () => {
    let spec: {
      openapi: string
      components: { securitySchemes: Record<string, unknown> }
      paths: Record<string, Record<string, { operationId?: string; summary?: string; security?: unknown }>>
    }
    beforeAll(async () => {
      spec = (await t.app.inject({ url: '/openapi.json' })).json()
    })

    it('is OpenAPI 3.1 with a bearer scheme', () => {
      expect(spec.openapi).toBe('3.1.0')
      expect(spec.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' })
    })

    it('documents the auth and user endpoints with unique operationIds and summaries', () => {
      const operations = Object.entries(spec.paths).flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, operation]) => ({ path, method, ...operation })),
      )
      for (const path of [
        '/api/v1/auth/register',
        '/api/v1/auth/token',
        '/api/v1/auth/refresh',
        '/api/v1/users/{id}/role',
      ]) {
        expect(spec.paths[path]).toBeDefined()
      }
      expect(spec.paths['/boom']).toBeDefined()
      const documented = operations.filter((operation) => operation.path !== '/boom')
      for (const operation of documented) {
        expect(operation.operationId, `${operation.method} ${operation.path}`).toBeTruthy()
        expect(operation.summary, `${operation.method} ${operation.path}`).toBeTruthy()
      }
      const ids = documented.map((operation) => operation.operationId)
      expect(new Set(ids).size).toBe(ids.length)
      expect(spec.paths['/api/v1/users']?.get?.security).toEqual([{ bearerAuth: [] }, { oauth2: [] }])
      expect(spec.paths['/api/v1/auth/token']?.post?.security).toEqual([])
    })

    it('describes every field of every schema', () => {
      const undocumented: string[] = []
      const visit = (schema: unknown, where: string) => {
        if (!schema || typeof schema !== 'object') return
        const node = schema as Record<string, unknown>
        if (node.properties && typeof node.properties === 'object') {
          for (const [name, property] of Object.entries(
            node.properties as Record<string, Record<string, unknown>>,
          )) {
            if (!property.description && !property.$ref) undocumented.push(`${where}.${name}`)
            visit(property, `${where}.${name}`)
          }
        }
        for (const [key, value] of Object.entries(node))
          if (key !== 'properties') visit(value, `${where}/${key}`)
      }
      const { '/boom': _ignored, ...paths } = spec.paths
      visit(paths, 'paths')
      visit(spec.components, 'components')
      expect(undocumented).toEqual([])
    })

    it('serves the interactive docs', async () => {
      const response = await t.app.inject({ url: '/docs' })
      expect(response.statusCode).toBe(200)
      expect(response.headers['content-type']).toMatch(/text\/html/)
      expect(response.body).toMatch(/swagger/i)
    })
  })
})
