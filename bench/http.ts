/**
 * Whole-service HTTP throughput against the ceiling for Node on this machine, over loopback.
 * Every server is a child process; autocannon (64 connections) runs in this process, so it shares the
 * machine's cores with the server under test, as any single-box benchmark does.
 * Run: npm run bench:http   (about 1 minute on SQLite alone, 2.5 with PostgreSQL + Redis)
 *   BENCH_DATABASE_URL=postgres://… [BENCH_REDIS_URL=redis://…]  adds rows on PostgreSQL (+ Redis), in a
 *     fresh schema dropped afterwards; with Redis also BENCH_PROCESSES (default 2) copies behind one port
 *   BENCH_SECONDS (default 8) measured per row, after a 3 s warm-up that is not counted
 *   BENCH_PROFILE=dir  a CPU profile (--cpu-prof) of a service serving only the SQLite fibonacci row
 *   BENCH_ONLY=fib     the ceiling and the fibonacci rows only
 */
import { spawn } from 'node:child_process'
import pg from 'pg'
import {
  autocannon,
  ensureBuilt,
  freePort,
  type LoadOptions,
  type LoadResult,
  machineLine,
  type Service,
  seed,
  sleep,
  startService,
} from './load.js'

const CONNECTIONS = 64
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8)
const WARMUP_SECONDS = 3
const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 2)
/** BENCH_ONLY=fib: the ceiling and the fibonacci rows only (for profiling and quick comparisons). */
const ONLY = process.env.BENCH_ONLY

interface Row {
  label: string
  result: LoadResult
}
const rows: Row[] = []

/** Warm-up run (discarded), then the measured run. */
async function measure(label: string, options: LoadOptions): Promise<void> {
  await autocannon({ ...options, connections: CONNECTIONS, duration: WARMUP_SECONDS })
  const result = await autocannon({ ...options, connections: CONNECTIONS, duration: SECONDS })
  rows.push({ label, result })
  const bad = result.non2xx + result.errors + result.timeouts
  console.error(
    `${label}: ${Math.round(result.requests.average)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms${bad ? `, ${bad} failed` : ''}`,
  )
}

async function ceiling(): Promise<void> {
  const port = await freePort()
  const source = `
    const body = JSON.stringify({ operation: 'fibonacci', input: { n: 10 }, result: '55', exact: true, digits: 2, cached: true, computeMs: 0 })
    require('node:http').createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    }).listen(${port}, '127.0.0.1', () => process.send('ready'))`
  const child = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  await new Promise<void>((ready, fail) => {
    child.once('message', () => ready())
    child.once('exit', (code) => fail(new Error(`ceiling server exited with ${code}`)))
  })
  try {
    await measure('node:http, small JSON (ceiling)', { url: `http://127.0.0.1:${port}/` })
  } finally {
    child.kill('SIGTERM')
  }
}

/** The three service rows against one running service. */
async function serviceRows(service: Service, where: string, profileDir?: string): Promise<void> {
  const { userToken } = await seed(service.url)
  const auth = { authorization: `Bearer ${userToken}` }
  const fib = `${service.url}/api/v1/math/fibonacci/1000`
  const products = `${service.url}/api/v1/products?page=1&pageSize=20&sortBy=price&sortOrder=asc`
  // Cache warm before the warm-up: the first call computes, every later one is a cache hit.
  if ((await fetch(fib, { headers: auth })).status !== 200) throw new Error('fibonacci warm-up failed')
  if ((await fetch(products)).status !== 200) throw new Error('products warm-up failed')
  await measure(`GET /math/fibonacci/1000, ${where}${profileDir ? ' (profiled)' : ''}`, {
    url: fib,
    headers: auth,
  })
  // A profile covers the service's whole life, so a profiled service serves the fibonacci row only.
  if (profileDir || ONLY === 'fib') return
  await measure(`GET /products?… (cached list), ${where}`, { url: products })
  await measure(`POST /tasks, ${where}`, {
    url: `${service.url}/api/v1/tasks`,
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Benchmark task', description: 'written by bench:http', priority: 'high' }),
  })
}

async function withService(
  where: string,
  options: Parameters<typeof startService>[0],
  profileDir?: string,
): Promise<void> {
  const service = await startService({
    ...options,
    ...(profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {}),
  })
  try {
    await serviceRows(service, where, profileDir)
  } finally {
    await service.stop()
  }
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const parsed = new URL(url)
  parsed.searchParams.delete('schema')
  const client = new pg.Client({ connectionString: parsed.toString() })
  await client.connect()
  try {
    await client.query(`drop schema if exists "${schema}" cascade`)
  } finally {
    await client.end()
  }
}

ensureBuilt()
const started = performance.now()
await ceiling()
await withService('SQLite, 1 process', {}, process.env.BENCH_PROFILE)
const pgUrl = process.env.BENCH_DATABASE_URL
const redisUrl = process.env.BENCH_REDIS_URL
if (pgUrl) {
  const where = redisUrl ? 'PostgreSQL + Redis' : 'PostgreSQL'
  // Several processes need Redis (user-state invalidation, shared cache versions and rate limits).
  const counts = redisUrl && PROCESSES > 1 ? [1, PROCESSES] : [1]
  for (const processes of counts) {
    const schema = `bench_http_${process.pid}_${processes}`
    try {
      await withService(`${where}, ${processes} process${processes > 1 ? 'es' : ''}`, {
        databaseUrl: `${pgUrl}${pgUrl.includes('?') ? '&' : '?'}schema=${schema}`,
        ...(redisUrl ? { redisUrl } : {}),
        processes,
      })
    } finally {
      await dropSchema(pgUrl, schema)
    }
  }
}

const ceilingRate = rows[0]?.result.requests.average ?? 1
console.log(
  `\n${machineLine()}; autocannon ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up then ${SECONDS} s measured per row, in the same machine; service: dist/server.js, LOG_LEVEL=warn, rate limits raised\n`,
)
console.log('| # | server and request | requests/s | p50 ms | p99 ms | failed | vs row 1 |')
console.log('|---:|---|---:|---:|---:|---:|---:|')
rows.forEach(({ label, result }, i) => {
  const rate = result.requests.average
  const failed = result.non2xx + result.errors + result.timeouts
  console.log(
    `| ${i + 1} | ${label} | ${Math.round(rate).toLocaleString('en')} | ${result.latency.p50} | ${result.latency.p99} | ${failed} | ${((rate / ceilingRate) * 100).toFixed(0)}% |`,
  )
})
console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s in all)`)
await sleep(0)
