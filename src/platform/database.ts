import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import SQLite from 'better-sqlite3'
import { CamelCasePlugin, Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely'
import { Migrator } from 'kysely/migration'
import pg from 'pg'
import type { Database } from './db-schema.js'
import { DependencyUnavailableError } from './errors.js'
import { migrationProvider } from './migrations/index.js'
import { withTimeout } from './timeout.js'

export type Dialect = 'sqlite' | 'postgres'

/** Longest a query may go unanswered before its connection is given up (above the 5 s statement_timeout). */
const QUERY_TIMEOUT_MS = 6_000
/**
 * The driver under Kysely, for the few hot paths that skip its per-query SQL building (batch-insert.ts).
 * On SQLite, use it only while holding Kysely's connection (`db.connection().execute`): the one
 * connection is shared, and a Kysely transaction may be open on it between two awaits.
 */
export type RawDriver =
  | { dialect: 'sqlite'; sqlite: SQLite.Database }
  | {
      dialect: 'postgres'
      /**
       * One statement on a pooled connection, with the same guards as Kysely's queries: the client-side
       * query timeout, and DependencyUnavailableError when no connection can be had or the one used died
       * (a dead connection is discarded, not returned to the pool).
       */
      query(config: pg.QueryConfig): Promise<pg.QueryResult>
    }

export interface DatabaseHandle {
  readonly db: Kysely<Database>
  readonly dialect: Dialect
  /** PostgreSQL schema chosen with `?schema=`; migrations keep their bookkeeping tables in it too. */
  readonly schema?: string
  readonly raw: RawDriver
  /** Round trip to the server; rejects when it does not answer within `timeoutMs`. */
  ping(timeoutMs?: number): Promise<void>
  /** Connections in use / idle / waiting, for metrics (SQLite reports one connection). */
  poolStats(): { total: number; idle: number; waiting: number }
  close(): Promise<void>
}

export interface DatabaseOptions {
  poolMax?: number
}

// pg returns int8 (COUNT(*), bigserial) as strings by default; our counts fit comfortably in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10))

function openSqlite(location: string): DatabaseHandle {
  const inMemory = location === ':memory:'
  if (!inMemory) mkdirSync(dirname(resolve(location)), { recursive: true })
  const sqlite = new SQLite(inMemory ? ':memory:' : location)
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('synchronous = NORMAL')
  sqlite.pragma('foreign_keys = ON')
  sqlite.pragma('busy_timeout = 5000')
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: sqlite }),
    plugins: [new CamelCasePlugin()],
  })
  return {
    db,
    dialect: 'sqlite',
    raw: { dialect: 'sqlite', sqlite },
    async ping() {
      sqlite.prepare('select 1').get()
    },
    poolStats: () => ({ total: 1, idle: 1, waiting: 0 }),
    close: () => db.destroy(),
  }
}

