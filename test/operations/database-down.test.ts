import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectProblem, postgresBackend, signUp, useApp } from '../helpers.js'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'

describe.runIf(postgresBackend)('PostgreSQL lost and regained', () => {
  let relay: TcpProxy
  beforeAll(async () => {
    relay = await startTcpProxy(postgresBackend!.databaseUrl!, 5432)
  })
  afterAll(() => relay.close())
  const t = useApp(() => ({
    name: 'postgres+redis',
    databaseUrl: relay.url,
    redisUrl: postgresBackend!.redisUrl!,
  }))
  // Registered after useApp, so this runs before the app closes, whose close must get through the proxy.
  afterAll(() => relay.restore())

  it('answers 503 (not 500, not a hang) while the database is unreachable, and recovers by itself', async () => {
    const session = await signUp(t.app, 'survivor')
    relay.cut()

    const ready = await t.app.inject({ url: '/health/ready' })
    expect(ready.statusCode).toBe(503)
    expect(ready.json().checks.database.status).toBe('down')
    expect((await t.app.inject({ url: '/health/live' })).statusCode).toBe(200)

    const started = Date.now()
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'survivor', password: session.password },
    })
    const problem = expectProblem(login, 503)
    expect(login.headers['retry-after']).toBeDefined()
    expect(problem.detail).not.toMatch(/ECONN|127\.0\.0\.1|postgres/i)
    expect(Date.now() - started).toBeLessThan(10_000)

    relay.restore()
    let recovered = 0
    for (let attempt = 0; attempt < 50 && recovered !== 200; attempt++) {
      recovered = (await t.app.inject({ url: '/health/ready' })).statusCode
      if (recovered !== 200) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(recovered).toBe(200)
    const again = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'survivor', password: session.password },
    })
    expect(again.statusCode).toBe(200)
  })
})
