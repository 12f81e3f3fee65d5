import { Worker } from 'node:worker_threads'
import { beforeAll, expect, it } from 'vitest'
import { startLoopProbe } from '../../bench/loop-probe.js'
import { describeEachBackend, useApp } from '../helpers.js'

/*
 * Issue 10's bound: no request of any user may hold the event loop. The service listens on a real port;
 * a worker thread (so that the client's own work does not land on the loop measured) sends the attack
 * mix — every class the issue found — while a probe on the service's thread (bench/loop-probe.ts)
 * measures the CPU time of every callback the loop runs. Any request that blocks the loop for 50 ms in
 * one piece fails this test. The probe counts the thread's own CPU time, not the wall clock, so a machine
 * busy with other work (CI runs test files in parallel) does not fail it; the wall-clock delay and the
 * longest turn of the loop are printed next to it.
 */

const WINDOW_MS = 4000
const BOUND_MS = 50

/** The attack client: plain JS in a worker thread; posts back the statuses it saw per class. */
const CLIENT = `
const { parentPort, workerData } = require('node:worker_threads')
const { url, token, durationMs } = workerData
const auth = { authorization: 'Bearer ' + token }
const json = { ...auth, 'content-type': 'application/json' }
const numeral = (length, salt) => {
  let text = String(1 + (salt % 9))
  for (let i = 1; text.length < length; i++) text += String((salt * 7919 + i * 104729) % 1000000007).padStart(9, '0')
  return text.slice(0, length)
}
const boundary = 'loop-probe'
const filePart = (name) => '--' + boundary + '\\r\\nContent-Disposition: form-data; name="file"; filename="' + name + '"\\r\\nContent-Type: text/plain\\r\\n\\r\\nhello\\r\\n'
const classes = {
  spellings: (i) => ['POST', '/api/v1/math/power', json, '{"base":"3.0","exponent":"' + (30000 + i) + '.0e1"}'],
  bigJsonIntegers: (i) => ['POST', '/api/v1/math/power', json, '{"base":' + numeral(20, i) + ',"exponent":1}'],
  modular1000: (i) => ['POST', '/api/v1/math/power', json, JSON.stringify({ base: numeral(1000, i), exponent: numeral(1000, i + 1), modulus: numeral(999, i + 2) + '7' })],
  modular1000Get: (i) => ['GET', '/api/v1/math/power?base=' + numeral(1000, i + 3) + '&exponent=' + numeral(1000, i + 4) + '&modulus=' + numeral(999, i + 5) + '3', auth],
  redos: () => ['POST', '/api/v1/math/power', json, JSON.stringify({ base: '1'.repeat(60000) + 'x', exponent: 2 })],
  manyNumbers: () => ['POST', '/api/v1/math/power', json, '{"base":1,"exponent":1,"x":[' + Array(30000).fill(1).join(',') + ']}'],
  fieldsToTasks: () => ['POST', '/api/v1/tasks', json, '{"title":"x",' + Array.from({ length: 4500 }, (_, i) => '"f' + i + '":' + i).join(',') + '}'],
  oversized: () => ['POST', '/api/v1/auth/register', { 'content-type': 'application/json' }, '{"username":"' + 'a'.repeat(1000000) + '"}'],
  manyNumberFields: () => ['POST', '/api/v1/math/fibonacci', json, '{' + Array.from({ length: 4500 }, (_, i) => '"f' + i + '":' + i).join(',') + '}'],
  redosGet: () => ['GET', '/api/v1/math/power?base=' + '1'.repeat(12000) + 'x&exponent=2', auth],
  storage: (i) => ['POST', '/api/v1/math/power', json, JSON.stringify({ base: numeral(10000, i), exponent: 3, modulus: numeral(9999, i + 6) + '1' })],
  hugeDistinct: (i) => ['GET', '/api/v1/math/fibonacci/' + (300000 + i), auth],
  hugeCached: () => ['GET', '/api/v1/math/fibonacci/1000000', auth],
  readiness: () => ['GET', '/health/ready', {}],
  twoFiles: () => ['POST', '/api/v1/files', { ...auth, 'content-type': 'multipart/form-data; boundary=' + boundary }, filePart('a.txt') + filePart('b.txt') + '--' + boundary + '--\\r\\n'],
}
const names = Object.keys(classes)
const statuses = {}
const started = Date.now()
const salt = Math.floor(Math.random() * 1000) * 1000
let i = 0
const inFlight = new Set()
const tick = setInterval(() => {
  if (Date.now() - started > durationMs) {
    clearInterval(tick)
    Promise.allSettled([...inFlight]).then(() => parentPort.postMessage(statuses))
    return
  }
  const name = names[i % names.length]
  const [method, path, headers, body] = classes[name](salt + i++)
  const done = fetch(url + path, { method, headers, body, signal: AbortSignal.timeout(60000) })
    .then(async (response) => { await response.arrayBuffer(); return response.status })
    .catch(() => 0)
    .then((status) => { statuses[name] = statuses[name] || {}; statuses[name][status] = (statuses[name][status] || 0) + 1 })
  inFlight.add(done)
  done.finally(() => inFlight.delete(done))
}, 25)
`

