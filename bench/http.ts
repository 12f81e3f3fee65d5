/**
 * Whole-service HTTP cost against bare servers, side by side in one run, over loopback.
 *
 * Every server is its own process, started once and kept up: bare node:http and bare Fastify answering the
 * exact bytes the service answers for GET /math/fibonacci/1000, and the service itself (dist/server.js as
 * shipped: default LOG_LEVEL, stdout to /dev/null) on SQLite, and on PostgreSQL + Redis when
 * BENCH_DATABASE_URL / BENCH_REDIS_URL are given. Rounds are interleaved: each round loads every target in
 * turn (the order rotates), so a noisy neighbour on this shared 2-core machine hits all of them alike. A
 * target's ratio is taken per round against the bare node:http server of that round; the table shows
 * medians over rounds. CPU µs per request is the server process's own user+sys time (all its threads,
 * from /proc/<pid>/stat) over the requests it answered; PostgreSQL's and Redis's own CPU is not in it.
 *
 * Load: wrk (one thread, 64 connections) when it is on PATH (`apt-get install wrk`), otherwise autocannon
 * in this process (which then competes with the servers for the 2 cores; the table says which was used).
 *
 * Run: npm run bench:http   (about 4 minutes with every row on both databases; BENCH_ONLY=fib about 2)
 *   BENCH_DATABASE_URL=postgres://… BENCH_REDIS_URL=redis://…  adds the PostgreSQL + Redis rows (a fresh
 *     schema and key prefix, both removed afterwards)
 *   BENCH_ROUNDS (default 5), BENCH_SECONDS (default 5) per target per round, after a 3 s warm-up each
 *   BENCH_ONLY=fib      the fibonacci rows only (no products list, no task writes)
 *   BENCH_PROFILE=dir   the services run under --cpu-prof (a profile per service, written at exit into dir;
 *     summarise one with bench/profile-summary.ts)
 *   BENCH_LOG_LEVEL     the service's LOG_LEVEL (default: unset, i.e. the service's own default)
 *   BENCH_ALSO_LOG_LEVEL=warn  adds the SQLite service at that LOG_LEVEL (fibonacci row): the log's cost
 *   BENCH_BASELINE=dir  also runs the service built in another checkout (its dist/server.js, with its
 *     node_modules), in the same interleaved rounds: before and after, side by side. For example:
 *     git archive <rev> | tar -x -C /tmp/base && ln -s $PWD/node_modules /tmp/base/ &&
 *     (cd /tmp/base && npx tsc -p tsconfig.build.json)
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Redis } from 'ioredis'
import pg from 'pg'
import {
  autocannon,
  ensureBuilt,
  freePort,
  machineLine,
  ROOT,
  type Service,
  seed,
  startService,
} from './load.js'

const CONNECTIONS = 64
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const WARMUP_SECONDS = 3
const ONLY_FIB = process.env.BENCH_ONLY === 'fib'
const PROFILE_DIR = process.env.BENCH_PROFILE
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL
const ALSO_LOG_LEVEL = process.env.BENCH_ALSO_LOG_LEVEL
const BASELINE = process.env.BENCH_BASELINE ? resolve(process.env.BENCH_BASELINE) : undefined
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100

function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' })
    return true
  } catch (error) {
    // wrk --version prints its version and exits 1.
    return (error as { status?: number }).status === 1
  }
}
const WRK = hasWrk()

interface Request {
  url: string
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
}

interface Target {
  label: string
  /** Rows are grouped by request; each group's ratio is against bare node:http. */
  pid: number
  request: Request
}

interface Sample {
  requests: number
  seconds: number
  rate: number
  p50: number
  p99: number
  failed: number
  cpuMicros: number
}

/** user+sys CPU time of a process and all its threads, in µs (Linux). */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  return (ticks / CLOCK_TICKS) * 1e6
}

const toMs = (value: string): number => {
  const match = /^([\d.]+)(us|ms|s)$/.exec(value.trim())
  if (!match) throw new Error(`unreadable wrk latency ${value}`)
  const n = Number(match[1])
  return match[2] === 'us' ? n / 1000 : match[2] === 's' ? n * 1000 : n
}

