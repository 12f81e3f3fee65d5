import { afterAll, beforeAll, expect, it } from 'vitest'
import { buildTestApp, describeEachBackend, type TestApp } from '../helpers.js'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'

/*
 * Class 8 of issue 10: /health/ready is public, and it used to repeat each failing dependency's error
 * text — addresses, ports, client messages. It now says only each dependency's state; the reason goes to
 * the log, once per change of state.
 */

/** Log lines, parsed, as the app writes them. */
function capturedLog() {
  const lines: Record<string, unknown>[] = []
  return {
    lines,
    stream: { write: (line: string) => void lines.push(JSON.parse(line)) },
    about: (dependency: string) => lines.filter((line) => line.dependency === dependency),
  }
}

/** Anything that would tell an anonymous caller where or what the dependency is. */
const REVEALING = /127\.0\.0\.1|localhost|::1|ECONN|ETIMEDOUT|refused|timeout|Error|redis:\/\/|postgres/i

describeEachBackend('hostile input: readiness tells state, not internals', (backend) => {
  let t: TestApp
  let proxies: TcpProxy[] = []
  const log = capturedLog()
  /** The dependency this backend can lose after start-up. */
  let cut: () => void
  let restore: () => void
  const names = backend.redisUrl ? ['database', 'redis'] : ['redis']

  beforeAll(async () => {
    if (backend.databaseUrl && backend.redisUrl) {
      const database = await startTcpProxy(backend.databaseUrl, 5432)
      const redis = await startTcpProxy(backend.redisUrl, 6379)
      proxies = [database, redis]
      t = await buildTestApp(
        { ...backend, databaseUrl: database.url, redisUrl: redis.url },
        { LOG_LEVEL: 'info' },
        { logger: true, logStream: log.stream },
      )
    } else {
      // SQLite cannot be cut from outside; a Redis that the service is configured with but cannot reach can.
      const redis = await startTcpProxy('redis://127.0.0.1:6379')
      proxies = [redis]
      t = await buildTestApp(
        backend,
        { LOG_LEVEL: 'info', REDIS_URL: redis.url },
        { logger: true, logStream: log.stream },
      )
    }
    cut = () => {
      for (const proxy of proxies) proxy.cut()
    }
    restore = () => {
      for (const proxy of proxies) proxy.restore()
    }
  })
  afterAll(async () => {
    restore?.()
    await t?.close()
    for (const proxy of proxies) await proxy.close()
  })

  it('a failing dependency is reported by name and state only; the reason is logged once', async () => {
    cut()
    const responses = []
    for (let i = 0; i < 3; i++) {
      for (const url of ['/health/ready', '/health']) responses.push(await t.app.inject({ url }))
    }
    for (const response of responses) {
      const body = response.json()
      expect(response.body).not.toMatch(REVEALING)
      for (const proxy of proxies) expect(response.body).not.toContain(String(proxy.port))
      for (const name of names) {
        expect(Object.keys(body.checks[name]).sort()).toEqual(['latencyMs', 'required', 'status'])
        expect(body.checks[name].status).toBe('down')
      }
      expect(response.statusCode).toBe(backend.databaseUrl ? 503 : 200)
    }
    for (const name of names) {
      const lines = log.about(name)
      // Logged once for six probes, with what an operator needs.
      expect(lines).toHaveLength(1)
      expect(lines[0]!.msg).toMatch(/check failed/)
      expect(JSON.stringify(lines[0]!.err)).toMatch(REVEALING)
    }
  })

  it('repeated and concurrent probes while down log nothing more', async () => {
    const before = names.map((name) => log.about(name).length)
    const probes = await Promise.all(Array.from({ length: 20 }, () => t.app.inject({ url: '/health/ready' })))
    expect(new Set(probes.map((probe) => probe.statusCode)).size).toBe(1)
    expect(names.map((name) => log.about(name).length)).toEqual(before)
  })

  it('recovery is logged once, and readiness says ok again', async () => {
    restore()
    let body: { status?: string } = {}
    for (let attempt = 0; attempt < 100 && body.status !== 'ok'; attempt++) {
      body = (await t.app.inject({ url: '/health/ready' })).json()
      if (body.status !== 'ok') await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(body.status).toBe('ok')
    for (const name of names)
      expect(log.about(name).filter((line) => /answers again/.test(String(line.msg)))).toHaveLength(1)
  })
})
