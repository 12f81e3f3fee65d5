/**
 * What bench/http.ts and bench/soak.ts share: free ports, the service as a child process on loopback,
 * its set-up through the public API, and a typed handle on autocannon (which ships no types).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { cpus, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const ROOT = resolve(import.meta.dirname, '..')
export const ADMIN = { username: 'benchadmin', password: 'bench-password-1234' }

export interface LoadResult {
  requests: { average: number; total: number }
  latency: { p50: number; p99: number; average: number; max: number }
  errors: number
  timeouts: number
  non2xx: number
  '2xx': number
}

export interface LoadOptions {
  url: string
  connections?: number
  duration?: number
  amount?: number
  overallRate?: number
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
}

export interface LoadRequest {
  method?: 'GET' | 'POST'
  path?: string
  headers?: Record<string, string>
  body?: string
  setupRequest?: (request: { method: string; path: string; body?: string }) => unknown
}

/** A running load: 'response' (client, status) and 'reqError' events; stop() ends it early. */
export interface LoadInstance {
  on(event: 'response', listener: (client: unknown, statusCode: number) => void): this
  on(event: 'reqError', listener: (error: Error) => void): this
  stop(): void
}

interface Autocannon {
  (options: LoadOptions & { timeout?: number }): Promise<LoadResult>
  (
    options: LoadOptions & { timeout?: number; requests?: LoadRequest[] },
    done: (error: Error | null, result: LoadResult) => void,
  ): LoadInstance
}
export const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon

export const machineLine = () =>
  `${cpus()[0]?.model?.trim() ?? 'cpu'} × ${cpus().length}, Node ${process.version}`

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms))

/** dist/ is rebuilt (tsc only, no web UI) when any file under src/ is newer than dist/server.js. */
export function ensureBuilt(): void {
  const built = join(ROOT, 'dist/server.js')
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
        const path = join(dir, entry.name)
        return entry.isDirectory() ? newest(path) : statSync(path).mtimeMs
      }),
    )
  if (existsSync(built) && statSync(built).mtimeMs >= newest(join(ROOT, 'src'))) return
  console.error('dist/ is older than src/: building with tsc -p tsconfig.build.json')
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  )
}

export interface Service {
  url: string
  child: ChildProcess
  dataDir: string
  stop(): Promise<void>
}

export interface ServiceOptions {
  databaseUrl?: string
  redisUrl?: string
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs?: string[]
  /** The script to run (default dist/server.js). */
  script?: string
  /**
   * Above 1: that many copies of the script behind one port (node:cluster, as a process manager would
   * run them). Only sound with PostgreSQL + Redis: SQLite is one process by design.
   */
  processes?: number
  env?: Record<string, string>
  /**
   * As shipped: LOG_LEVEL left at the service's default (unless env sets it) and its log lines (stdout)
   * written to /dev/null, as a log collector would take them, instead of this terminal.
   */
  asShipped?: boolean
}

/** The built service on 127.0.0.1, rate limits raised out of the way, LOG_LEVEL=warn (unless asShipped), ready when it answers. */
export async function startService(options: ServiceOptions = {}): Promise<Service> {
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'mathapi-bench-'))
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
    DATABASE_URL: options.databaseUrl ?? `sqlite:${join(dataDir, 'app.db')}`,
    JWT_SECRET: randomBytes(48).toString('base64url'),
    BOOTSTRAP_ADMIN_USERNAME: ADMIN.username,
    BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
    RATE_LIMIT_READ: '1000000000',
    RATE_LIMIT_WRITE: '1000000000',
    RATE_LIMIT_AUTH: '1000000',
    ...(options.asShipped ? {} : { LOG_LEVEL: 'warn' }),
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl, REDIS_KEY_PREFIX: `bench${port}:` } : {}),
    ...options.env,
  }
  const script = options.script ?? join(ROOT, 'dist/server.js')
  const processes = options.processes ?? 1
  // The first copy migrates and creates the admin; the others start once it listens.
  const clustered = `
    const cluster = require('node:cluster')
    cluster.setupPrimary({ exec: ${JSON.stringify(script)}, execArgv: ${JSON.stringify(options.nodeArgs ?? [])} })
    cluster.fork().once('listening', () => { for (let i = 1; i < ${processes}; i++) cluster.fork() })
    process.on('SIGTERM', () => {
      for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM')
      cluster.on('exit', () => { if (Object.keys(cluster.workers).length === 0) process.exit(0) })
    })`
  const child = spawn(
    process.execPath,
    processes > 1 ? ['-e', clustered] : [...(options.nodeArgs ?? []), script],
    { cwd: dataDir, env, stdio: ['ignore', options.asShipped ? 'ignore' : 'inherit', 'inherit'] },
  )
  const exited = new Promise<void>((done) => child.once('exit', () => done()))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode} during start-up`)
    try {
      if ((await fetch(`${url}/health/live`)).ok) break
    } catch {}
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error('service did not start within 30 s')
    }
    await sleep(100)
  }
  // The first copy answers; give the others time to start listening too.
  if (processes > 1) await sleep(3000)
  return {
    url,
    child,
    dataDir,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000)
        await exited
        clearTimeout(killer)
      }
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export async function api(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await response.text()
  return { status: response.status, json: text ? JSON.parse(text) : undefined }
}

export async function login(url: string, username: string, password: string): Promise<string> {
  const { status, json } = await api(url, 'POST', '/auth/login', { username, password })
  if (status !== 200) throw new Error(`login as ${username} answered ${status}: ${JSON.stringify(json)}`)
  return (json as { access_token: string }).access_token
}

/** A user of role user, and the admin's token; products seeded so the list has something to page. */
export async function seed(url: string, products = 50) {
  const adminToken = await login(url, ADMIN.username, ADMIN.password)
  const user = { username: 'benchuser', email: 'benchuser@example.com', password: 'bench-user-pass-1234' }
  const registered = await api(url, 'POST', '/auth/register', user)
  if (registered.status !== 201) throw new Error(`register answered ${registered.status}`)
  const userToken = await login(url, user.username, user.password)
  for (let i = 0; i < products; i++) {
    const created = await api(
      url,
      'POST',
      '/products',
      {
        name: `Bench product ${i}`,
        description: 'Seeded by the benchmark',
        price: 10 + i,
        stock: i % 7,
        category: i % 2 ? 'tools' : 'books',
        sku: `BENCH-${String(i).padStart(4, '0')}`,
      },
      adminToken,
    )
    if (created.status !== 201) throw new Error(`product create answered ${created.status}`)
  }
  return { adminToken, userToken, user }
}
