import SQLite from 'better-sqlite3'
import pg from 'pg'
import type { TestApp } from '../helpers.js'

/**
 * A connection of the test's own to a test app's database, beside the service: to change rows behind its
 * back (a user deleted by "another instance" whose invalidation never arrived), to hold locks that stop
 * the service's transactions at a chosen point, and to read what was committed. `?` placeholders.
 */
export interface DirectDb {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>
  close(): Promise<void>
}

export async function directDb(t: TestApp): Promise<DirectDb> {
  const url = t.config.databaseUrl
  if (url.startsWith('sqlite:')) {
    const db = new SQLite(url.slice('sqlite:'.length))
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    return {
      async query<T>(text: string, params: unknown[] = []) {
        const statement = db.prepare(text)
        if (statement.reader) return statement.all(...params) as T[]
        statement.run(...params)
        return []
      },
      async close() {
        db.close()
      },
    }
  }
  const parsed = new URL(url)
  const schema = parsed.searchParams.get('schema')
  parsed.searchParams.delete('schema')
  const client = new pg.Client({
    connectionString: parsed.toString(),
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  })
  await client.connect()
  return {
    async query<T>(text: string, params: unknown[] = []) {
      let n = 0
      return (
        await client.query(
          text.replaceAll('?', () => `$${++n}`),
          params,
        )
      ).rows as T[]
    },
    close: () => client.end(),
  }
}

/** PostgreSQL: a test-held transaction, and a way to wait until the service's backends queue behind it. */
export async function lockHolder(t: TestApp): Promise<{
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>
  /** Resolves once at least `n` other backends wait, directly or behind one that does, on this one. */
  waitForWaiters(n: number, timeoutMs?: number): Promise<void>
  commit(): Promise<void>
  close(): Promise<void>
}> {
  const db = await directDb(t)
  const observer = await directDb(t)
  await db.query('begin')
  const [own] = await db.query<{ pid: number }>('select pg_backend_pid() as pid')
  const pid = own?.pid
  return {
    query: db.query,
    async waitForWaiters(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        // Everything blocked, transitively, by this transaction.
        const [row] = await observer.query<{ waiting: number }>(
          `with recursive blocked(pid) as (
             select a.pid from pg_stat_activity a where ? = any(pg_blocking_pids(a.pid))
             union
             select a.pid from pg_stat_activity a, blocked b where b.pid = any(pg_blocking_pids(a.pid))
           ) select count(*)::int as waiting from blocked`,
          [pid],
        )
        if ((row?.waiting ?? 0) >= n) return
        if (Date.now() > deadline) throw new Error(`only ${row?.waiting} backends waiting, expected ${n}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    },
    async commit() {
      await db.query('commit')
    },
    async close() {
      await db.close()
      await observer.close()
    },
  }
}
