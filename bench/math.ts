/**
 * Math engines against GMP, and the whole service on a cold cache.
 *
 * For each input, in every round and in rotating order, each in a fresh process:
 *   - js, gmp: the job on one engine, as a worker runs it (compute + decimal conversion). "first" is the first
 *     call in a fresh worker (a JavaScript worker has built its start-up tables, as the pool's workers do);
 *     "warm" the median of the calls after it.
 *   - gmpy2: GMP itself from Python (gmpy2's fib / fac / pow, then str), best of a few runs.
 *   - api: a fresh server (buildApp, SQLite, empty cache, its worker started) in a process of its own,
 *     answering one GET for the input through real HTTP from a client in another process: wall time until
 *     the client has the whole body, and the CPU the server's process (all its threads: event loop, worker,
 *     GC) spent meanwhile, which is what compares with gmpy2's CPU; the client's CPU is shown apart.
 *     BENCH_SERVER_PROF=dir writes a CPU profile of each server's main thread there (node --cpu-prof).
 * Ratios are medians of per-round ratios, in wall time and in CPU time: on a shared, busy machine wall
 * times stretch with other people's load, CPU times much less. Then, per engine, the server's RSS through a sequence of big jobs and
 * after it has been idle (heavy workers retired).
 *
 * Run: npm run bench:math   (BENCH_ROUNDS=3, BENCH_MEMORY=0 skips the RSS part; GMP_PYTHON picks the
 * python3 that has gmpy2: apt-get install python3-gmpy2)
 */
import { type ChildProcess, fork, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { get } from 'node:http'
import { cpus, platform, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import {
  computeGmp,
  computeJs,
  loadGmp,
  type MathJob,
  prepareDecimalTables,
} from '../src/modules/math/engine/index.js'
import type { MathOperation } from '../src/modules/math/operation.js'

interface Input {
  label: string
  job: MathJob
  path: string
  gmpy2: { op: MathOperation; n: number }
}

const INPUTS: Input[] = [
  ...[1e6, 1e7].map((n) => ({
    label: `F(10^${Math.log10(n)})`,
    job: { op: 'fibonacci', n } as MathJob,
    path: `/math/fibonacci/${n}`,
    gmpy2: { op: 'fibonacci' as const, n },
  })),
  ...[1e5, 1e6].map((n) => ({
    label: `(10^${Math.log10(n)})!`,
    job: { op: 'factorial', n } as MathJob,
    path: `/math/factorial/${n}`,
    gmpy2: { op: 'factorial' as const, n },
  })),
  ...[1e6, 1e7].map((n) => ({
    label: `7^(10^${Math.log10(n)})`,
    job: { op: 'power', base: '7', exponent: String(n) } as MathJob,
    path: `/math/power?base=7&exponent=${n}`,
    gmpy2: { op: 'power' as const, n },
  })),
]

const self = fileURLToPath(import.meta.url)
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}
/** The JavaScript worker's start-up tables (pool.ts PREPARED_DIGITS at the default limits). */
const PREPARED_DIGITS = 4_000_000

// ---------------------------------------------------------------------------------------------------
// Children: each measurement in a fresh process, printing one JSON line.

async function engineChild(engine: 'js' | 'gmp', input: Input): Promise<object> {
  const { gmp } = loadGmp()
  if (engine === 'gmp' && !gmp) throw new Error('the GMP addon is not built')
  const started = performance.now()
  if (engine === 'js') prepareDecimalTables(PREPARED_DIGITS)
  const prepMs = performance.now() - started
  const run = () => {
    const cpu = process.cpuUsage()
    const t = performance.now()
    const r = engine === 'js' ? computeJs(input.job) : computeGmp(gmp!, input.job)
    const used = process.cpuUsage(cpu)
    return { ms: performance.now() - t, cpuMs: (used.user + used.system) / 1000, digits: r.digits }
  }
  const first = run()
  const warm = Array.from({ length: first.ms > 1000 ? 2 : 4 }, () => run())
  return {
    firstMs: first.ms,
    firstCpuMs: first.cpuMs,
    warmMs: median(warm.map((w) => w.ms)),
    warmCpuMs: median(warm.map((w) => w.cpuMs)),
    digits: first.digits,
    prepMs,
  }
}

async function startServer(
  engine: 'js' | 'gmp',
  dir: string,
): Promise<{ app: FastifyInstance; url: string }> {
  const config = loadConfig({
    DATABASE_URL: `sqlite:${join(dir, 'app.db')}`,
    DATA_DIR: dir,
    JWT_SECRET: randomBytes(48).toString('base64url'),
    LOG_LEVEL: 'silent',
    MATH_ENGINE: engine,
    MATH_TIMEOUT_MS: '600000',
    // The socket of a request waiting for a computation is closed after this + 5 s without traffic.
    REQUEST_TIMEOUT_MS: '600000',
    RATE_LIMIT_AUTH: '0',
    RATE_LIMIT_READ: '0',
    RATE_LIMIT_WRITE: '0',
  })
  const app = await buildApp(config, { logger: false })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (!address || typeof address === 'string') throw new Error('no address')
  return { app, url: `http://127.0.0.1:${address.port}/api/v1` }
}

async function token(url: string): Promise<string> {
  const user = { username: 'bench', email: 'bench@example.com', password: 'bench-password-1234' }
  const post = (path: string, body: object) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  if ((await post('/auth/register', user)).status !== 201) throw new Error('register failed')
  const login = await post('/auth/login', { username: user.username, password: user.password })
  return ((await login.json()) as { access_token: string }).access_token
}

/** The server of an api measurement, in its own process: tells its URL, answers 'cpu' with its CPU so far. */
async function serverChild(engine: 'js' | 'gmp'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-math-'))
  const { app, url } = await startServer(engine, dir)
  process.on('message', async (message) => {
    if (message === 'cpu') {
      const { user, system } = process.cpuUsage()
      process.send!({ cpuMs: (user + system) / 1000, sysMs: system / 1000 })
    } else if (message === 'close') {
      await app.close()
      rmSync(dir, { recursive: true, force: true })
      process.exit(0)
    }
  })
  process.send!({ url })
}

function ask<T>(child: ChildProcess, message?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (reply) => resolve(reply as T))
    child.once('exit', (code) => reject(new Error(`the server exited (${code})`)))
    if (message) child.send(message)
  })
}