describeEachBackend('hostile input: no request holds the event loop', (backend) => {
  const t = useApp(backend, { users: ['loop_attacker'], env: { MATH_QUEUE_MAX: '256' } })
  let url: string

  beforeAll(async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    url = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`
    // The cached result the attack reads again and again.
    const warm = await fetch(`${url}/api/v1/math/fibonacci/1000000`, {
      headers: t.users.loop_attacker.headers,
    })
    expect(warm.status).toBe(200)
    await warm.arrayBuffer()
  }, 60_000)

  async function attackWindow(): Promise<{
    callback: number
    held: number
    delay: number
    statuses: Record<string, Record<string, number>>
  }> {
    const probe = startLoopProbe({ callbacks: true })
    const client = new Worker(CLIENT, {
      eval: true,
      workerData: { url, token: t.users.loop_attacker.tokens.access_token, durationMs: WINDOW_MS },
    })
    try {
      const statuses = await new Promise<Record<string, Record<string, number>>>((resolve, reject) => {
        client.once('message', resolve)
        client.once('error', reject)
      })
      const report = probe.report()
      return { callback: report.callback!.max, held: report.held.max, delay: report.delay.max, statuses }
    } finally {
      probe.stop()
      await client.terminate()
    }
  }

  it(`no callback holds the event loop for ${BOUND_MS} ms while every attack class is sent`, async () => {
    const last = await attackWindow()
    console.info(
      `[${backend.name}] longest callback ${last.callback.toFixed(1)} ms CPU; longest loop turn ${last.held.toFixed(1)} ms CPU; worst wall-clock delay ${last.delay.toFixed(1)} ms`,
    )
    // Every class was really sent and answered, by the answer its class deserves.
    const answered = (name: string) => Object.keys(last.statuses[name] ?? {}).map(Number)
    expect(answered('bigJsonIntegers')).toEqual([400])
    expect(answered('redos')).toEqual([400])
    expect(answered('manyNumbers')).toEqual([400])
    expect(answered('manyNumberFields')).toEqual([400])
    expect(answered('fieldsToTasks')).toEqual([400])
    expect(answered('oversized')).toEqual([413])
    expect(answered('redosGet')).toEqual([400])
    expect(answered('twoFiles')).toEqual([400])
    expect(answered('readiness')).toEqual([200])
    for (const name of [
      'spellings',
      'modular1000',
      'modular1000Get',
      'storage',
      'hugeDistinct',
      'hugeCached',
    ]) {
      expect(answered(name).length, name).toBeGreaterThan(0)
      // 429: the attacker's share of the pool busy and 16 more of its computations waiting.
      expect(
        answered(name).every((status) => status === 200 || status === 429 || status === 503),
        `${name}: ${answered(name)}`,
      ).toBe(true)
    }
    expect(last.callback).toBeLessThan(BOUND_MS)
  }, 120_000)

  it('the probe is able to fail: 60 ms of work in one piece is seen as one', async () => {
    const probe = startLoopProbe({ callbacks: true })
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
    try {
      await sleep(10)
      // 60 ms of this thread's CPU without a break: what an inline 1,000-digit modular power used to be.
      const cpu = () => {
        const { user, system } = process.threadCpuUsage()
        return (user + system) / 1000
      }
      const until = cpu() + 60
      while (cpu() < until) {
        // Busy.
      }
      await sleep(10)
      const report = probe.report()
      expect(report.held.max).toBeGreaterThanOrEqual(BOUND_MS)
      expect(report.callback!.max).toBeGreaterThanOrEqual(BOUND_MS)
    } finally {
      probe.stop()
    }
  })
})
