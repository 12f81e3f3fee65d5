/**
 * Hostile input (issue 10): one user at its full rate budget — the default RATE_LIMIT_WRITE 120/min and
 * RATE_LIMIT_READ 600/min — sends a mix of every attack class the issue lists, while a prober asks
 * /health/live every 20 ms. Phases with and without the attack alternate (--rounds of each, --seconds
 * long); each phase reports, from inside the service (bench/loop-probe.ts, preloaded), the longest stretch
 * its event loop was held (main-thread CPU between two 1 ms ticks), its worst event-loop delay
 * (perf_hooks.monitorEventLoopDelay, wall clock, so it also counts time the machine gave the service no
 * core), and the /health/live latencies seen by the prober. The table shows medians over rounds.
 *
 * Run: npm run bench:hostile [-- --seconds 20] [--rounds 3] [--classes]
 *   --classes      also one phase per attack class alone, to see which class costs what
 *   --calibrate    instead: the cost model's estimate next to the measured time of each job size near the
 *                  inline budget (src/modules/math/cost.ts), on this thread
 *   BENCH_DATABASE_URL=postgres://… [BENCH_REDIS_URL=redis://…]: PostgreSQL (+ Redis) instead of SQLite
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { costMicros, INLINE_BUDGET_MICROS } from '../src/modules/math/cost.js'
import {
  compute,
  factorialDigits,
  fibonacciDigits,
  type MathJob,
  powerDigits,
} from '../src/modules/math/engine/index.js'
import { api, ensureBuilt, login, machineLine, ROOT, sleep, startService } from './load.js'
import type { LoopReport } from './loop-probe.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
    classes: { type: 'boolean', default: false },
    calibrate: { type: 'boolean', default: false },
  },
})

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted.length === 0 ? Number.NaN : (sorted[Math.floor((sorted.length - 1) / 2)] as number)
}
const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number)
}

/** The cost model against the clock: each job's estimate next to its median time on this thread. */
function calibrate(): void {
  const digits = (n: number) => String(7 + (n % 2)).repeat(n)
  const odd = (n: number) => `${digits(n - 1)}1`
  const cases: { label: string; job: MathJob; estimate: number }[] = []
  for (const n of [1000, 5000, 10_000, 20_000, 30_000, 40_000, 60_000]) {
    cases.push({
      label: `F(${n})`,
      job: { op: 'fibonacci', n },
      estimate: costMicros.fibonacci(n, fibonacciDigits(n)),
    })
  }
  for (const n of [300, 1000, 2000, 3000, 4000, 6000]) {
    cases.push({
      label: `${n}!`,
      job: { op: 'factorial', n },
      estimate: costMicros.factorial(n, factorialDigits(n)),
    })
  }
  for (const [base, exponent] of [
    ['7', 3000],
    ['7', 10_000],
    ['7', 20_000],
    ['123456789', 1000],
    ['123456789', 3000],
    [digits(1000), 3],
    [digits(10_000), 1],
  ] as const) {
    const e = BigInt(exponent)
    cases.push({
      label: `${base.length > 12 ? `(${base.length} digits)` : base}^${exponent}`,
      job: { op: 'power', base, exponent: String(exponent) },
      estimate: costMicros.power(base.length, e.toString(2).length, powerDigits(BigInt(base), e)),
    })
  }
  for (const size of [20, 40, 80, 120, 160, 300]) {
    cases.push({
      label: `modular, ${size}-digit operands`,
      job: { op: 'power', base: digits(size), exponent: digits(size), modulus: odd(size) },
      estimate: costMicros.powerMod(size, size, size),
    })
  }
  cases.push({
    label: 'modular, 10,000-digit base, 20-digit rest',
    job: { op: 'power', base: digits(10_000), exponent: digits(20), modulus: odd(20) },
    estimate: costMicros.powerMod(10_000, 20, 20),
  })

  console.log(
    `\n${machineLine()}; inline budget ${INLINE_BUDGET_MICROS} µs; median of 7 runs after one warm-up\n`,
  )
  console.log('| job | estimate µs | measured µs | first run µs | estimate / measured | placed |')
  console.log('|---|---:|---:|---:|---:|---|')
  for (const { label, job, estimate } of cases) {
    const first = performance.now()
    compute(job)
    const firstMicros = (performance.now() - first) * 1000
    const runs: number[] = []
    for (let i = 0; i < 7; i++) {
      const started = performance.now()
      compute(job)
      runs.push((performance.now() - started) * 1000)
    }
    const measured = median(runs)
    console.log(
      `| ${label} | ${estimate.toFixed(0)} | ${measured.toFixed(0)} | ${firstMicros.toFixed(0)} | ${(estimate / measured).toFixed(2)} | ${estimate <= INLINE_BUDGET_MICROS ? 'inline' : 'pool'} |`,
    )
  }
}