function runWrk(request: Request, seconds: number): Promise<Omit<Sample, 'cpuMicros'>> {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '--timeout', '10s']
  for (const [name, value] of Object.entries(request.headers ?? {})) args.push('-H', `${name}: ${value}`)
  if (request.method === 'POST') {
    const script = `wrk.method = "POST"; wrk.body = ${JSON.stringify(request.body ?? '')}`
    args.push('-s', '/dev/stdin')
    return wrkProcess([...args, request.url], script)
  }
  return wrkProcess([...args, request.url])
}

function wrkProcess(args: string[], stdin?: string): Promise<Omit<Sample, 'cpuMicros'>> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['pipe', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.stdin.end(stdin ?? '')
    child.once('error', reject)
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited with ${code}: ${out}`))
      const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out)
      const p50 = /^\s+50%\s+(\S+)/m.exec(out)
      const p99 = /^\s+99%\s+(\S+)/m.exec(out)
      if (!total || !p50 || !p99) return reject(new Error(`unreadable wrk output: ${out}`))
      const unit = total[3]
      const seconds = Number(total[2]) * (unit === 'm' ? 60 : unit === 'ms' ? 1e-3 : unit === 'us' ? 1e-6 : 1)
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
      const errors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0
      const requests = Number(total[1])
      resolve({
        requests,
        seconds,
        rate: requests / seconds,
        p50: toMs(p50[1]!),
        p99: toMs(p99[1]!),
        failed: non2xx + errors,
      })
    })
  })
}

async function runAutocannon(request: Request, seconds: number): Promise<Omit<Sample, 'cpuMicros'>> {
  const result = await autocannon({
    url: request.url,
    connections: CONNECTIONS,
    duration: seconds,
    ...(request.method ? { method: request.method } : {}),
    ...(request.headers ? { headers: request.headers } : {}),
    ...(request.body ? { body: request.body } : {}),
  })
  return {
    requests: result.requests.total,
    seconds,
    rate: result.requests.total / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failed: result.non2xx + result.errors + result.timeouts,
  }
}

async function load(target: Target, seconds: number): Promise<Sample> {
  const before = cpuMicros(target.pid)
  const sample = WRK ? await runWrk(target.request, seconds) : await runAutocannon(target.request, seconds)
  const cpu = cpuMicros(target.pid) - before
  return { ...sample, cpuMicros: sample.requests > 0 ? cpu / sample.requests : 0 }
}

/** A bare server in its own process answering every request with `body` (the service's own answer). */
async function bareServer(
  kind: 'node' | 'fastify',
  body: string,
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort()
  const source =
    kind === 'node'
      ? `
    const body = ${JSON.stringify(body)}
    require('node:http').createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    }).listen(${port}, '127.0.0.1', () => process.send('ready'))`
      : `
    const value = JSON.parse(${JSON.stringify(body)})
    const app = require('fastify')({ logger: false })
    app.get('/api/v1/math/fibonacci/:n', async () => value)
    app.listen({ port: ${port}, host: '127.0.0.1' }).then(() => process.send('ready'))`
  const child = spawn(process.execPath, ['-e', source], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  await new Promise<void>((ready, fail) => {
    child.once('message', () => ready())
    child.once('exit', (code) => fail(new Error(`bare ${kind} server exited with ${code}`)))
  })
  return { url: `http://127.0.0.1:${port}`, child }
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

/** Our own prefix only: the Redis is shared. */
async function dropRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url)
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await redis.unlink(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}

const FIB = '/api/v1/math/fibonacci/1000'
const PRODUCTS = '/api/v1/products?page=1&pageSize=20&sortBy=price&sortOrder=asc'