async function apiChild(engine: 'js' | 'gmp', input: Input): Promise<object> {
  const profileDir = process.env.BENCH_SERVER_PROF
  // BENCH_BASELINE: the server from another checkout (which has this file too), for before/after rows.
  const from = process.env.BENCH_SERVER_FROM
  const server = fork(from ? join(from, 'bench', 'math.ts') : self, ['--child', 'server', engine, '0'], {
    execArgv: [...process.execArgv, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  try {
    const { url } = await ask<{ url: string }>(server)
    const headers = { authorization: `Bearer ${await token(url)}` }
    // A freshly started server's worker is up: one small pool job (another cache key) waits for it.
    const warm = await fetch(`${url}/math/fibonacci/30000`, { headers })
    if (warm.status !== 200) throw new Error(`warm-up answered ${warm.status}`)
    await warm.arrayBuffer()
    const serverBefore = await ask<{ cpuMs: number; sysMs: number }>(server, 'cpu')
    const cpu = process.cpuUsage()
    const started = performance.now()
    // node:http, the leanest client Node has (fetch spent 2-3x its CPU collecting a big body).
    const response = await new Promise<{ status: number; bytes: Buffer }>((resolve, reject) => {
      get(`${url}${input.path}`, { headers }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks) }))
        res.on('error', reject)
      }).on('error', reject)
    })
    const bytes = response.bytes
    const ms = performance.now() - started
    const used = process.cpuUsage(cpu)
    const serverAfter = await ask<{ cpuMs: number; sysMs: number }>(server, 'cpu')
    const body = JSON.parse(bytes.toString('latin1')) as { digits: number; cached: boolean }
    if (response.status !== 200 || body.cached)
      throw new Error(`answered ${response.status}, cached ${body.cached}`)
    return {
      ms,
      cpuMs: serverAfter.cpuMs - serverBefore.cpuMs,
      sysMs: serverAfter.sysMs - serverBefore.sysMs,
      clientCpuMs: (used.user + used.system) / 1000,
      digits: body.digits,
    }
  } finally {
    server.send('close')
    await new Promise((resolve) => server.once('exit', resolve))
  }
}

