import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { beforeAll, describe, expect, it } from 'vitest'
import { useApp } from '../helpers.js'

/*
 * Against a real listening server (app.inject bypasses Node's HTTP parser and its timeouts): slow clients,
 * oversized and malformed request heads. Every loop here is bounded by time.
 */
const REQUEST_TIMEOUT_MS = 2000
/** Cut-off bound for a slow client: the timeout itself plus Node's connection-check period and slack. */
const CUT_OFF_BOUND_MS = REQUEST_TIMEOUT_MS + 3000

const t = useApp({ name: 'sqlite' }, { env: { REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) } })
let port: number

beforeAll(async () => {
  await t.app.listen({ host: '127.0.0.1', port: 0 })
  port = (t.app.server.address() as { port: number }).port
})

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket))
    socket.once('error', reject)
  })
}

/** Sends `head` raw and resolves with everything the server wrote before closing (or after `waitMs`). */
async function raw(head: string, waitMs = 3000): Promise<string> {
  const socket = await open()
  socket.on('error', () => {})
  let received = ''
  socket.on('data', (chunk) => {
    received += chunk.toString('latin1')
  })
  const headComplete = new Promise<void>((resolve) =>
    socket.on('data', () => {
      if (received.includes('\r\n\r\n')) resolve()
    }),
  )
  socket.write(head)
  await Promise.race([
    new Promise((resolve) => socket.once('close', resolve)),
    headComplete.then(() => sleep(100)),
    sleep(waitMs),
  ])
  socket.destroy()
  return received
}

async function healthLatencyMs(): Promise<number> {
  const started = performance.now()
  const response = await fetch(`http://127.0.0.1:${port}/health/live`)
  expect(response.status).toBe(200)
  await response.arrayBuffer()
  return performance.now() - started
}

/** Opens a connection and trickles `text` one byte per `intervalMs`; resolves when the server closes it. */
async function trickle(first: string, text: string, intervalMs: number, giveUpMs: number) {
  const socket = await open()
  socket.on('error', () => {})
  let received = ''
  socket.on('data', (chunk) => {
    received += chunk.toString('latin1')
  })
  const started = performance.now()
  socket.write(first)
  let sent = 0
  const closed = new Promise<number>((resolve) =>
    socket.once('close', () => resolve(performance.now() - started)),
  )
  const timer = setInterval(() => {
    if (!socket.destroyed && sent < text.length) socket.write(text[sent++]!)
  }, intervalMs)
  const closedAfterMs = await Promise.race([closed, sleep(giveUpMs).then(() => Number.POSITIVE_INFINITY)])
  clearInterval(timer)
  socket.destroy()
  return { closedAfterMs, received, bytesTrickled: sent }
}

describe('slow clients (slowloris)', () => {
  it('a client sending its headers one byte per second is cut off in bounded time; others are served meanwhile', {
    timeout: 20_000,
  }, async () => {
    const slow = trickle(
      'GET /health/live HTTP/1.1\r\nHost: localhost\r\n',
      `X-Slow: ${'a'.repeat(60)}\r\n\r\n`,
      1000,
      CUT_OFF_BOUND_MS + 5000,
    )
    const latencies: number[] = []
    const deadline = performance.now() + REQUEST_TIMEOUT_MS + 500
    while (performance.now() < deadline) {
      latencies.push(await healthLatencyMs())
      await sleep(200)
    }
    const { closedAfterMs, received } = await slow
    expect(closedAfterMs).toBeLessThan(CUT_OFF_BOUND_MS)
    // Node answers 408 when it can, or just closes; never a 200 for a request it never fully got.
    if (received) expect(received).toMatch(/^HTTP\/1\.1 408/)
    expect(Math.max(...latencies)).toBeLessThan(500)
  })

  it('fifty slow-header connections at once do not starve anyone', { timeout: 20_000 }, async () => {
    const slow = Array.from({ length: 50 }, () =>
      trickle(
        'GET /health/live HTTP/1.1\r\n',
        `Host: localhost\r\nX-Slow: ${'b'.repeat(60)}\r\n\r\n`,
        500,
        CUT_OFF_BOUND_MS + 5000,
      ),
    )
    await sleep(300)
    const latencies: number[] = []
    for (let i = 0; i < 10; i++) latencies.push(await healthLatencyMs())
    expect(Math.max(...latencies)).toBeLessThan(500)
    const results = await Promise.all(slow)
    for (const { closedAfterMs } of results) expect(closedAfterMs).toBeLessThan(CUT_OFF_BOUND_MS)
  })

  it('a client sending its body one byte per second is cut off in bounded time', {
    timeout: 20_000,
  }, async () => {
    const body = '{"username":"slow","password":"slow-password"}'
    const { closedAfterMs, received, bytesTrickled } = await trickle(
      `POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
      1000,
      CUT_OFF_BOUND_MS + 5000,
    )
    expect(closedAfterMs).toBeLessThan(CUT_OFF_BOUND_MS)
    expect(bytesTrickled).toBeLessThan(body.length)
    if (received) expect(received).toMatch(/^HTTP\/1\.1 (408|400)/)
    expect(await healthLatencyMs()).toBeLessThan(500)
  })
})

describe('oversized and malformed request heads', () => {
  it('431 for headers past Node’s limit; the server keeps serving', async () => {
    const big = await raw(
      `GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    )
    expect(big).toMatch(/^HTTP\/1\.1 431/)
    const many = await raw(
      `GET /health/live HTTP/1.1\r\nHost: localhost\r\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\n\r\n`,
    )
    expect(many).toMatch(/^HTTP\/1\.1 431/)
    expect(await healthLatencyMs()).toBeLessThan(500)
  })

  it('a huge X-Request-Id under the header limit is replaced, not echoed', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/health/live`, {
      headers: { 'x-request-id': 'r'.repeat(12_000) },
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })

  it.each([
    [
      'a bare LF inside X-Request-Id',
      'GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: abc\nInjected: 1\r\n\r\n',
    ],
    [
      'CR/LF-split X-Request-Id',
      'GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: abc\r\nSet-Cookie: a=b\r\n\r\n',
    ],
    ['a NUL in a header', 'GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: a\u0000b\r\n\r\n'],
    ['an unknown method', 'FOO /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n'],
    [
      'dot segments in the raw path',
      'GET /api/v1/tasks/../../../etc/passwd HTTP/1.1\r\nHost: localhost\r\n\r\n',
    ],
    [
      'an absolute-form target',
      'GET http://evil.example.com/health/live HTTP/1.1\r\nHost: localhost\r\n\r\n',
    ],
    [
      'conflicting Content-Length',
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
    ],
    [
      'Content-Length with Transfer-Encoding (smuggling)',
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n',
    ],
  ])('%s: a 4xx or a 2xx without injected headers, never a 5xx', async (_, head) => {
    const response = await raw(head, 1500)
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0)
    expect(status, response.slice(0, 300)).toBeGreaterThanOrEqual(200)
    expect(status, response.slice(0, 300)).toBeLessThan(500)
    const headers = response.split('\r\n\r\n')[0] ?? ''
    expect(headers).not.toMatch(/^(injected|set-cookie):/im)
    expect(response).not.toContain('root:x:0')
    expect(await healthLatencyMs()).toBeLessThan(500)
  })
})
