import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { censorSecrets } from '../../src/platform/logging.js'
import { buildTestApp, signUp, type TestApp } from '../helpers.js'

interface LogLine {
  level: number
  msg: string
  reqId?: string
  req?: { method: string; url: string; remoteAddress: string }
  res?: { statusCode: number }
  responseTime?: number
  userId?: string
}

function capture() {
  const raw: string[] = []
  return {
    raw,
    stream: { write: (line: string) => void raw.push(line) },
    lines: () => raw.map((line) => JSON.parse(line) as LogLine),
  }
}

describe('request logging', () => {
  let t: TestApp | undefined
  afterEach(async () => {
    await t?.close()
    t = undefined
  })

  it('writes one line per request at info, with who, what, status and time, and no secrets', async () => {
    const log = capture()
    t = await buildTestApp({ name: 'sqlite' }, { LOG_LEVEL: 'info' }, { logger: true, logStream: log.stream })
    const alice = await signUp(t.app, 'alice')
    log.raw.length = 0

    const math = await t.app.inject({ url: '/api/v1/math/fibonacci/10', headers: alice.headers })
    const missing = await t.app.inject({ url: '/api/v1/nope' })
    const refused = await t.app.inject({
      url: '/api/v1/auth/me',
      headers: { authorization: 'Bearer not.a.token' },
    })
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'alice', password: alice.password },
    })
    const long = await t.app.inject({
      url: `/api/v1/math/power?base=2&exponent=${'1'.repeat(2000)}`,
      headers: alice.headers,
    })

    const completed = log.lines().filter((line) => line.msg === 'request completed')
    expect(log.lines().filter((line) => line.msg === 'incoming request')).toEqual([])
    expect(completed.map((line) => line.reqId)).toEqual(
      [math, missing, refused, login, long].map((response) => response.headers['x-request-id']),
    )
    expect(completed[0]).toMatchObject({
      level: 30,
      req: { method: 'GET', url: '/api/v1/math/fibonacci/10', remoteAddress: '127.0.0.1' },
      res: { statusCode: 200 },
      userId: alice.id,
    })
    expect(completed[0]!.responseTime).toBeGreaterThan(0)
    expect(completed.slice(1, 4).map((line) => [line.res?.statusCode, line.userId])).toEqual([
      [404, undefined],
      [401, undefined],
      [200, undefined],
    ])
    expect(completed[4]!.req!.url.length).toBeLessThanOrEqual(513)
    // No token, password or refresh token in any line.
    const text = log.raw.join('')
    expect(text).not.toContain(alice.tokens.access_token)
    expect(text).not.toContain(alice.password)
    expect(text).not.toContain(login.json().refresh_token)
  })

  it('writes no line per request at warn', async () => {
    const log = capture()
    t = await buildTestApp({ name: 'sqlite' }, { LOG_LEVEL: 'warn' }, { logger: true, logStream: log.stream })
    const alice = await signUp(t.app, 'alice')
    await t.app.inject({ url: '/api/v1/math/fibonacci/10', headers: alice.headers })
    expect(log.lines().filter((line) => line.level < 40)).toEqual([])
  })

  it('censors secrets anywhere code might log them, without touching the logged objects', async () => {
    const log = capture()
    t = await buildTestApp({ name: 'sqlite' }, { LOG_LEVEL: 'info' }, { logger: true, logStream: log.stream })
    const body = { username: 'alice', password: 'hunter2-pass', currentPassword: 'old-pass-1' }
    const tokens = { access_token: 'eyJ.secret.sig', refresh_token: 'refresh-secret', token_type: 'bearer' }
    const headers = {
      authorization: 'Bearer eyJ.secret.sig',
      cookie: 'sid=secret-cookie',
      accept: 'application/json',
    }
    const request = { method: 'POST', headers: { ...headers } }
    t.app.log.warn(
      { body, tokens, headers, request, password: 'top-level-secret', detail: 'kept' },
      'something odd',
    )
    const line = log.lines().find((entry) => entry.msg === 'something odd') as unknown as Record<
      string,
      Record<string, unknown>
    >
    const text = log.raw.join('')
    for (const secret of [
      'hunter2-pass',
      'old-pass-1',
      'eyJ.secret.sig',
      'refresh-secret',
      'secret-cookie',
      'top-level-secret',
    ])
      expect(text).not.toContain(secret)
    expect(line.body).toEqual({ username: 'alice', password: '[redacted]', currentPassword: '[redacted]' })
    expect(line.tokens!.token_type).toBe('bearer')
    expect(line.headers!.accept).toBe('application/json')
    expect((line.request!.headers as Record<string, string>).authorization).toBe('[redacted]')
    expect(line.detail).toBe('kept')
    // The caller's objects are left as they were.
    expect(body.password).toBe('hunter2-pass')
    expect(request.headers.authorization).toBe('Bearer eyJ.secret.sig')
  })

  it('returns an object without secrets as it is, without copying', () => {
    const object = { req: { method: 'GET' }, res: { statusCode: 200 }, responseTime: 1.5 }
    expect(censorSecrets(object)).toBe(object)
  })

  it('a real server writes its buffered lines to stdout within a moment, and everything on shutdown', async () => {
    const root = resolve(import.meta.dirname, '../..')
    const dataDir = mkdtempSync(join(tmpdir(), 'mathapi-log-'))
    const port = await new Promise<number>((done) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address()
        probe.close(() => done(typeof address === 'object' && address ? address.port : 0))
      })
    })
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        DATABASE_URL: `sqlite:${join(dataDir, 'app.db')}`,
        JWT_SECRET: randomBytes(48).toString('base64url'),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let stdout = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    const exited = new Promise((done) => child.once('exit', done))
    try {
      const base = `http://127.0.0.1:${port}`
      for (let ready = false; !ready; ) {
        ready = (await fetch(`${base}/health/live`).catch(() => undefined))?.status === 200
        if (!ready) await new Promise((done) => setTimeout(done, 100))
      }
      const response = await fetch(`${base}/health/live`, { headers: { 'x-request-id': 'log-probe-1' } })
      expect(response.status).toBe(200)
      // One small line does not fill a block: it goes out on the periodic flush.
      const deadline = Date.now() + 2000
      while (!stdout.includes('log-probe-1') && Date.now() < deadline)
        await new Promise((done) => setTimeout(done, 20))
      expect(stdout).toContain('log-probe-1')
      await fetch(`${base}/health/live`, { headers: { 'x-request-id': 'log-probe-2' } })
      child.kill('SIGTERM')
      await exited
      // Written before the process ended: the last request and the shutdown message.
      expect(stdout).toContain('log-probe-2')
      expect(stdout).toContain('shutting down')
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
