import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../helpers.js'
import { freePort } from '../support/ports.js'

/*
 * The shipped nginx configuration in front of the service, with TRUST_PROXY set to nginx's address: a
 * client sending its own X-Forwarded-For must not choose the address its rate limits are counted under.
 * The `location /` block is taken verbatim from deploy/nginx/nginx.conf; only the upstream addresses and
 * the listening port differ (the compose file's Docker DNS names do not resolve here). Runs Debian's nginx;
 * locally without it the suite is skipped, in CI it must run (`.ci/steps/30-deploy-config.sh` installs it).
 */

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path))
if (!NGINX && process.env.CI === 'true')
  throw new Error('CI requires nginx for test/deploy/nginx-forwarded.test.ts')

/** The `location / { … }` block of the shipped configuration, braces matched. */
function shippedLocationBlock(): string {
  const text = readFileSync(new URL('../../deploy/nginx/nginx.conf', import.meta.url), 'utf8')
  const start = text.indexOf('location / {')
  if (start < 0) throw new Error('deploy/nginx/nginx.conf has no `location / {` block')
  let depth = 0
  for (let i = text.indexOf('{', start); i < text.length; i++) {
    if (text[i] === '{') depth++
    else if (text[i] === '}' && --depth === 0) return text.slice(start, i + 1)
  }
  throw new Error('unbalanced braces in deploy/nginx/nginx.conf')
}

const AUTH_LIMIT = 2

const suite = NGINX ? describe : describe.skip
suite(`nginx in front of the service (deploy/nginx/nginx.conf)${NGINX ? '' : ' — skipped: nginx not installed'}`, () => {
  let t: TestApp
  let nginx: ChildProcess
  let dir: string
  let base: string

  beforeAll(async () => {
    t = await buildTestApp(
      { name: 'sqlite' },
      { TRUST_PROXY: '127.0.0.1', RATE_LIMIT_AUTH: String(AUTH_LIMIT) },
    )
    const apiPort = Number(new URL(await t.app.listen({ port: 0, host: '127.0.0.1' })).port)
    const port = await freePort()
    dir = mkdtempSync(join(tmpdir(), 'mathapi-nginx-'))
    const conf = join(dir, 'nginx.conf')
    writeFileSync(
      conf,
      `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream api {
    server 127.0.0.1:${apiPort};
    keepalive 4;
  }
  server {
    listen 127.0.0.1:${port};
    ${shippedLocationBlock()}
  }
}
`,
    )
    execFileSync(NGINX!, ['-t', '-q', '-p', dir, '-e', `${dir}/error.log`, '-c', conf])
    nginx = spawn(NGINX!, ['-p', dir, '-e', `${dir}/error.log`, '-c', conf], { stdio: 'ignore' })
    base = `http://127.0.0.1:${port}`
    const deadline = Date.now() + 10_000
    for (;;) {
      const ready = await fetch(`${base}/health/live`).catch(() => undefined)
      if (ready?.status === 200) break
      if (Date.now() > deadline)
        throw new Error(`nginx did not start: ${readFileSync(`${dir}/error.log`, 'utf8')}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  })
  afterAll(async () => {
    nginx?.kill('SIGTERM')
    await t?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('counts every attempt under the address nginx saw, whatever X-Forwarded-For the client sends', async () => {
    const statuses: number[] = []
    // The per-address ceiling on auth endpoints is 5 × RATE_LIMIT_AUTH; each attempt claims another address.
    for (let i = 0; i <= AUTH_LIMIT * 5; i++) {
      const response = await fetch(`${base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `203.0.113.${i + 1}` },
        body: JSON.stringify({ username: `spoofer${i}`, password: 'not-the-password' }),
      })
      statuses.push(response.status)
    }
    expect(statuses.slice(0, AUTH_LIMIT * 5)).toEqual(Array(AUTH_LIMIT * 5).fill(401))
    expect(statuses.at(-1)).toBe(429)
  })
})