/** The service's targets: the fibonacci call, and (unless BENCH_ONLY=fib) a cached list and a write. */
async function serviceTargets(service: Service, where: string): Promise<Target[]> {
  const { userToken } = await seed(service.url)
  const auth = { authorization: `Bearer ${userToken}` }
  // Warm before the warm-up: the first call computes, every later one is a cache hit.
  if ((await fetch(service.url + FIB, { headers: auth })).status !== 200) throw new Error('fibonacci failed')
  if ((await fetch(service.url + PRODUCTS)).status !== 200) throw new Error('products failed')
  const pid = service.child.pid!
  const targets: Target[] = [
    {
      label: `service, ${where}: GET /math/fibonacci/1000`,
      pid,
      request: { url: service.url + FIB, headers: auth },
    },
  ]
  if (!ONLY_FIB) {
    targets.push(
      {
        label: `service, ${where}: GET /products?… (cached list)`,
        pid,
        request: { url: service.url + PRODUCTS },
      },
      {
        label: `service, ${where}: POST /tasks`,
        pid,
        request: {
          url: `${service.url}/api/v1/tasks`,
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({
            title: 'Benchmark task',
            description: 'written by bench:http',
            priority: 'high',
          }),
        },
      },
    )
  }
  return targets
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

ensureBuilt()
const started = performance.now()
const cleanups: (() => Promise<void>)[] = []
const serviceEnv: Record<string, string> = LOG_LEVEL ? { LOG_LEVEL } : {}
const running: { name: string; service: Service }[] = []
try {
  const pgUrl = process.env.BENCH_DATABASE_URL
  const redisUrl = process.env.BENCH_REDIS_URL
  /** The service built in `root` (this checkout, or BENCH_BASELINE's), on SQLite and on PostgreSQL. */
  const services = async (root: string, version: string): Promise<Target[]> => {
    const script = join(root, 'dist/server.js')
    const profile = PROFILE_DIR ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] } : {}
    const sqlite = await startService({ env: serviceEnv, asShipped: true, script, ...profile })
    cleanups.push(() => sqlite.stop())
    running.push({ name: `${version}SQLite`, service: sqlite })
    const targets = await serviceTargets(sqlite, `${version}SQLite`)
    if (!pgUrl) return targets
    const schema = `bench_http_${process.pid}_${targets.length}_${version ? 'baseline' : 'now'}`
    cleanups.push(() => dropSchema(pgUrl, schema))
    const service = await startService({
      env: serviceEnv,
      asShipped: true,
      script,
      ...profile,
      databaseUrl: `${pgUrl}${pgUrl.includes('?') ? '&' : '?'}schema=${schema}`,
      ...(redisUrl ? { redisUrl } : {}),
    })
    cleanups.push(() => service.stop())
    running.push({ name: `${version}${redisUrl ? 'PostgreSQL + Redis' : 'PostgreSQL'}`, service })
    if (redisUrl) {
      const prefix = `bench${new URL(service.url).port}:`
      cleanups.push(() => dropRedisKeys(redisUrl, prefix))
    }
    return [
      ...targets,
      ...(await serviceTargets(service, `${version}${redisUrl ? 'PostgreSQL + Redis' : 'PostgreSQL'}`)),
    ]
  }
  const targets = await services(ROOT, '')
  if (ALSO_LOG_LEVEL) {
    // The same service at another log level, fibonacci row only: what the access log costs.
    const quiet = await startService({ env: { ...serviceEnv, LOG_LEVEL: ALSO_LOG_LEVEL }, asShipped: true })
    cleanups.push(() => quiet.stop())
    running.push({ name: `SQLite, LOG_LEVEL=${ALSO_LOG_LEVEL}`, service: quiet })
    targets.push((await serviceTargets(quiet, `SQLite, LOG_LEVEL=${ALSO_LOG_LEVEL}`))[0]!)
  }
  if (BASELINE) targets.push(...(await services(BASELINE, 'baseline, ')))

  // The bare servers answer exactly what the service answers (same bytes, minus the service's headers).
  const fibTarget = targets[0]!
  const body = await (await fetch(fibTarget.request.url, { headers: fibTarget.request.headers })).text()
  const bareNode = await bareServer('node', body)
  cleanups.push(async () => {
    bareNode.child.kill('SIGTERM')
  })
  const bareFastify = await bareServer('fastify', body)
  cleanups.push(async () => {
    bareFastify.child.kill('SIGTERM')
  })
  const ceiling: Target = {
    label: 'bare node:http (same body)',
    pid: bareNode.child.pid!,
    request: { url: bareNode.url + FIB },
  }
  const all: Target[] = [
    ceiling,
    {
      label: 'bare Fastify (same body)',
      pid: bareFastify.child.pid!,
      request: { url: bareFastify.url + FIB },
    },
    ...targets,
  ]

  /** Requests each server process answered under load (warm-ups included): for µs per request in a profile. */
  const answered = new Map<number, number>()
  const count = (target: Target, sample: Sample) =>
    answered.set(target.pid, (answered.get(target.pid) ?? 0) + sample.requests)
  for (const target of all) {
    count(target, await load(target, WARMUP_SECONDS))
    console.error(`warmed up: ${target.label}`)
  }
  const samples = new Map<Target, Sample[]>(all.map((target) => [target, []]))
  const ratios = new Map<Target, number[]>(all.map((target) => [target, []]))
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order so no target always runs right after another.
    const order = all.map((_, i) => all[(i + round) % all.length]!)
    const ofRound = new Map<Target, Sample>()
    for (const target of order) {
      const sample = await load(target, SECONDS)
      count(target, sample)
      ofRound.set(target, sample)
      samples.get(target)!.push(sample)
      console.error(
        `round ${round + 1}/${ROUNDS} ${target.label}: ${Math.round(sample.rate)} req/s, p50 ${sample.p50.toFixed(2)} ms, p99 ${sample.p99.toFixed(2)} ms, ${sample.cpuMicros.toFixed(1)} µs CPU/req${sample.failed ? `, ${sample.failed} failed` : ''}`,
      )
    }
    const bare = ofRound.get(ceiling)!
    for (const target of all) ratios.get(target)!.push(ofRound.get(target)!.rate / bare.rate)
  }

  console.log(
    `\n${machineLine()}; ${WRK ? 'wrk (1 thread)' : 'autocannon (in the bench process)'}, ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${SECONDS} s per target after a ${WARMUP_SECONDS} s warm-up; service: dist/server.js, LOG_LEVEL=${LOG_LEVEL ?? 'default'}, rate limits raised; medians over rounds\n`,
  )
  console.log(
    '| server and request | requests/s | p50 ms | p99 ms | CPU µs/request | failed | vs bare node:http |',
  )
  console.log('|---|---:|---:|---:|---:|---:|---:|')
  for (const target of all) {
    const list = samples.get(target)!
    const ratio = median(ratios.get(target)!)
    const failed = list.reduce((sum, sample) => sum + sample.failed, 0)
    console.log(
      `| ${target.label} | ${Math.round(median(list.map((s) => s.rate))).toLocaleString('en')} | ${median(list.map((s) => s.p50)).toFixed(2)} | ${median(list.map((s) => s.p99)).toFixed(2)} | ${median(list.map((s) => s.cpuMicros)).toFixed(1)} | ${failed} | ${ratio.toFixed(2)}× |`,
    )
  }
  const batches = await Promise.all(
    running.map(async ({ name, service }) => {
      const text = await (await fetch(`${service.url}/metrics`)).text()
      const sum = Number(/^history_batch_size_sum (\S+)/m.exec(text)?.[1])
      const count = Number(/^history_batch_size_count (\S+)/m.exec(text)?.[1])
      return `${name} ${(sum / count).toFixed(1)} rows in ${count.toLocaleString('en')} batches`
    }),
  )
  console.log(`\nhistory group commit, mean batch: ${batches.join('; ')}`)
  if (PROFILE_DIR) {
    const served = running.map(
      ({ name, service }) => `${name} (pid ${service.child.pid}): ${answered.get(service.child.pid!)}`,
    )
    console.log(`requests answered under load, for bench/profile-summary.ts --requests: ${served.join('; ')}`)
  }
  console.log(
    `\nratios per round (fibonacci rows): ${all
      .filter((target) => target.label.includes('fibonacci') || target.label.startsWith('bare'))
      .map(
        (target) =>
          `${target.label}: ${ratios
            .get(target)!
            .map((r) => r.toFixed(2))
            .join(' ')}`,
      )
      .join('; ')}`,
  )
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => console.error(error))
}
console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s in all)`)
