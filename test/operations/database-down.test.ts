import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, expectProblem, postgresBackend, signUp, type TestApp } from '../helpers.js'

/** A TCP relay to PostgreSQL that the test can cut and restore, to see the service lose its database. */
async function startRelay(
  target: URL,
): Promise<{ url: string; cut(): void; restore(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  let open = true
  const server: Server = createServer((client) => {
    if (!open) return client.destroy()
    const upstream = createConnectionTo(target)
    sockets.add(client).add(upstream)
    client.pipe(upstream).pipe(client)
    const drop = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('relay did not bind')
  const url = new URL(target)
  url.host = `127.0.0.1:${address.port}`
  return {
    url: url.toString(),
    cut() {
      open = false
      for (const socket of sockets) socket.destroy()
    },
    restore() {
      open = true
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

function createConnectionTo(target: URL): Socket {
  return createConnection({ host: target.hostname, port: Number(target.port || 5432) })
}

describe.runIf(postgresBackend)('PostgreSQL lost and regained', () => {
  let relay: Awaited<ReturnType<typeof startRelay>>
  let t: TestApp
  beforeAll(async () => {
    relay = await startRelay(new URL(postgresBackend!.databaseUrl!))
    t = await buildTestApp({
      name: 'postgres+redis',
      databaseUrl: relay.url,
      redisUrl: postgresBackend!.redisUrl!,
    })
  })
  afterAll(async () => {
    relay.restore()
    await t.close()
    await relay.close()
  })

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