/** A `schema` query parameter selects (and creates) a PostgreSQL schema: how tests and tenants get isolation. */
function openPostgres(url: string, options: DatabaseOptions): DatabaseHandle {
  const parsed = new URL(url)
  const schema = parsed.searchParams.get('schema')
  parsed.searchParams.delete('schema')
  if (schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error('DATABASE_URL: schema must be a lower-case SQL identifier')
  }
  const pool = new pg.Pool({
    connectionString: parsed.toString(),
    max: options.poolMax ?? 10,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    // Bounds every statement on the server, so a slow statement (a lock wait) fails with 57014, a 503;
    // QUERY_TIMEOUT_MS below bounds it on the client, for a server that answers nothing at all.
    statement_timeout: 5_000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  })
  // Connections known to be dead: the server closed them, the network cut them, or a query on them timed
  // out. A query that fails on such a connection failed because of it, whatever its error says (pg reports
  // "Connection terminated unexpectedly" or "Client has encountered a connection error and is not
  // queryable" without a code, the latter from the ROLLBACK Kysely sends after the first failure).
  const dead = new WeakSet<object>()
  // A connection dropped by the server (restart, network cut) emits 'error' on the pool when the client is
  // idle and on the client itself when it is checked out; unheard, either kills the process.
  pool.on('error', () => {})
  pool.on('connect', (client) => {
    client.on('error', () => dead.add(client))
    client.on('end', () => dead.add(client))
    const query = client.query.bind(client) as (...args: unknown[]) => unknown
    Object.assign(client, {
      query: (...args: unknown[]) => {
        const result = query(...args)
        if (!(result instanceof Promise)) return result
        // A query still unanswered after this is on a connection that is gone or a server that is stalled.
        // Whatever is queued behind it (the transaction's ROLLBACK, the next request's query) would wait on
        // it too: closing the connection fails them all at once and makes the pool discard it.
        const timer = setTimeout(() => {
          dead.add(client)
          client.connection.stream.destroy()
        }, QUERY_TIMEOUT_MS)
        return result.then(
          (value: unknown) => {
            clearTimeout(timer)
            return value
          },
          (error: unknown) => {
            clearTimeout(timer)
            throw dead.has(client) ? new DependencyUnavailableError('database', { cause: error }) : error
          },
        )
      },
    })
  })
  // What Kysely sees of the pool: failing to get a connection at all (refused, timed out, pool exhausted for
  // connectionTimeoutMillis, authentication) means the database cannot serve this request.
  const connections = {
    Client: pg.Client,
    options: pool.options,
    connect: () =>
      pool.connect().catch((error: unknown) => {
        throw new DependencyUnavailableError('database', { cause: error })
      }),
    end: () => pool.end(),
  }
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: connections }),
    plugins: [new CamelCasePlugin()],
  })
  return {
    db,
    dialect: 'postgres',
    ...(schema ? { schema } : {}),
    raw: {
      dialect: 'postgres',
      // A checked-out client and query()'s promise form: pool.query() passes a callback, which the timeout
      // wrapper above does not see, so a black-holed server would hold the statement until the network gave up.
      async query(config) {
        const client = await connections.connect()
        let failure: unknown
        try {
          return await client.query(config)
        } catch (error) {
          failure = error
          throw error
        } finally {
          client.release(failure instanceof DependencyUnavailableError ? failure : undefined)
        }
      },
    },
    async ping(timeoutMs = 2000) {
      await withTimeout(sql`select 1`.execute(db), timeoutMs, 'database ping timed out')
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => db.destroy(),
  }
}

export async function openDatabase(url: string, options: DatabaseOptions = {}): Promise<DatabaseHandle> {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length) || ':memory:')
  if (/^postgres(ql)?:\/\//.test(url)) {
    const schema = new URL(url).searchParams.get('schema')
    if (schema) await ensureSchema(url, schema)
    return openPostgres(url, options)
  }
  throw new Error('DATABASE_URL must start with sqlite: or postgres://')
}

async function ensureSchema(url: string, schema: string): Promise<void> {
  const parsed = new URL(url)
  parsed.searchParams.delete('schema')
  const client = new pg.Client({ connectionString: parsed.toString(), connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    await client.query(`create schema if not exists "${schema}"`)
  } finally {
    await client.end()
  }
}

/** Applies every pending migration; throws (with the failing migration's name) when one fails. */
export async function migrateToLatest(handle: DatabaseHandle): Promise<string[]> {
  const migrator = new Migrator({
    db: handle.db,
    provider: migrationProvider(handle.dialect),
    // Without it, Kysely may find another schema's bookkeeping table and believe its own exists.
    ...(handle.schema ? { migrationTableSchema: handle.schema } : {}),
  })
  let { error, results = [] } = await migrator.migrateToLatest()
  // Kysely's migrator looks for its bookkeeping table by introspecting every schema of the database, and
  // PostgreSQL fails that query (3F000 for the schema, 42P01 for one of its tables) when another schema is
  // dropped while it runs — another tenant, or another test run, on the same database. Nothing of ours was
  // touched: look again.
  for (let attempt = 1; attempt <= 10 && isOtherSchemaVanished(error, handle.schema); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50 * attempt))
    ;({ error, results = [] } = await migrator.migrateToLatest())
  }
  const failed = results.find((result) => result.status === 'Error')
  if (error) {
    const name = failed ? ` (${failed.migrationName})` : ''
    throw new Error(`migration failed${name}: ${error instanceof Error ? error.message : String(error)}`)
  }
  return results.filter((result) => result.status === 'Success').map((result) => result.migrationName)
}

function isOtherSchemaVanished(error: unknown, ours: string | undefined): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string }
  return (
    (code === '3F000' || code === '42P01') &&
    typeof message === 'string' &&
    !(ours && message.includes(`"${ours}"`))
  )
}

/** The violated unique index's name when `error` is a unique violation on either database. */
export function uniqueViolation(error: unknown): string | undefined {
  const { code, constraint, message } = error as { code?: string; constraint?: string; message?: string }
  if (code === '23505') return constraint ?? 'unique'
  if (code === 'SQLITE_CONSTRAINT_UNIQUE') {
    return /index '([^']+)'/.exec(message ?? '')?.[1] ?? /failed: (\S+)/.exec(message ?? '')?.[1] ?? 'unique'
  }
  return undefined
}
