import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Insertable, sql } from 'kysely'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type BatchInsert, createBatchInsert } from '../../src/platform/batch-insert.js'
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../../src/platform/database.js'
import type { EventsTable, MathHistoryTable } from '../../src/platform/db-schema.js'
import { uuidv7 } from '../../src/platform/ids.js'

// Read here rather than from ../helpers.js, which loads the whole app; the CI rule is the same.
const databaseUrl = process.env.TEST_DATABASE_URL
if (!databaseUrl && (process.env.CI === 'true' || process.env.REQUIRE_TEST_SERVICES === '1')) {
  throw new Error('CI requires TEST_DATABASE_URL: the PostgreSQL batch-insert tests must run')
}

interface Opened {
  database: DatabaseHandle
  close(): Promise<void>
}

async function openSqlite(): Promise<Opened> {
  const dir = mkdtempSync(join(tmpdir(), 'mathapi-batch-'))
  const database = await openDatabase(`sqlite:${join(dir, 'test.db')}`)
  await migrateToLatest(database)
  return {
    database,
    async close() {
      await database.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function openPostgres(url: string): Promise<Opened> {
  const schema = `batch_${randomUUID().replaceAll('-', '').slice(0, 16)}`
  const scoped = new URL(url)
  scoped.searchParams.set('schema', schema)
  const database = await openDatabase(scoped.toString())
  await migrateToLatest(database)
  return {
    database,
    async close() {
      await database.close()
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      await client.query(`drop schema if exists "${schema}" cascade`)
      await client.end()
    },
  }
}

const backends: [string, () => Promise<Opened>][] = [['sqlite', openSqlite]]
if (databaseUrl) backends.push(['postgres', () => openPostgres(databaseUrl)])
else it.skip('batch insert [postgres] — skipped: TEST_DATABASE_URL not set', () => {})

describe.each(backends)('batch insert [%s]', (_name, open) => {
  let opened: Opened
  let insert: BatchInsert
  let userId: string

  beforeEach(async () => {
    opened = await open()
    insert = createBatchInsert(opened.database)
    userId = uuidv7()
    await opened.database.db
      .insertInto('users')
      .values({
        id: userId,
        username: `u${userId.slice(-8)}`,
        email: `${userId}@example.com`,
        passwordHash: 'x',
        role: 'user',
        isActive: 1,
        createdAt: new Date().toISOString(),
        updatedAt: new Date().toISOString(),
      })
      .execute()
  })
  afterEach(() => opened.close())

  const historyRow = (
    overrides: Partial<Insertable<MathHistoryTable>> = {},
  ): Insertable<MathHistoryTable> => ({
    id: uuidv7(),
    userId,
    operation: 'fibonacci',
    input: '{"n":10}',
    resultPreview: '55',
    digits: 2,
    exact: 1,
    cached: 0,
    computeMs: 0.25,
    status: 200,
    createdAt: new Date().toISOString(),
    ...overrides,
  })
  const eventRow = (data: string): Insertable<EventsTable> => ({
    id: uuidv7(),
    type: 'math.computed',
    occurredAt: new Date().toISOString(),
    actorUserId: userId,
    actorRole: 'user',
    requestId: 'req-1',
    data,
  })

  it('writes every value as Kysely would read it back, awkward text included', async () => {
    const awkward = `quote " backslash \\ comma , brace { } newline \n tab \t unicode é 😀 'single'`
    const rows = [
      historyRow(),
      historyRow({
        input: awkward,
        resultPreview: null,
        digits: null,
        exact: null,
        computeMs: null,
        status: 422,
      }),
      historyRow({ exact: 0, cached: 1, computeMs: 1e-7 }),
    ]
    const events = [eventRow(JSON.stringify({ text: awkward })), eventRow('{}')]
    // The same shapes twice: the second batch reuses the prepared statements.
    await insert([
      { table: 'mathHistory', rows },
      { table: 'events', rows: events },
    ])
    const more = [historyRow({ operation: 'power' })]
    await insert([{ table: 'mathHistory', rows: more }])

    const { db } = opened.database
    const stored = await db.selectFrom('mathHistory').selectAll().orderBy('id').execute()
    expect(stored.map((row) => row.id)).toEqual([...rows, ...more].map((row) => row.id))
    expect(stored[1]).toMatchObject({ input: awkward, resultPreview: null, digits: null, exact: null })
    expect(stored[1]!.computeMs).toBeNull()
    expect(Boolean(stored[2]!.exact)).toBe(false)
    expect(Boolean(stored[2]!.cached)).toBe(true)
    expect(Number(stored[2]!.computeMs)).toBe(1e-7)
    expect(stored[3]!.operation).toBe('power')
    const storedEvents = await db.selectFrom('events').selectAll().orderBy('id').execute()
    expect(storedEvents.map((row) => row.data)).toEqual(events.map((row) => row.data))
    // A column left out takes its default, as with Kysely.
    expect(storedEvents.map((row) => row.attempts)).toEqual([0, 0])
    expect(storedEvents.every((row) => row.publishedAt === null)).toBe(true)
  })

  it('commits all tables or none: a failing row takes the whole batch with it', async () => {
    const duplicate = historyRow()
    await insert([{ table: 'mathHistory', rows: [duplicate] }])
    const event = eventRow('{}')
    await expect(
      insert([
        { table: 'events', rows: [event] },
        { table: 'mathHistory', rows: [historyRow(), duplicate] },
      ]),
    ).rejects.toThrow()
    const { db } = opened.database
    expect(await db.selectFrom('events').select('id').execute()).toEqual([])
    expect(await db.selectFrom('mathHistory').select('id').execute()).toHaveLength(1)
  })

  it('never writes into a Kysely transaction left open between two awaits', async () => {
    const { db } = opened.database
    let release!: () => void
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let entered!: () => void
    const inside = new Promise<void>((resolve) => {
      entered = resolve
    })
    // A transaction that writes, then waits (as a service awaiting something mid-transaction would), then
    // rolls back. On SQLite its connection is the only one.
    const rolledBack = db
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto('events').values(eventRow('{"rolled":"back"}')).execute()
        entered()
        await held
        throw new Error('roll back')
      })
      .catch(() => 'rolled back')
    await inside
    const row = historyRow()
    const written = insert([{ table: 'mathHistory', rows: [row] }])
    // Give the insert every chance to run while the transaction is open.
    await new Promise((resolve) => setTimeout(resolve, 50))
    release()
    expect(await rolledBack).toBe('rolled back')
    await written
    expect(await db.selectFrom('mathHistory').select('id').execute()).toEqual([{ id: row.id }])
    expect(await db.selectFrom('events').select('id').execute()).toEqual([])
  })

  it('carries bytes and 64-bit integers, should a table hold them', async () => {
    const { db, dialect } = opened.database
    const types = dialect === 'postgres' ? 'bytea' : 'blob'
    await sql.raw(`create table blob_probe (id text primary key, data ${types}, big bigint)`).execute(db)
    const data = Buffer.from([0, 1, 2, 254, 255, 0x5c, 0x22])
    const big = 2n ** 62n + 7n
    await insert([{ table: 'blobProbe', rows: [{ id: 'one', data, big }] }] as never)
    const stored = await sql<{
      data: Uint8Array
      big: string
    }>`select data, cast(big as text) as big from blob_probe`.execute(db)
    expect(Buffer.from(stored.rows[0]!.data).equals(data)).toBe(true)
    expect(stored.rows[0]!.big).toBe(big.toString())
  })

  it('refuses a property name that is not a plain identifier before it becomes SQL', async () => {
    const hostile = { ...historyRow(), 'id") values (1); --': 'x' } as unknown as Insertable<MathHistoryTable>
    await expect(insert([{ table: 'mathHistory', rows: [hostile] }])).rejects.toThrow(/not an identifier/)
  })
})
