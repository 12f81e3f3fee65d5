/**
 * Chaos under load: two instances of the built service (dist/server.js) on a PRIVATE PostgreSQL cluster
 * (initdb in a temp dir, own port) and a PRIVATE Redis (own port), never the shared ones. Clients hold a
 * steady mix of task creations (each with its own Idempotency-Key), math calls and product reads, spread
 * over both instances as a round-robin balancer would, and retry a failed request (503, connection refused
 * or reset) on the other instance with the same key, as a careful client does. Meanwhile PostgreSQL is
 * crashed (pg_ctl stop -m immediate: no shutdown checkpoint, crash recovery on restart), then Redis (kill
 * -9), then one instance (kill -9), each down a few seconds and started again.
 *
 * Prints, per fault, the first attempts that failed by status and how long after the restart errors went
 * on; then whether any acknowledged write was lost (a 201 task or a 200 math call whose history row is
 * missing) or duplicated (a task created twice for one key), read directly from the database.
 *
 * Run: npm run bench:chaos [-- --down 5 --gap 12 --clients 12 --rate 120]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { ensureBuilt, freePort, machineLine, ROOT, sleep } from './load.js'

const { values } = parseArgs({
  options: {
    down: { type: 'string', default: '5' },
    gap: { type: 'string', default: '12' },
    clients: { type: 'string', default: '12' },
    rate: { type: 'string', default: '120' },
  },
})
const DOWN_S = Number(values.down)
const GAP_S = Number(values.gap)
const CLIENTS = Number(values.clients)
const RATE = Number(values.rate)
/** A client gives a request up after retrying this long. */
const GIVE_UP_MS = 45_000
const ADMIN = { username: 'chaosadmin', password: 'chaos-admin-password-1' }

// --- Private dependencies -------------------------------------------------------------------------------

function postgresBin(): string {
  const candidates = readdirSync('/usr/lib/postgresql', { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join('/usr/lib/postgresql', entry.name, 'bin'))
    .filter((dir) => existsSync(join(dir, 'initdb')))
    .sort()
  const found = candidates.at(-1)
  if (!found)
    throw new Error('bench:chaos needs PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql')
  return found
}

/** initdb and postgres refuse to run as root: as root, they run as the postgres user. */
function asDatabaseOwner(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args]
}

class PrivatePostgres {
  readonly bin = postgresBin()
  readonly dir = mkdtempSync(join(tmpdir(), 'mathapi-chaos-pg-'))
  readonly data = join(this.dir, 'data')
  port = 0

