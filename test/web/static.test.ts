import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { UI_ROUTES } from '../../src/platform/web-ui.js'
import { ADMIN, expectProblem, login, useApp } from '../helpers.js'
import { useStandInWebRoot } from '../support/web-root.js'

/* Serving the UI, against a stand-in build: these checks need neither Vite nor a browser. */
describe('web UI serving', () => {
  const root = useStandInWebRoot()
  const t = useApp({ name: 'sqlite' }, { build: { webRoot: root } })

  it('serves index.html at / with no-cache', async () => {
    const response = await t.app.inject({ url: '/' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/^text\/html/)
    expect(response.headers['cache-control']).toBe('no-cache')
    expect(response.body).toContain('<title>ui</title>')
  })

  it('serves hashed assets as immutable', async () => {
    const response = await t.app.inject({ url: '/assets/index-abc123.js' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['cache-control']).toBe('public, max-age=31536000, immutable')
  })

  it.each(UI_ROUTES)('loads the app on a deep link to %s', async (route) => {
    const response = await t.app.inject({ url: `${route}?x=1` })
    expect(response.statusCode).toBe(200)
    expect(response.headers['cache-control']).toBe('no-cache')
    expect(response.body).toContain('<title>ui</title>')
  })

  it.each(['/nope', '/api/v1/nope', '/assets/missing.js', '/api/v1/calculator'])(
    'keeps answering problem+json 404 for %s',
    async (url) => {
      expectProblem(await t.app.inject({ url, headers: { accept: 'text/html' } }), 404)
    },
  )

  it('sends the CSP that keeps the UI to its own scripts', async () => {
    const csp = String((await t.app.inject({ url: '/' })).headers['content-security-policy'])
    expect(csp).toContain("script-src 'self'")
  })
})

describe('web UI not built', () => {
  const t = useApp({ name: 'sqlite' }, { build: { webRoot: join(tmpdir(), 'mathapi-no-such-build') } })

  it('answers / with problem+json 404 and still serves the API', async () => {
    expectProblem(await t.app.inject({ url: '/' }), 404)
    expect((await login(t.app, ADMIN.username, ADMIN.password)).access_token).toBeTruthy()
  })
})
