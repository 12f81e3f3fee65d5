import { describe, expect, it } from 'vitest'
import { API_SECURITY_HEADERS } from '../../src/platform/security-headers.js'
import { ADMIN, login, signUp, useApp } from '../helpers.js'
import { useStandInWebRoot } from '../support/web-root.js'

/** Helmet's headers that only matter to a page a browser renders. */
const DOCUMENT_ONLY = [
  'cross-origin-opener-policy',
  'cross-origin-resource-policy',
  'origin-agent-cluster',
  'referrer-policy',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
]

type Headers = Record<string, unknown>

function expectApiHeaders(headers: Headers, cacheControl = 'no-store') {
  expect(headers['x-content-type-options']).toBe('nosniff')
  expect(headers['x-frame-options']).toBe('DENY')
  expect(headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'")
  expect(headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains')
  expect(headers['cache-control']).toBe(cacheControl)
  for (const name of DOCUMENT_ONLY) expect(headers[name], name).toBeUndefined()
}

function expectDocumentHeaders(headers: Headers) {
  const csp = String(headers['content-security-policy'])
  expect(csp).toContain("default-src 'self'")
  expect(csp).toContain("script-src 'self'")
  expect(csp).not.toContain('upgrade-insecure-requests')
  expect(headers['x-frame-options']).toBe('SAMEORIGIN')
  expect(headers['x-content-type-options']).toBe('nosniff')
  for (const name of DOCUMENT_ONLY) expect(headers[name], name).toBeDefined()
}

describe('security headers: the API set on API responses, helmet’s document set on pages', () => {
  const root = useStandInWebRoot()
  const t = useApp(
    { name: 'sqlite' },
    { users: ['alice'], env: { RATE_LIMIT_READ: '3' }, build: { webRoot: root } },
  )

  it.each([
    ['a JSON result', '/api/v1/math/fibonacci/10', 200],
    ['a 401 problem', '/api/v1/auth/me', 401],
    ['a 404 problem under the API', '/api/v1/no-such-thing', 404],
    ['a 400 problem', '/api/v1/math/fibonacci/-1', 400],
    ['liveness', '/health/live', 200],
    ['readiness', '/health/ready', 200],
    ['metrics', '/metrics', 200],
    ['the OpenAPI document', '/openapi.json', 200],
    ['a query string that names a page', '/health/live?next=/docs', 200],
  ])('%s (%s) carries the API set and nothing else', async (_what, url, status) => {
    const headers = url.startsWith('/api/v1/math') ? t.users.alice.headers : {}
    const response = await t.app.inject({ url, headers })
    expect(response.statusCode).toBe(status)
    expectApiHeaders(response.headers)
  })

  it('a 429 and a CORS preflight carry the API set too', async () => {
    const bob = await signUp(t.app, 'bob')
    let response = await t.app.inject({ url: '/api/v1/math/fibonacci/1', headers: bob.headers })
    for (let i = 0; i < 3; i++)
      response = await t.app.inject({ url: '/api/v1/math/fibonacci/1', headers: bob.headers })
    expect(response.statusCode).toBe(429)
    expectApiHeaders(response.headers)
    const preflight = await t.app.inject({
      method: 'OPTIONS',
      url: '/api/v1/auth/login',
      headers: { origin: 'https://elsewhere.example', 'access-control-request-method': 'POST' },
    })
    expectApiHeaders(preflight.headers)
  })

  it('a route with its own Cache-Control or CSP keeps it', async () => {
    const tokens = await login(t.app, ADMIN.username, ADMIN.password)
    expect(tokens.access_token).toBeTruthy()
    const upload = await t.app.inject({
      method: 'POST',
      url: '/api/v1/files',
      headers: { ...t.users.alice.headers, 'content-type': 'multipart/form-data; boundary=b' },
      payload:
        '--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n',
    })
    expect(upload.statusCode).toBe(201)
    const download = await t.app.inject({
      url: `/api/v1/files/${upload.json().id}/content`,
      headers: t.users.alice.headers,
    })
    expect(download.statusCode).toBe(200)
    expect(download.headers['cache-control']).toBe('private, no-cache')
    expect(download.headers['content-security-policy']).toBe("default-src 'none'; sandbox")
    expect(download.headers['x-content-type-options']).toBe('nosniff')
  })

  it.each([
    ['the web UI', '/', 200],
    ['a deep link into the UI', '/calculator', 200],
    ['a UI asset', '/assets/index-abc123.js', 200],
    ['the interactive docs', '/docs', 200],
    ['an unknown page', '/no-such-page', 404],
  ])('%s (%s) carries helmet’s document set', async (_what, url, status) => {
    const response = await t.app.inject({ url })
    // /docs redirects to its index page on some versions of swagger-ui; both are pages.
    expect([status, 302]).toContain(response.statusCode)
    expectDocumentHeaders(response.headers)
  })

  it('the API set is much smaller than the document set', async () => {
    const api = API_SECURITY_HEADERS.reduce((sum, [name, value]) => sum + name.length + value.length + 4, 0)
    const page = (await t.app.inject({ url: '/' })).headers
    const document = Object.entries(page)
      .filter(([name]) => DOCUMENT_ONLY.includes(name) || API_SECURITY_HEADERS.some(([api]) => api === name))
      .reduce((sum, [name, value]) => sum + name.length + String(value).length + 4, 0)
    expect(api).toBeLessThan(250)
    expect(document).toBeGreaterThan(api * 2)
  })
})