  async init(): Promise<void> {
    this.port = await freePort()
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString())
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString())
      chownSync(this.dir, uid, gid)
    }
    chmodSync(this.dir, 0o700)
    this.run('initdb', ['-D', this.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions'])
    await this.start()
    const client = new pg.Client({ connectionString: this.adminUrl })
    await client.connect()
    await client.query('create database chaos')
    await client.end()
  }

  get adminUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`
  }
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/chaos`
  }

  async start(): Promise<void> {
    const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${this.dir} -c max_connections=100`
    this.run('pg_ctl', [
      '-D',
      this.data,
      '-l',
      join(this.dir, 'postgres.log'),
      '-w',
      '-t',
      '60',
      '-o',
      options,
      'start',
    ])
  }

  /** Immediate shutdown: every process quits at once, no checkpoint; the next start recovers from the WAL. */
  crash(): void {
    this.run('pg_ctl', ['-D', this.data, '-m', 'immediate', 'stop'])
  }

  stop(): void {
    try {
      this.run('pg_ctl', ['-D', this.data, '-m', 'fast', 'stop'])
    } catch {}
    rmSync(this.dir, { recursive: true, force: true })
  }

  private run(tool: string, args: string[]): void {
    const [command, full] = asDatabaseOwner(join(this.bin, tool), args)
    execFileSync(command, full, { stdio: ['ignore', 'ignore', 'pipe'] })
  }
}

class PrivateRedis {
  port = 0
  private child: ChildProcess | undefined

  async start(): Promise<void> {
    this.port ||= await freePort()
    this.child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    )
    const deadline = Date.now() + 10_000
    while (!(await portOpen(this.port))) {
      if (Date.now() > deadline) throw new Error('private redis-server did not start')
      await sleep(50)
    }
  }

  async crash(): Promise<void> {
    const child = this.child
    if (!child || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }
}

async function portOpen(port: number): Promise<boolean> {
  const { connect } = await import('node:net')
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

// --- The service ----------------------------------------------------------------------------------------

class Instance {
  port = 0
  private child: ChildProcess | undefined

  constructor(
    readonly name: string,
    private readonly env: Record<string, string>,
    private readonly logDir: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  async start(): Promise<void> {
    this.port ||= await freePort()
    const log = openSync(join(this.logDir, `${this.name}.log`), 'a')
    this.child = spawn(process.execPath, [join(ROOT, 'dist/server.js')], {
      cwd: this.logDir,
      env: { ...this.env, PORT: String(this.port), KAFKA_CLIENT_ID: this.name },
      stdio: ['ignore', log, log],
    })
    const deadline = Date.now() + 60_000
    for (;;) {
      if (this.child.exitCode !== null)
        throw new Error(`${this.name} exited during start-up (see ${this.logDir})`)
      const ready = await fetch(`${this.url}/health/ready`).catch(() => undefined)
      if (ready?.status === 200) return
      if (Date.now() > deadline) throw new Error(`${this.name} did not become ready`)
      await sleep(100)
    }
  }

  async kill9(): Promise<void> {
    const child = this.child
    if (!child || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  async stop(): Promise<void> {
    const child = this.child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await Promise.race([exited, sleep(15_000)])
  }
}

// --- Clients --------------------------------------------------------------------------------------------

interface Attempt {
  /** ms since the load started */
  at: number
  end: number
  /** HTTP status, or the kind of connection failure */
  outcome: string
  first: boolean
}

const attempts: Attempt[] = []
const acknowledgedTasks = new Map<string, string>() // key → task id
const gaveUpTasks = new Set<string>()
const acknowledgedMath: string[] = [] // request ids answered 200
let gaveUp = 0
/** Task creations that needed a retry, and those whose retry was answered from the stored response. */
let retriedTasks = 0
let replayedTasks = 0

function failureKind(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause
  if (cause?.code === 'ECONNREFUSED') return 'connection refused'
  if (cause?.code === 'ECONNRESET' || cause?.code === 'UND_ERR_SOCKET') return 'connection reset'
  if ((error as { name?: string }).name === 'TimeoutError') return 'timeout'
  return `error ${cause?.code ?? (error as Error).message}`
}

const retryable = (outcome: string) =>
  outcome === '503' || outcome === '502' || outcome === '409' || outcome === '429' || !/^\d+$/.test(outcome)

async function main(): Promise<void> {
  ensureBuilt()
  const postgres = new PrivatePostgres()
  const redis = new PrivateRedis()
  const logDir = mkdtempSync(join(tmpdir(), 'mathapi-chaos-'))
  mkdirSync(join(logDir, 'data'), { recursive: true })
  const instances: Instance[] = []
  let started = 0
  try {
    await postgres.init()
    await redis.start()
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      DATA_DIR: join(logDir, 'data'),
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: 'chaos:',
      JWT_SECRET: randomBytes(48).toString('base64url'),
      BOOTSTRAP_ADMIN_USERNAME: ADMIN.username,
      BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
      RATE_LIMIT_READ: '1000000000',
      RATE_LIMIT_WRITE: '1000000000',
      RATE_LIMIT_AUTH: '1000000',
      LOG_LEVEL: 'warn',
    }
    instances.push(new Instance('api1', env, logDir), new Instance('api2', env, logDir))
    // The first migrates; the second starts on a migrated database.
    await instances[0]!.start()
    await instances[1]!.start()

    const base = () => instances[0]!.url
    const token = await setUp(base())
    started = performance.now()
    const now = () => performance.now() - started

    /** One logical request, retried on the other instance with the same key until it succeeds or gives up. */
    async function perform(
      path: string,
      init: { method?: string; body?: unknown; key?: string },
      client: number,
    ): Promise<
      { status: number; body: unknown; requestId: string; replayed: boolean; attempts: number } | undefined
    > {
      const deadline = now() + GIVE_UP_MS
      for (let attempt = 0; ; attempt++) {
        const instance = instances[(client + attempt) % instances.length]!
        const requestId = `chaos-${randomUUID()}`
        const at = now()
        let outcome: string
        let body: unknown
        let replayed = false
        try {
          const response = await fetch(`${instance.url}/api/v1${path}`, {
            method: init.method ?? 'GET',
            headers: {
              authorization: `Bearer ${token}`,
              'x-request-id': requestId,
              ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
              ...(init.key ? { 'idempotency-key': init.key } : {}),
            },
            ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
            signal: AbortSignal.timeout(15_000),
          })
          outcome = String(response.status)
          replayed = response.headers.get('idempotent-replayed') === 'true'
          body = await response.json().catch(() => undefined)
        } catch (error) {
          outcome = failureKind(error)
        }
        attempts.push({ at, end: now(), outcome, first: attempt === 0 })
        if (!retryable(outcome))
          return { status: Number(outcome), body, requestId, replayed, attempts: attempt + 1 }
        if (now() > deadline) {
          gaveUp++
          return undefined
        }
        await sleep(Math.min(1000, 100 * 2 ** attempt))
      }
    }

    let running = true
    const interval = (CLIENTS / RATE) * 1000
    const client = async (n: number) => {
      for (let i = 0; running; i++) {
        const next = performance.now() + interval
        const pick = i % 4
        if (pick === 0) {
          const key = randomUUID()
          const result = await perform('/tasks', { method: 'POST', body: { title: `chaos ${key}` }, key }, n)
          if (result?.status === 201) acknowledgedTasks.set(key, (result.body as { id: string }).id)
          else gaveUpTasks.add(key)
          if ((result?.attempts ?? 2) > 1) retriedTasks++
          if (result?.replayed) replayedTasks++
        } else if (pick === 1) {
          const result = await perform(`/math/fibonacci/${(n * 1000 + i) % 5000}`, {}, n)
          if (result?.status === 200) acknowledgedMath.push(result.requestId)
        } else {
          await perform(`/products?page=${1 + (i % 3)}&pageSize=20&sortBy=price`, {}, n)
        }
        await sleep(Math.max(0, next - performance.now()))
      }
    }
    const load = Array.from({ length: CLIENTS }, (_, n) => client(n))

    const faults: { name: string; at: number; restoredAt: number; until: number }[] = []
    const fault = async (name: string, crash: () => Promise<void> | void, restore: () => Promise<void>) => {
      await sleep(GAP_S * 1000)
      const at = now()
      await crash()
      await sleep(DOWN_S * 1000)
      await restore()
      faults.push({ name, at, restoredAt: now(), until: Number.POSITIVE_INFINITY })
      console.error(`${(at / 1000).toFixed(1)} s: ${name}; restored at ${(now() / 1000).toFixed(1)} s`)
    }
    await fault(
      'PostgreSQL crash (pg_ctl stop -m immediate)',
      () => postgres.crash(),
      () => postgres.start(),
    )
    await fault(
      'Redis crash (kill -9)',
      () => redis.crash(),
      () => redis.start(),
    )
    await fault(
      'instance api1 crash (kill -9)',
      () => instances[0]!.kill9(),
      () => instances[0]!.start(),
    )
    await sleep(GAP_S * 1000)
    running = false
    await Promise.all(load)
    const ended = now()
    for (const [i, f] of faults.entries()) f.until = faults[i + 1]?.at ?? ended

    await report(faults, ended, postgres.url)
  } finally {
    for (const instance of instances) await instance.stop()
    await redis.crash()
    postgres.stop()
    rmSync(logDir, { recursive: true, force: true })
  }
}

async function setUp(url: string): Promise<string> {
  const post = async (path: string, body: unknown, token?: string) => {
    const response = await fetch(`${url}/api/v1${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    })
    return { status: response.status, json: (await response.json()) as Record<string, unknown> }
  }
  const admin = await post('/auth/login', ADMIN)
  const adminToken = admin.json.access_token as string
  for (let i = 0; i < 30; i++) {
    const created = await post(
      '/products',
      { name: `Chaos ${i}`, price: 5 + i, stock: i % 4, category: 'chaos', sku: `CHAOS-${i}` },
      adminToken,
    )
    if (created.status !== 201) throw new Error(`seeding products: ${created.status}`)
  }
  const user = { username: 'chaosuser', email: 'chaos@example.com', password: 'chaos-user-password-1' }
  if ((await post('/auth/register', user)).status !== 201) throw new Error('register failed')
  // Long enough for the whole run: no refresh needed mid-chaos.
  return (await post('/auth/login', user)).json.access_token as string
}

