import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { bearer, describeEachBackend, signUp, useApp } from '../helpers.js'

/*
 * `promtool check metrics` (Prometheus's own linter for the exposition format and metric naming) on the
 * served /metrics, after traffic has touched every family. promtool comes from Debian's `prometheus`
 * package, which CI installs (.ci/steps/30-deploy-config.sh); locally without it the suite is skipped
 * with that reason, in CI it must run.
 */

const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((path) => existsSync(path))
if (!PROMTOOL && process.env.CI === 'true')
  throw new Error('CI requires promtool for test/deploy/promtool-metrics.test.ts')

function promtoolCheck(metrics: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL!, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
    child.stdin.end(metrics)
  })
}

const suite: typeof describeEachBackend = PROMTOOL
  ? describeEachBackend
  : (title, body) => describe.skip(title, () => body({ name: 'sqlite' }))

suite(`promtool check metrics on /metrics${PROMTOOL ? '' : ' — skipped: promtool not installed (Debian: prometheus)'}`, (backend) => {
  const t = useApp(backend)
  let baseUrl: string
  beforeAll(async () => {
    baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' })
  })

  it('finds no problem, after requests have touched every family', async () => {
    const session = await signUp(t.app, 'metered')
    const headers = bearer(session.tokens.access_token)
    for (const url of [
      '/api/v1/math/fibonacci/100',
      '/api/v1/math/fibonacci/100',
      '/api/v1/tasks',
      '/health',
    ]) {
      await fetch(`${baseUrl}${url}`, { headers })
    }
    await fetch(`${baseUrl}/api/v1/auth/me`, { headers: bearer('not-a-token') })
    const response = await fetch(`${baseUrl}/metrics`)
    expect(response.status).toBe(200)
    const metrics = await response.text()
    expect(metrics).toContain('math_computations_total')
    const { code, output } = await promtoolCheck(metrics)
    expect(output.trim()).toBe('')
    expect(code).toBe(0)
  })
})
