import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import type { Static } from 'typebox'
import { afterAll, beforeAll, describe } from 'vitest'
import { type BuildOptions, buildApp } from '../src/app.js'
import { type Config, loadConfig } from '../src/config.js'
import type { TokenPair as TokenPairSchema } from '../src/modules/auth/schemas.js'
import type { UserPublic } from '../src/modules/users/schemas.js'
import type { Problem } from '../src/platform/schemas.js'

/*
 * Every suite runs on SQLite, and again on PostgreSQL + Redis when TEST_DATABASE_URL and TEST_REDIS_URL
 * are set. In CI (CI=true) they must be: a suite that silently skipped half the product would pass for
 * the wrong reason.
 */
const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL
const TEST_REDIS_URL = process.env.TEST_REDIS_URL
const servicesRequired = process.env.CI === 'true' || process.env.REQUIRE_TEST_SERVICES === '1'
if (servicesRequired && (!TEST_DATABASE_URL || !TEST_REDIS_URL)) {
  throw new Error(
    'CI requires TEST_DATABASE_URL and TEST_REDIS_URL: the PostgreSQL and Redis suites must run',
  )
}

export interface Backend {
  name: 'sqlite' | 'postgres+redis'
  databaseUrl?: string
  redisUrl?: string
}

const SQLITE: Backend = { name: 'sqlite' }
const POSTGRES: Backend | undefined =
  TEST_DATABASE_URL && TEST_REDIS_URL
    ? { name: 'postgres+redis', databaseUrl: TEST_DATABASE_URL, redisUrl: TEST_REDIS_URL }
    : undefined

export const postgresBackend = POSTGRES
export const redisUrl = TEST_REDIS_URL

/** Runs `suite` once per available backend; an unavailable one shows up as a skipped suite naming why. */
export function describeEachBackend(title: string, suite: (backend: Backend) => void): void {
  describe(`${title} [sqlite]`, () => suite(SQLITE))
  if (POSTGRES) describe(`${title} [postgres+redis]`, () => suite(POSTGRES))
  else
    describe.skip(`${title} [postgres+redis] — skipped: TEST_DATABASE_URL / TEST_REDIS_URL not set`, () =>
      suite(SQLITE))
}

export const ADMIN = { username: 'root', password: 'root-password-123', email: 'root@example.com' }

export interface TestApp {
  app: FastifyInstance
  config: Config
  close(): Promise<void>
}

/** Per-run isolation: a fresh SQLite file, or a fresh PostgreSQL schema and Redis key prefix. */
export async function buildTestApp(
  backend: Backend,
  env: Record<string, string> = {},
  options: BuildOptions = {},
): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mathapi-test-'))
  const runId = randomUUID().replaceAll('-', '').slice(0, 16)
  let databaseUrl = `sqlite:${join(dataDir, 'test.db')}`
  let schema: string | undefined
  if (backend.databaseUrl) {
    schema = `t_${runId}`
    const url = new URL(backend.databaseUrl)
    url.searchParams.set('schema', schema)
    databaseUrl = url.toString()
  }
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    JWT_SECRET: randomBytes(48).toString('base64url'),
    LOG_LEVEL: 'silent',
    RATE_LIMIT_AUTH: '10000',
    RATE_LIMIT_READ: '100000',
    RATE_LIMIT_WRITE: '100000',
    BOOTSTRAP_ADMIN_USERNAME: ADMIN.username,
    BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
    BOOTSTRAP_ADMIN_EMAIL: ADMIN.email,
    ...(backend.redisUrl ? { REDIS_URL: backend.redisUrl, REDIS_KEY_PREFIX: `test:${runId}:` } : {}),
    ...env,
  })
  const app = await buildApp(config, { logger: false, ...options })
  return {
    app,
    config,
    async close() {
      await app.close()
      if (schema && backend.databaseUrl) await dropSchema(backend.databaseUrl, schema)
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

async function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    await client.query(`drop schema if exists "${schema}" cascade`)
  } finally {
    await client.end()
  }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

export type TokenPair = Static<typeof TokenPairSchema>

export interface Session {
  id: string
  username: string
  password: string
  tokens: TokenPair
  headers: { authorization: string }
}

export async function register(app: FastifyInstance, username: string, password = `${username}-password`) {
  const response = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    payload: { username, email: `${username}@example.com`, password },
  })
  if (response.statusCode !== 201)
    throw new Error(`register ${username}: ${response.statusCode} ${response.body}`)
  return response.json() as Static<typeof UserPublic>
}