function byOutcome(list: Attempt[]): string {
  const counts = new Map<string, number>()
  for (const attempt of list) counts.set(attempt.outcome, (counts.get(attempt.outcome) ?? 0) + 1)
  return (
    [...counts]
      .sort((a, b) => b[1] - a[1])
      .map(([outcome, n]) => `${outcome} × ${n}`)
      .join(', ') || 'none'
  )
}

const failed = (attempt: Attempt) => !/^2\d\d$/.test(attempt.outcome)

async function report(
  faults: { name: string; at: number; restoredAt: number; until: number }[],
  ended: number,
  databaseUrl: string,
): Promise<void> {
  const firsts = attempts.filter((attempt) => attempt.first)
  console.log(
    `\n${machineLine()}; bench:chaos: 2 instances (node dist/server.js) on a private PostgreSQL and a private Redis; ${CLIENTS} clients aiming at ${RATE} req/s (achieved ${(attempts.length / (ended / 1000)).toFixed(0)}) for ${(ended / 1000).toFixed(0)} s (task creations with Idempotency-Key, math calls, product lists), each fault down ${DOWN_S} s; failed requests retried on the other instance with the same key\n`,
  )
  console.log(
    '| fault | down s (crash → restarted) | attempts ending in its window | failed, by status | first → last failure s | errors after the restart s |',
  )
  console.log('|---|---:|---:|---|---:|---:|')
  for (const f of faults) {
    // By end time: a request in flight when the next fault struck belongs to that one.
    const window = attempts.filter((attempt) => attempt.end >= f.at && attempt.end < f.until)
    const failures = window.filter(failed)
    const firstFailure = Math.min(...failures.map((attempt) => attempt.end))
    const lastFailure = Math.max(...failures.map((attempt) => attempt.end))
    const span = failures.length > 0 ? ((lastFailure - firstFailure) / 1000).toFixed(1) : '0'
    const after = failures.length > 0 ? Math.max(0, (lastFailure - f.restoredAt) / 1000).toFixed(1) : '0'
    console.log(
      `| ${f.name} | ${((f.restoredAt - f.at) / 1000).toFixed(1)} | ${window.length} | ${byOutcome(failures)} | ${span} | ${after} |`,
    )
  }
  const calm = attempts.filter((attempt) => attempt.end < (faults[0]?.at ?? ended))
  console.log(`| (before the first fault) | | ${calm.length} | ${byOutcome(calm.filter(failed))} | | |`)

  const all5xx = attempts.filter((attempt) => /^5\d\d$/.test(attempt.outcome) && attempt.outcome !== '503')
  console.log(
    `\nall attempts: ${attempts.length} (${firsts.length} first, ${attempts.length - firsts.length} retries); by status: ${byOutcome(attempts)}`,
  )
  console.log(
    `5xx other than 503: ${all5xx.length}; requests given up after ${GIVE_UP_MS / 1000} s of retries: ${gaveUp}`,
  )

  // What the database holds, read directly.
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const rows = (
      await client.query<{ title: string; n: number; ids: string[] }>(
        "select title, count(*)::int as n, array_agg(id::text) as ids from tasks where title like 'chaos %' group by title",
      )
    ).rows
    const stored = new Map(rows.map((row) => [row.title.slice('chaos '.length), row]))
    const lost = [...acknowledgedTasks].filter(([key, id]) => !stored.get(key)?.ids.includes(id))
    const duplicated = rows.filter((row) => row.n > 1)
    const committedUnacknowledged = [...gaveUpTasks].filter((key) => stored.has(key))
    const history = new Set(
      (
        await client.query<{ request_id: string }>(
          "select request_id from events where type = 'math.computed' and request_id like 'chaos-%'",
        )
      ).rows.map((row) => row.request_id),
    )
    const lostMath = acknowledgedMath.filter((requestId) => !history.has(requestId))
    console.log('\n| writes | acknowledged | lost | duplicated |')
    console.log('|---|---:|---:|---:|')
    console.log(
      `| task creations (201) | ${acknowledgedTasks.size} | ${lost.length} | ${duplicated.length} |`,
    )
    console.log(
      `| math calls (200) and their history rows | ${acknowledgedMath.length} | ${lostMath.length} | — |`,
    )
    console.log(
      `\ntask creations retried after a failed attempt: ${retriedTasks}, of which answered from the stored response (the failed attempt had committed): ${replayedTasks}`,
    )
    console.log(
      `task creations given up by their client: ${gaveUpTasks.size} (of which committed nonetheless: ${committedUnacknowledged.length})`,
    )
    const ok = lost.length === 0 && duplicated.length === 0 && lostMath.length === 0 && all5xx.length === 0
    console.log(`\n${ok ? 'PASS' : 'FAIL'}: no acknowledged write lost, none duplicated, no 5xx but 503`)
    process.exitCode = ok ? 0 : 1
  } finally {
    await client.end()
  }
}

await main()
