/**
 * Soak: one service (dist/server.js, SQLite unless BENCH_DATABASE_URL/BENCH_REDIS_URL are given) under a
 * fixed mixed load for a bounded time. Every interval it prints the service's RSS, heap used, event-loop
 * delay p99 (from /metrics, reset at each scrape) and the request and error rates; at the end it checks
 * zero errors, RSS growth within a bound, and that the load generator kept the fixed rate.
 * Run: npm run bench:soak [-- --seconds 300] [--interval 30] [--max-rss-growth-mb 64]
 */
import { parseArgs } from 'node:util'
import pg from 'pg'
import {
  ADMIN,
  autocannon,
  ensureBuilt,
  type LoadInstance,
  type LoadRequest,
  type LoadResult,
  machineLine,
  seed,
  sleep,
  startService,
} from './load.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '300' },
    interval: { type: 'string' },
    'max-rss-growth-mb': { type: 'string', default: '64' },
  },
})
const SECONDS = Number(values.seconds)
const INTERVAL = Number(values.interval ?? (SECONDS >= 120 ? 30 : 15))
const MAX_RSS_GROWTH_MB = Number(values['max-rss-growth-mb'])
if (!(SECONDS >= 10 && INTERVAL >= 5 && INTERVAL <= SECONDS)) {
  throw new Error('--seconds must be at least 10 and --interval between 5 and --seconds')
}
/** Below this share of the intended rate the run says so: the generator, not the service, fell behind. */
const MIN_RATE_SHARE = 0.95

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T

interface Stream {
  name: string
  rate: number
  connections: number
  request: LoadRequest
}