/** RSS of the whole server through big jobs, two at a time, then after the heavy workers retire. */
async function memoryChild(engine: 'js' | 'gmp'): Promise<object> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-math-'))
  const { app, url } = await startServer(engine, dir)
  try {
    const headers = { authorization: `Bearer ${await token(url)}` }
    await fetch(`${url}/math/fibonacci/30000`, { headers })
    const mb = () => process.memoryUsage().rss / 2 ** 20
    const idle = mb()
    let peak = idle
    const sampler = setInterval(() => {
      peak = Math.max(peak, mb())
    }, 50)
    const paths = [
      '/math/factorial/1000000',
      '/math/factorial/999999',
      '/math/fibonacci/10000000',
      '/math/power?base=7&exponent=10000000',
      '/math/power?base=7&exponent=9999999',
      '/math/fibonacci/9999999',
      '/math/factorial/999998',
      '/math/power?base=3&exponent=15000000',
    ]
    for (let i = 0; i < paths.length; i += 2) {
      await Promise.all(
        paths.slice(i, i + 2).map(async (path) => {
          const response = await fetch(`${url}${path}`, { headers })
          if (response.status !== 200) throw new Error(`${path} answered ${response.status}`)
          await response.arrayBuffer()
        }),
      )
    }
    clearInterval(sampler)
    const after = mb()
    // Retirement: 10 s idle (pool default), then a moment for the threads to end.
    await new Promise((resolve) => setTimeout(resolve, 12_000))
    const retiredLine = (await (await fetch(url.replace('/api/v1', '/metrics'))).text())
      .split('\n')
      .find((line) => line.startsWith('math_pool_workers_retired_total '))
    const { heapTotal, external } = process.memoryUsage()
    return {
      idleMb: idle,
      peakMb: peak,
      afterMb: after,
      settledMb: mb(),
      mainHeapMb: (heapTotal + external) / 2 ** 20,
      retired: Number(retiredLine?.split(' ')[1] ?? 0),
    }
  } finally {
    await app.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function child(): Promise<void> {
  const [, , , kind, engine, index] = process.argv
  const input = INPUTS[Number(index)]!
  if (kind === 'server') return serverChild(engine as 'js' | 'gmp')
  const result =
    kind === 'engine'
      ? await engineChild(engine as 'js' | 'gmp', input)
      : kind === 'api'
        ? await apiChild(engine as 'js' | 'gmp', input)
        : await memoryChild(engine as 'js' | 'gmp')
  process.stdout.write(`${JSON.stringify(result)}\n`)
  process.exit(0)
}

// ---------------------------------------------------------------------------------------------------
// Parent: rounds, interleaving, table.

function runChild(args: string[], env: Record<string, string> = {}): Record<string, number> {
  const out = spawnSync(process.execPath, [...process.execArgv, self, '--child', ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 1 << 20,
    timeout: 600_000,
  })
  const line = out.stdout.trim().split('\n').pop()
  if (out.status !== 0 || !line) throw new Error(`child ${args.join(' ')} failed: ${out.stderr.slice(-2000)}`)
  return JSON.parse(line)
}

function findGmpPython(): string | undefined {
  const candidates = [process.env.GMP_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p)
  return candidates.find((py) => spawnSync(py, ['-c', 'import gmpy2'], { stdio: 'ignore' }).status === 0)
}

function runGmpy2(
  python: string,
  input: Input,
): { ms: number; bestMs: number; cpuMs: number; digits: number; version: string } {
  const script = fileURLToPath(new URL('./gmp-reference.py', import.meta.url))
  const out = spawnSync(python, [script], { input: JSON.stringify([input.gmpy2]), encoding: 'utf8' })
  if (out.status !== 0) throw new Error(`gmpy2 failed: ${out.stderr}`)
  const parsed = JSON.parse(out.stdout) as {
    gmp: string
    results: { firstMs: number; computeMs: number; strMs: number; cpuMs: number; digits: number }[]
  }
  const r = parsed.results[0]!
  return {
    ms: r.firstMs,
    bestMs: r.computeMs + r.strMs,
    cpuMs: r.cpuMs,
    digits: r.digits,
    version: parsed.gmp,
  }
}

async function parent(): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
  const python = findGmpPython()
  const haveGmp = !!loadGmp().gmp
  if (!haveGmp) console.error('the GMP addon is not built: GMP engine columns stay empty')
  if (!python) console.error('no python3 with gmpy2 (apt-get install python3-gmpy2): GMP columns stay empty')
  // BENCH_KINDS=gmpy2,gmp,api-gmp and BENCH_INPUTS=1,3,5 (indices) run a subset, for quick checks.
  const only = process.env.BENCH_KINDS?.split(',')
  const inputs = process.env.BENCH_INPUTS?.split(',').map(Number) ?? INPUTS.map((_, i) => i)
  // BENCH_BASELINE=<checkout>: adds api-gmp-base, the same cold call served by that checkout's code.
  const baseline = process.env.BENCH_BASELINE
  const kinds = ['js', 'gmp', 'gmpy2', 'api-gmp', 'api-js', ...(baseline ? ['api-gmp-base'] : [])].filter(
    (kind) =>
      (haveGmp || !kind.includes('gmp') || kind === 'gmpy2') &&
      (python || kind !== 'gmpy2') &&
      (!only || only.includes(kind)),
  )
  type Sample = Record<string, number[]>
  const samples: Sample[] = INPUTS.map(() => ({}))
  const sampleOf = (i: number) => samples[i]!
  const push = (i: number, key: string, value: number) => {
    const s = samples[i]!
    s[key] = [...(s[key] ?? []), value]
  }
  let gmpVersion = ''
  const prepMs: number[] = []
  /** The table so far: printed after every round, so that a run cut short still reports. */
  const printTable = (roundsDone: number) => {
    const fmt = (ms: number | undefined): string =>
      ms === undefined ? '–' : ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0)
    const cpu = cpus()
    console.log(
      `\n### Math engines — ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, Node ${process.version}, ` +
        `${platform()} ${release()}, ${gmpVersion ? `${gmpVersion} (gmpy2)` : 'no gmpy2'}; medians of ${roundsDone} rounds\n`,
    )
    const header = [
      'input',
      'digits',
      'gmpy2 first ms (CPU) / repeat ms',
      'GMP addon first / warm ms (first CPU)',
      'JS first / warm ms',
      'API cold, GMP ms (server CPU, of which kernel; client CPU)',
      'API cold, JS ms (server CPU)',
      'API GMP / gmpy2: wall, CPU',
      ...(baseline
        ? ['baseline API cold, GMP ms (server CPU, of which kernel)', 'baseline API GMP / gmpy2: wall, CPU']
        : []),
      'JS first / gmpy2: wall, CPU',
      'JS warm / gmpy2: wall, CPU',
      'API JS / gmpy2: wall, CPU',
    ]
    console.log(`| ${header.join(' | ')} |`)
    console.log(`|${header.map((_, k) => (k === 0 ? '---' : '---:')).join('|')}|`)
    const ratio = (a: number[] | undefined, b: number[] | undefined): string => {
      if (!a || !b) return '–'
      // Median of per-round ratios: each pair ran in the same round, close in time.
      return `${median(a.map((x, k) => x / b[k]!)).toFixed(2)}×`
    }
    for (const [i, input] of INPUTS.entries()) {
      if (!inputs.includes(i)) continue
      const s = samples[i]!
      const m = (key: string) => (s[key] ? median(s[key]) : undefined)
      const both = (wall: string, cpuKey: string) =>
        `${ratio(s[wall], s.gmpy2)}, ${ratio(s[cpuKey], s.gmpy2Cpu)}`
      console.log(
        `| ${[
          input.label,
          (m('digits') ?? 0).toLocaleString('en-US'),
          `${fmt(m('gmpy2'))} (${fmt(m('gmpy2Cpu'))}) / ${fmt(m('gmpy2Best'))}`,
          `${fmt(m('gmpFirst'))} / ${fmt(m('gmpWarm'))} (${fmt(m('gmpFirstCpu'))})`,
          `${fmt(m('jsFirst'))} / ${fmt(m('jsWarm'))}`,
          `${fmt(m('api-gmp'))} (${fmt(m('api-gmp-cpu'))}, ${fmt(m('api-gmp-sys'))}; ${fmt(m('api-gmp-client-cpu'))})`,
          `${fmt(m('api-js'))} (${fmt(m('api-js-cpu'))})`,
          both('api-gmp', 'api-gmp-cpu'),
          ...(baseline
            ? [
                `${fmt(m('api-gmp-base'))} (${fmt(m('api-gmp-base-cpu'))}, ${fmt(m('api-gmp-base-sys'))})`,
                both('api-gmp-base', 'api-gmp-base-cpu'),
              ]
            : []),
          both('jsFirst', 'jsFirstCpu'),
          both('jsWarm', 'jsWarmCpu'),
          both('api-js', 'api-js-cpu'),
        ].join(' | ')} |`,
      )
    }
    console.log(
      `\nJS first is the first call in a fresh worker, after the tables a worker builds at start (${prepMs.length ? fmt(median(prepMs)) : '–'} ms, paid once per worker, not per request). API cold: a fresh server (its own process) with an empty cache and its worker started, one GET through real HTTP from a client in another process, until the client has the whole body; server CPU is the server process's (all its threads), the client's is shown apart and not in the ratios. gmpy2: the first compute + str in a fresh process, wall (CPU), which the ratios use, as the API and engine rows are first calls too; then a repeat (best of up to 20 runs within 0.2 s, one for slow inputs), faster as it reuses memory the first call mapped.`,
    )
  }
  for (let round = 0; round < rounds; round++) {
    for (const [i, input] of INPUTS.entries()) {
      if (!inputs.includes(i)) continue
      // Rotate the order each round and input, so no kind always runs after the same neighbour.
      const order = kinds.map((_, k) => kinds[(k + round + i) % kinds.length]!)
      for (const kind of order) {
        if (kind === 'js' || kind === 'gmp') {
          const r = runChild(['engine', kind, String(i)])
          push(i, `${kind}First`, r.firstMs!)
          push(i, `${kind}Warm`, r.warmMs!)
          push(i, `${kind}FirstCpu`, r.firstCpuMs!)
          push(i, `${kind}WarmCpu`, r.warmCpuMs!)
          push(i, 'digits', r.digits!)
          if (kind === 'js') prepMs.push(r.prepMs!)
        } else if (kind === 'gmpy2') {
          const r = runGmpy2(python!, input)
          gmpVersion = r.version
          push(i, 'gmpy2', r.ms)
          push(i, 'gmpy2Best', r.bestMs)
          if (!sampleOf(i).digits) push(i, 'digits', r.digits)
          push(i, 'gmpy2Cpu', r.cpuMs)
        } else {
          const engine = kind.slice(4)
          const r = runChild(
            ['api', engine.replace('-base', ''), String(i)],
            engine.endsWith('-base') ? { BENCH_SERVER_FROM: baseline! } : {},
          )
          push(i, `api-${engine}`, r.ms!)
          push(i, `api-${engine}-cpu`, r.cpuMs!)
          push(i, `api-${engine}-sys`, r.sysMs!)
          push(i, `api-${engine}-client-cpu`, r.clientCpuMs!)
          if (!sampleOf(i).digits) push(i, 'digits', r.digits!)
        }
      }
      console.error(`round ${round + 1}/${rounds}: ${input.label} done`)
    }
    printTable(round + 1)
  }

  if (process.env.BENCH_MEMORY !== '0') {
    console.log(
      '\n| engine | RSS idle MB | RSS peak MB | RSS after the jobs MB | RSS 12 s later MB | main-thread heap MB | workers retired |',
    )
    console.log('|---|---:|---:|---:|---:|---:|---:|')
    for (const engine of haveGmp ? (['gmp', 'js'] as const) : (['js'] as const)) {
      const r = runChild(['memory', engine, '0'])
      console.log(
        `| ${engine} | ${r.idleMb!.toFixed(0)} | ${r.peakMb!.toFixed(0)} | ${r.afterMb!.toFixed(0)} | ${r.settledMb!.toFixed(0)} | ${r.mainHeapMb!.toFixed(0)} | ${r.retired} |`,
      )
    }
    console.log(
      '\nEight big jobs (three 10^6-sized factorials, two F(10^7)-sized, three 7^(10^7)-sized), two at a time, on one server with the default MATH_WORKER_MEMORY_MB (256) and MATH_WORKERS (cores); the results stay in its cache (about 45 MB).',
    )
  }
}

if (process.argv[2] === '--child') await child()
else await parent()