export async function login(app: FastifyInstance, username: string, password: string): Promise<TokenPair> {
  const response = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { username, password },
  })
  if (response.statusCode !== 200)
    throw new Error(`login ${username}: ${response.statusCode} ${response.body}`)
  return response.json()
}

export async function signUp(app: FastifyInstance, username: string): Promise<Session> {
  const password = `${username}-password`
  const user = await register(app, username, password)
  const tokens = await login(app, username, password)
  return { id: user.id, username, password, tokens, headers: bearer(tokens.access_token) }
}

export async function adminSession(app: FastifyInstance): Promise<Session> {
  const tokens = await login(app, ADMIN.username, ADMIN.password)
  const me = (await app.inject({ url: '/api/v1/auth/me', headers: bearer(tokens.access_token) })).json()
  return {
    id: me.id,
    username: ADMIN.username,
    password: ADMIN.password,
    tokens,
    headers: bearer(tokens.access_token),
  }
}

/** Asserts the RFC 9457 shape every error must have, and returns the parsed body. */
export function expectProblem(
  response: { statusCode: number; headers: Record<string, unknown>; body: string },
  status: number,
): Static<typeof Problem> {
  if (response.statusCode !== status)
    throw new Error(`expected ${status}, got ${response.statusCode}: ${response.body}`)
  if (!String(response.headers['content-type']).startsWith('application/problem+json')) {
    throw new Error(`expected application/problem+json, got ${response.headers['content-type']}`)
  }
  const body = JSON.parse(response.body)
  if (body.status !== status || typeof body.title !== 'string' || typeof body.requestId !== 'string') {
    throw new Error(`not a problem document: ${response.body}`)
  }
  if (body.requestId !== response.headers['x-request-id'])
    throw new Error('requestId does not match X-Request-Id')
  return body
}

export interface UseAppOptions<U extends string, A extends AdminOrder> {
  /** Signed up in this order, each with a logged-in session. */
  users?: readonly U[]
  /** A session for the bootstrap admin, logged in before the users (true) or after them ('after users'). */
  admin?: A
  /** Configuration on top of buildTestApp's; a function is read when the app is built (in beforeAll). */
  env?: Record<string, string> | (() => Record<string, string>)
  build?: BuildOptions | (() => BuildOptions)
}

type AdminOrder = boolean | 'after users'

/** A suite's app and sessions; the fields are there once the suite's beforeAll has run. */
export type AppFixture<U extends string, A extends AdminOrder = false> = TestApp & {
  readonly users: Readonly<Record<U, Session>>
} & (A extends true | 'after users' ? { readonly admin: Session } : unknown)

/**
 * The set-up most suites share: registers a beforeAll that builds the app (on `backend`, or on what the
 * function returns when beforeAll runs) and opens the sessions asked for, and an afterAll that closes it.
 * Hooks registered earlier in the suite run before it; afterAll hooks registered earlier run after it.
 */
export function useApp<const U extends string = never, const A extends AdminOrder = false>(
  backend: Backend | (() => Backend),
  options: UseAppOptions<U, A> = {},
): AppFixture<U, A> {
  let built: TestApp | undefined
  let admin: Session | undefined
  const users = {} as Record<U, Session>
  const ready = (): TestApp => {
    if (!built) throw new Error('useApp: the app is built in beforeAll; read it inside a hook or a test')
    return built
  }
  beforeAll(async () => {
    const env = typeof options.env === 'function' ? options.env() : options.env
    const build = typeof options.build === 'function' ? options.build() : options.build
    built = await buildTestApp(typeof backend === 'function' ? backend() : backend, env, build)
    if (options.admin === true) admin = await adminSession(built.app)
    for (const name of options.users ?? []) users[name] = await signUp(built.app, name)
    if (options.admin === 'after users') admin = await adminSession(built.app)
  })
  afterAll(() => built?.close())
  const fixture = {
    get app() {
      return ready().app
    },
    get config() {
      return ready().config
    },
    close: () => ready().close(),
    get users() {
      ready()
      return users
    },
    get admin() {
      ready()
      if (!admin) throw new Error('useApp: no admin session was asked for (options.admin)')
      return admin
    },
  }
  return fixture as AppFixture<U, A>
}