function streams(userToken: string, username: string, password: string): Stream[] {
  const auth = { authorization: `Bearer ${userToken}` }
  const json = { 'content-type': 'application/json' }
  return [
    {
      // 400 distinct small inputs: each computed once (inline, no worker), then served from the cache.
      name: 'GET /math/{fibonacci,factorial}/{0..199}',
      rate: 80,
      connections: 8,
      request: {
        headers: auth,
        setupRequest: (request) => {
          request.path = `/api/v1/math/${pick(['fibonacci', 'factorial'])}/${Math.floor(Math.random() * 200)}`
          return request
        },
      },
    },
    {
      name: 'GET /history?limit=20',
      rate: 40,
      connections: 4,
      request: { path: '/api/v1/history?limit=20', headers: auth },
    },
    {
      name: 'GET /products?… (cached list)',
      rate: 80,
      connections: 8,
      request: {
        setupRequest: (request) => {
          request.path = `/api/v1/products?page=${pick([1, 2, 3])}&pageSize=20&sortBy=${pick(['price', 'name', 'createdAt'])}`
          return request
        },
      },
    },
    {
      name: 'POST /tasks',
      rate: 20,
      connections: 4,
      request: {
        method: 'POST',
        path: '/api/v1/tasks',
        headers: { ...auth, ...json },
        body: JSON.stringify({ title: 'Soak task', description: 'written by bench:soak', priority: 'low' }),
      },
    },
    {
      name: 'GET /tasks?pageSize=20',
      rate: 30,
      connections: 4,
      request: { path: '/api/v1/tasks?pageSize=20', headers: auth },
    },
    {
      // argon2id verification each time: a modest rate, as real logins are.
      name: 'POST /auth/login',
      rate: 2,
      connections: 2,
      request: {
        method: 'POST',
        path: '/api/v1/auth/login',
        headers: json,
        body: JSON.stringify({ username, password }),
      },
    },
  ]
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `))
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1))
}

ensureBuilt()
const pgUrl = process.env.BENCH_DATABASE_URL
const schema = `bench_soak_${process.pid}`
const databaseUrl = pgUrl ? `${pgUrl}${pgUrl.includes('?') ? '&' : '?'}schema=${schema}` : undefined
const service = await startService({
  ...(databaseUrl ? { databaseUrl } : {}),
  ...(process.env.BENCH_REDIS_URL ? { redisUrl: process.env.BENCH_REDIS_URL } : {}),
})
const where = `${databaseUrl ? 'PostgreSQL' : 'SQLite'}${process.env.BENCH_REDIS_URL ? ' + Redis' : ''}`

interface Sample {
  t: number
  rssMb: number
  heapMb: number
  lagP99Ms: number
  rate: number
  errors: number
}
const samples: Sample[] = []
let failed = false
try {
  const { userToken, user } = await seed(service.url, 60)
  const mix = streams(userToken, user.username, user.password)
  const intended = mix.reduce((sum, stream) => sum + stream.rate, 0)
  console.error(
    `soak: ${SECONDS} s at ${intended} req/s against ${where} (admin ${ADMIN.username}), a sample every ${INTERVAL} s`,
  )
  let responses = 0
  let errors = 0
  const statuses = new Map<string, number>()
  const results: Promise<LoadResult>[] = []
  const instances: LoadInstance[] = []
  for (const stream of mix) {
    results.push(
      new Promise((resolve, reject) => {
        const instance = autocannon(
          {
            url: service.url,
            connections: stream.connections,
            overallRate: stream.rate,
            duration: SECONDS,
            timeout: 10,
            requests: [stream.request],
          },
          (error, result) => (error ? reject(error) : resolve(result)),
        )
        instance.on('response', (_client, statusCode) => {
          responses++
          if (statusCode >= 400) {
            errors++
            const key = `${stream.name} → ${statusCode}`
            statuses.set(key, (statuses.get(key) ?? 0) + 1)
          }
        })
        instance.on('reqError', (error) => {
          errors++
          const key = `${stream.name} → ${error.message}`
          statuses.set(key, (statuses.get(key) ?? 0) + 1)
        })
        instances.push(instance)
      }),
    )
  }

  const started = performance.now()
  let lastResponses = 0
  let lastAt = started
  const sampler = (async () => {
    for (let next = INTERVAL; next <= SECONDS; next += INTERVAL) {
      await sleep(Math.max(0, started + next * 1000 - performance.now()))
      const now = performance.now()
      const text = await (await fetch(`${service.url}/metrics`)).text()
      const sample = {
        t: Math.round((now - started) / 1000),
        rssMb: metric(text, 'process_resident_memory_bytes') / 2 ** 20,
        heapMb: metric(text, 'nodejs_heap_size_used_bytes') / 2 ** 20,
        lagP99Ms: metric(text, 'nodejs_eventloop_lag_p99_seconds') * 1000,
        rate: (responses - lastResponses) / ((now - lastAt) / 1000),
        errors,
      }
      lastResponses = responses
      lastAt = now
      samples.push(sample)
      console.error(
        `t=${sample.t}s rss ${sample.rssMb.toFixed(1)} MB, heap ${sample.heapMb.toFixed(1)} MB, ELD p99 ${sample.lagP99Ms.toFixed(1)} ms, ${sample.rate.toFixed(0)} req/s, ${errors} errors`,
      )
    }
  })()
  const finished = await Promise.all(results)
  await sampler

  console.log(
    `\n${machineLine()}; soak ${SECONDS} s, ${where}, service dist/server.js (LOG_LEVEL=warn, rate limits raised), fixed mixed rate ${intended} req/s\n`,
  )
  console.log('| t s | RSS MB | heap used MB | event-loop delay p99 ms | requests/s | errors (cumulative) |')
  console.log('|---:|---:|---:|---:|---:|---:|')
  for (const s of samples) {
    console.log(
      `| ${s.t} | ${s.rssMb.toFixed(1)} | ${s.heapMb.toFixed(1)} | ${s.lagP99Ms.toFixed(1)} | ${s.rate.toFixed(0)} | ${s.errors} |`,
    )
  }
  console.log('\n| stream | intended req/s | achieved req/s | p50 ms | p99 ms | errors |')
  console.log('|---|---:|---:|---:|---:|---:|')
  let achieved = 0
  finished.forEach((result, i) => {
    const stream = mix[i] as Stream
    const rate = result.requests.total / SECONDS
    achieved += rate
    console.log(
      `| ${stream.name} | ${stream.rate} | ${rate.toFixed(1)} | ${result.latency.p50} | ${result.latency.p99} | ${result.non2xx + result.errors + result.timeouts} |`,
    )
  })
  for (const [what, count] of statuses) console.log(`error: ${what} × ${count}`)

  const first = samples[0] as Sample
  const last = samples.at(-1) as Sample
  const growth = last.rssMb - first.rssMb
  const peak = Math.max(...samples.map((s) => s.rssMb))
  const worstLag = Math.max(...samples.map((s) => s.lagP99Ms))
  const totalErrors = errors + finished.reduce((sum, r) => sum + r.timeouts, 0)
  const checks = [
    { ok: totalErrors === 0, text: `errors ${totalErrors} (must be 0)` },
    {
      ok: growth < MAX_RSS_GROWTH_MB,
      text: `RSS ${first.rssMb.toFixed(1)} MB at t=${first.t}s → ${last.rssMb.toFixed(1)} MB at t=${last.t}s, growth ${growth.toFixed(1)} MB (bound ${MAX_RSS_GROWTH_MB} MB; peak ${peak.toFixed(1)} MB)`,
    },
    {
      ok: achieved >= intended * MIN_RATE_SHARE,
      text: `rate ${achieved.toFixed(1)} of ${intended} req/s intended (at least ${MIN_RATE_SHARE * 100}%)`,
    },
  ]
  failed = checks.some((check) => !check.ok)
  console.log('')
  for (const check of checks) console.log(`${check.ok ? 'ok  ' : 'FAIL'} ${check.text}`)
  console.log(`worst event-loop delay p99 over an interval: ${worstLag.toFixed(1)} ms`)
  console.log(`\n${failed ? 'FAIL' : 'PASS'}`)
  for (const instance of instances) instance.stop()
} finally {
  await service.stop()
  if (pgUrl) {
    const parsed = new URL(pgUrl)
    parsed.searchParams.delete('schema')
    const client = new pg.Client({ connectionString: parsed.toString() })
    await client.connect()
    await client.query(`drop schema if exists "${schema}" cascade`)
    await client.end()
  }
}
process.exitCode = failed ? 1 : 0