interface AttackRequest {
  class: string
  method: 'GET' | 'POST'
  path: string
  /** Raw body text (so number literals go as written) or a multipart body. */
  body?: string | Buffer
  type?: string
  anonymous?: boolean
}

const WRITES_PER_SECOND = 120 / 60
const READS_PER_SECOND = 600 / 60
const READY_PROBES_PER_SECOND = 10
const PROBE_INTERVAL_MS = 20

/** Digits that differ per request, so nothing is a cache hit unless meant to be. */
const numeral = (length: number, salt: number) => {
  let text = `${1 + (salt % 9)}`
  for (let i = 1; text.length < length; i++)
    text += String((salt * 7919 + i * 104_729) % 1_000_000_007).padStart(9, '0')
  return text.slice(0, length)
}

function twoFiles(): { body: Buffer; type: string } {
  const boundary = 'bench-hostile'
  const part = (name: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: text/plain\r\n\r\nhello\r\n`
  return {
    body: Buffer.from(`${part('a.txt')}${part('b.txt')}--${boundary}--\r\n`),
    type: `multipart/form-data; boundary=${boundary}`,
  }
}

/** The attack classes of issue 10, each a function of a counter giving the i-th request. */
const WRITE_CLASSES: Record<string, (i: number) => AttackRequest> = {
  // 1: integers spelled as decimals / exponents, computed exactly (in the pool, under the limits).
  spellings: (i) => ({
    class: 'spellings',
    method: 'POST',
    path: '/api/v1/math/power',
    body: `{"base":"3.0","exponent":"${300_000 + (i % 1_000_000)}e0"}`,
  }),
  // 2: JSON integers beyond 2^53.
  'big JSON integers': (i) => ({
    class: 'big JSON integers',
    method: 'POST',
    path: '/api/v1/math/power',
    body: `{"base":${numeral(20, i)},"exponent":1}`,
  }),
  // 3: modular powers of 1,000-digit operands (the issue: ~100 ms of loop each).
  'modular 1,000 digits': (i) => ({
    class: 'modular 1,000 digits',
    method: 'POST',
    path: '/api/v1/math/power',
    body: JSON.stringify({
      base: numeral(1000, i),
      exponent: numeral(1000, i + 1),
      modulus: `${numeral(999, i + 2)}7`,
    }),
  }),
  // 4: an operand shaped to make a backtracking pattern quadratic, as large as the body allows.
  'ReDoS operand': () => ({
    class: 'ReDoS operand',
    method: 'POST',
    path: '/api/v1/math/power',
    body: JSON.stringify({ base: `${'1'.repeat(60_000)}x`, exponent: 2 }),
  }),
  // 6: two 10,000-digit operands, to grow storage.
  'storage 10,000 digits': (i) => ({
    class: 'storage 10,000 digits',
    method: 'POST',
    path: '/api/v1/math/power',
    body: JSON.stringify({ base: numeral(10_000, i), exponent: 3, modulus: `${numeral(9999, i + 5)}1` }),
  }),
  // 7: distinct results of ~2 million digits, to fill the shared cache.
  'huge distinct results': (i) => ({
    class: 'huge distinct results',
    method: 'GET',
    path: `/api/v1/math/fibonacci/${10_000_000 - (i % 1_000_000)}`,
  }),
  // 9: two file parts.
  'two file parts': () => ({ class: 'two file parts', method: 'POST', path: '/api/v1/files', ...twoFiles() }),
}

const READ_CLASSES: Record<string, (i: number) => AttackRequest> = {
  // 1 by GET: n and operands spelled with exponents and fractions.
  'spellings (GET)': (i) => ({
    class: 'spellings (GET)',
    method: 'GET',
    path: `/api/v1/math/power?base=7.0&exponent=${(40_000 + (i % 1_000_000)) / 10}e1`,
  }),
  // 3 by GET.
  'modular 1,000 digits (GET)': (i) => ({
    class: 'modular 1,000 digits (GET)',
    method: 'GET',
    path: `/api/v1/math/power?base=${numeral(1000, i + 7)}&exponent=${numeral(1000, i + 8)}&modulus=${numeral(999, i + 9)}3`,
  }),
  // 4 by GET: as long a query as the header limit allows.
  'ReDoS operand (GET)': () => ({
    class: 'ReDoS operand (GET)',
    method: 'GET',
    path: `/api/v1/math/power?base=${'1'.repeat(12_000)}x&exponent=2`,
  }),
}

/**
 * Not one of the issue's classes, measured alone with --classes: a cached 2-million-digit result read
 * again and again (20 MB/s of answers at the read budget). Each answer leaves in 64 KiB pieces, so no
 * piece holds the loop long, but the bytes still cost CPU to send.
 */
const EXTRA_READ_CLASSES: Record<string, (i: number) => AttackRequest> = {
  'huge cached result (not in the mix)': () => ({
    class: 'huge cached result (not in the mix)',
    method: 'GET',
    path: '/api/v1/math/fibonacci/10000000',
  }),
}

/** 8: readiness, anonymous, not rate limited. */
const READY: AttackRequest = { class: 'readiness', method: 'GET', path: '/health/ready', anonymous: true }

async function attack(): Promise<void> {
  ensureBuilt()
  const seconds = Number(values.seconds)
  const rounds = Number(values.rounds)
  const pgUrl = process.env.BENCH_DATABASE_URL
  const schema = `bench_hostile_${process.pid}`
  const databaseUrl = pgUrl ? `${pgUrl}${pgUrl.includes('?') ? '&' : '?'}schema=${schema}` : undefined
  const where = `${databaseUrl ? 'PostgreSQL' : 'SQLite'}${process.env.BENCH_REDIS_URL ? ' + Redis' : ''}`
  const delayFile = join(tmpdir(), `mathapi-loop-delay-${process.pid}-${randomBytes(4).toString('hex')}.json`)
  const service = await startService({
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(process.env.BENCH_REDIS_URL ? { redisUrl: process.env.BENCH_REDIS_URL } : {}),
    nodeArgs: ['--import', join(ROOT, 'bench/loop-probe-preload.mjs')],
    // The defaults a deployment has: the attacker gets exactly what any user gets.
    env: {
      RATE_LIMIT_READ: '600',
      RATE_LIMIT_WRITE: '120',
      LOG_LEVEL: 'error',
      BENCH_LOOP_DELAY_FILE: delayFile,
    },
  })
  const workers = process.env.MATH_WORKERS ?? 'one per core'

  const loopDelay = async (): Promise<LoopReport> => {
    rmSync(delayFile, { force: true })
    writeFileSync(`${delayFile}.ask`, '')
    // A starved or blocked service answers late: that is a finding, not a reason to give up.
    for (let i = 0; i < 1500; i++) {
      await sleep(20)
      try {
        return JSON.parse(readFileSync(delayFile, 'utf8')) as LoopReport
      } catch {}
    }
    throw new Error('the service did not report its event-loop delay')
  }

  try {
    const user = { username: 'attacker', email: 'attacker@example.com', password: 'attacker-pass-1234' }
    if ((await api(service.url, 'POST', '/auth/register', user)).status !== 201)
      throw new Error('register failed')
    const token = await login(service.url, user.username, user.password)
    // The cached huge result the read class asks for again and again (computing it is not the point).
    await fetch(`${service.url}/api/v1/math/fibonacci/10000000`, {
      headers: { authorization: `Bearer ${token}` },
    })

    interface PhaseResult {
      label: string
      delay: LoopReport
      live: number[]
      statuses: Map<string, Map<number, number>>
      sent: number
    }

    const runPhase = async (
      label: string,
      writeClasses: string[],
      readClasses: string[],
      ready: boolean,
    ): Promise<PhaseResult> => {
      const statuses = new Map<string, Map<number, number>>()
      const count = (name: string, status: number) => {
        const byStatus = statuses.get(name) ?? new Map<number, number>()
        byStatus.set(status, (byStatus.get(status) ?? 0) + 1)
        statuses.set(name, byStatus)
      }
      const inFlight = new Set<Promise<void>>()
      let sent = 0
      const send = (request: AttackRequest) => {
        sent++
        const done = fetch(`${service.url}${request.path}`, {
          method: request.method,
          headers: {
            ...(request.anonymous ? {} : { authorization: `Bearer ${token}` }),
            ...(request.body === undefined ? {} : { 'content-type': request.type ?? 'application/json' }),
          },
          ...(request.body === undefined ? {} : { body: request.body }),
          signal: AbortSignal.timeout(60_000),
        })
          .then(async (response) => {
            await response.arrayBuffer()
            count(request.class, response.status)
          })
          .catch(() => count(request.class, 0))
          .finally(() => inFlight.delete(done))
        inFlight.add(done)
      }
      const schedule = (
        perSecond: number,
        next: (i: number) => AttackRequest | undefined,
        stop: () => boolean,
      ) =>
        (async () => {
          const started = performance.now()
          for (let i = 0; !stop(); i++) {
            const request = next(i)
            if (request) send(request)
            await sleep(Math.max(0, started + ((i + 1) * 1000) / perSecond - performance.now()))
          }
        })()

      await loopDelay() // start the phase's histogram afresh
      const live: number[] = []
      const ends = performance.now() + seconds * 1000
      const over = () => performance.now() >= ends
      // Distinct operands in every phase and run, small enough to stay in range where a class needs it.
      const salt = Math.floor(Math.random() * 1000) * 1000
      const generators = [
        writeClasses.length > 0
          ? schedule(
              WRITES_PER_SECOND,
              (i) => WRITE_CLASSES[writeClasses[i % writeClasses.length]!]!(salt + i),
              over,
            )
          : Promise.resolve(),
        readClasses.length > 0
          ? schedule(
              READS_PER_SECOND,
              (i) => {
                const name = readClasses[i % readClasses.length]!
                return (READ_CLASSES[name] ?? EXTRA_READ_CLASSES[name])!(salt + i)
              },
              over,
            )
          : Promise.resolve(),
        ready ? schedule(READY_PROBES_PER_SECOND, () => READY, over) : Promise.resolve(),
        (async () => {
          while (!over()) {
            const started = performance.now()
            const response = await fetch(`${service.url}/health/live`)
            await response.arrayBuffer()
            live.push(performance.now() - started)
            await sleep(Math.max(0, started + PROBE_INTERVAL_MS - performance.now()))
          }
        })(),
      ]
      await Promise.all(generators)
      const delay = await loopDelay()
      // Let the phase's stragglers finish outside the next phase's measurement.
      await Promise.race([Promise.all(inFlight), sleep(30_000)])
      console.error(
        `${label}: longest callback ${delay.callback?.max} ms; loop held max ${delay.held.max} ms, p99 ${delay.held.p99} ms; delay max ${delay.delay.max} ms, p99 ${delay.delay.p99} ms; /health/live p99 ${percentile(live, 0.99).toFixed(1)} ms, max ${Math.max(...live).toFixed(1)} ms; ${sent} attack requests`,
      )
      return { label, delay, live, statuses, sent }
    }

    const allWrites = Object.keys(WRITE_CLASSES)
    const allReads = Object.keys(READ_CLASSES)
    const baseline: PhaseResult[] = []
    const attacked: PhaseResult[] = []
    // A short warm-up of both, not counted.
    await runPhase('warm-up', allWrites, allReads, true)
    for (let round = 0; round < rounds; round++) {
      baseline.push(await runPhase(`no attack, round ${round + 1}`, [], [], false))
      attacked.push(await runPhase(`attack mix, round ${round + 1}`, allWrites, allReads, true))
    }
    const perClass: PhaseResult[] = []
    if (values.classes) {
      for (const name of allWrites) perClass.push(await runPhase(`alone: ${name}`, [name], [], false))
      for (const name of [...allReads, ...Object.keys(EXTRA_READ_CLASSES)]) {
        perClass.push(await runPhase(`alone: ${name}`, [], [name], false))
      }
      perClass.push(await runPhase('alone: readiness', [], [], true))
    }

    const figures = (phases: PhaseResult[]) => ({
      callback: median(phases.map((phase) => phase.delay.callback?.max ?? Number.NaN)),
      callbackWorst: Math.max(...phases.map((phase) => phase.delay.callback?.max ?? Number.NaN)),
      held: median(phases.map((phase) => phase.delay.held.max)),
      heldWorst: Math.max(...phases.map((phase) => phase.delay.held.max)),
      heldP99: median(phases.map((phase) => phase.delay.held.p99)),
      delay: median(phases.map((phase) => phase.delay.delay.max)),
      delayP99: median(phases.map((phase) => phase.delay.delay.p99)),
      liveP50: median(phases.map((phase) => percentile(phase.live, 0.5))),
      liveP99: median(phases.map((phase) => percentile(phase.live, 0.99))),
      liveMax: median(phases.map((phase) => Math.max(...phase.live))),
    })
    type Figures = ReturnType<typeof figures>
    const cells = (f: Figures) =>
      [f.callback, f.held, f.heldP99, f.delay, f.delayP99, f.liveP50, f.liveP99, f.liveMax].map((x) =>
        x.toFixed(1),
      )
    const header =
      '| longest callback ms | longest loop turn ms | loop turn p99 ms | loop delay, worst ms | loop delay p99 ms | /health/live p50 ms | /health/live p99 ms | /health/live max ms |'
    console.log(
      `\n${machineLine()}; ${where}; service dist/server.js, MATH_WORKERS ${workers}, RATE_LIMIT_WRITE 120/min and RATE_LIMIT_READ 600/min (defaults); ${rounds} rounds of ${seconds} s per phase, alternating; /health/live asked every ${PROBE_INTERVAL_MS} ms; medians over rounds\n`,
    )
    console.log(
      '"Longest callback": CPU time of the longest single callback on the loop (one piece of one request);',
    )
    console.log(
      '"loop turn": the loop\'s CPU time between two 1 ms ticks (a starved loop works off a backlog in one turn);',
    )
    console.log(
      '"loop delay": how late a 1 ms timer fired by the wall clock (it also counts waiting for a core).\n',
    )
    if (rounds > 0) {
      const quiet = figures(baseline)
      const loud = figures(attacked)
      console.log(`| phase ${header}`)
      console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
      console.log(`| no attack | ${cells(quiet).join(' | ')} |`)
      console.log(`| attack mix, one user at full budget | ${cells(loud).join(' | ')} |`)
      const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`
      console.log(
        `| attack / no attack | ${[
          ratio(loud.callback, quiet.callback),
          ratio(loud.held, quiet.held),
          ratio(loud.heldP99, quiet.heldP99),
          ratio(loud.delay, quiet.delay),
          ratio(loud.delayP99, quiet.delayP99),
          ratio(loud.liveP50, quiet.liveP50),
          ratio(loud.liveP99, quiet.liveP99),
          ratio(loud.liveMax, quiet.liveMax),
        ].join(' | ')} |`,
      )
      console.log(
        `\nWorst single phase: longest callback ${quiet.callbackWorst.toFixed(1)} ms without the attack, ${loud.callbackWorst.toFixed(1)} ms with it; longest loop turn ${quiet.heldWorst.toFixed(1)} and ${loud.heldWorst.toFixed(1)} ms.`,
      )
    }
    if (perClass.length > 0) {
      console.log('\nOne class alone, one phase each:\n')
      console.log(`| class ${header}`)
      console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
      for (const phase of perClass) {
        console.log(`| ${phase.label.replace('alone: ', '')} | ${cells(figures([phase])).join(' | ')} |`)
      }
    }
    console.log('\nAttack answers, all attack phases (status × count; 0 = no answer within 60 s):\n')
    const totals = new Map<string, Map<number, number>>()
    for (const phase of attacked) {
      for (const [name, byStatus] of phase.statuses) {
        const total = totals.get(name) ?? new Map<number, number>()
        for (const [status, n] of byStatus) total.set(status, (total.get(status) ?? 0) + n)
        totals.set(name, total)
      }
    }
    for (const [name, byStatus] of totals) {
      const text = [...byStatus].sort(([a], [b]) => a - b).map(([status, n]) => `${status} × ${n}`)
      console.log(`- ${name}: ${text.join(', ')}`)
    }
  } finally {
    await service.stop()
    rmSync(delayFile, { force: true })
    rmSync(`${delayFile}.ask`, { force: true })
    if (pgUrl) {
      const client = new pg.Client({ connectionString: pgUrl })
      await client.connect()
      await client.query(`drop schema if exists "${schema}" cascade`)
      await client.end()
    }
  }
}

if (values.calibrate) calibrate()
else await attack()
