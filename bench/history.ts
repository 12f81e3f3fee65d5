/**
 * History listing cost as the table grows: the first page against a page deep in the keyset, for each
 * filter the API offers. Rows are inserted straight through the repository (no HTTP) to reach millions.
 * Run: npm run bench:history [-- rows]   (BENCH_DATABASE_URL=postgres://… to measure PostgreSQL too)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { createHistoryRepository, type HistoryFilter } from '../src/modules/history/repository.js'
import { createHistoryService } from '../src/modules/history/service.js'
import { Operation } from '../src/modules/math/operation.js'
import { createBatchInsert } from '../src/platform/batch-insert.js'
import { migrateToLatest, openDatabase } from '../src/platform/database.js'
import { uuidv7 } from '../src/platform/ids.js'

const ROWS = Number(process.argv[2] ?? 1_000_000)
const USERS = 20
const OPERATIONS = Operation.anyOf.map((literal) => literal.const)
const BATCH = 2000
const REPEAT = 50

const CALLERS = 64
const WRITES = 10_000

/** What the history write costs a busy server: the service's group commit against an insert per call. */
async function measureWrites(repository: ReturnType<typeof createHistoryRepository>, userId: string) {
  const call = {
    actor: { id: userId, role: 'user' as const },
    operation: 'fibonacci' as const,
    input: { n: 1 },
    result: '1',
    digits: 1,
    exact: true,
    cached: true,
    computeMs: 0,
    status: 200,
  }
  const run = async (record: () => Promise<void>) => {
    let remaining = WRITES
    const t0 = performance.now()
    await Promise.all(
      Array.from({ length: CALLERS }, async () => {
        while (remaining-- > 0) await record()
      }),
    )
    return Math.round(WRITES / ((performance.now() - t0) / 1000))
  }
  let batches = 0
  const grouped = createHistoryService(repository, () => batches++)
  const groupedRate = await run(() => grouped.record(call))
  // Each caller inserting its own row, concurrently: what writing history without batching would do.
  const singleRate = await run(() =>
    repository.insertMany([
      {
        id: uuidv7(),
        userId,
        operation: 'fibonacci',
        input: '{"n":1}',
        resultPreview: '1',
        digits: 1,
        exact: 1,
        cached: 1,
        computeMs: 0,
        status: 200,
        createdAt: new Date().toISOString(),
      },
    ]),
  )
  return { grouped: groupedRate, single: singleRate, meanBatch: WRITES / batches }
}

async function measure(databaseUrl: string, label: string) {
  const database = await openDatabase(databaseUrl)
  await migrateToLatest(database)
  const repository = createHistoryRepository(database.db, createBatchInsert(database))
  const userIds: string[] = []
  for (let i = 0; i < USERS; i++) {
    const id = crypto.randomUUID()
    userIds.push(id)
    const now = new Date().toISOString()
    await database.db
      .insertInto('users')
      .values({
        id,
        username: `bench${i}`,
        email: `bench${i}@example.com`,
        passwordHash: 'x',
        role: 'user',
        isActive: 1,
        tokenVersion: 0,
        createdAt: now,
        updatedAt: now,
      })
      .execute()
  }
  const started = performance.now()
  const start = Date.now() - ROWS
  for (let offset = 0; offset < ROWS; offset += BATCH) {
    const rows = []
    for (let i = offset; i < Math.min(ROWS, offset + BATCH); i++) {
      rows.push({
        id: uuidv7(start + i),
        userId: userIds[i % USERS]!,
        operation: OPERATIONS[i % 3]!,
        input: `{"n":${i}}`,
        resultPreview: '12345',
        digits: 5,
        exact: 1,
        cached: 0,
        computeMs: 0.01,
        status: 200,
        createdAt: new Date(start + i).toISOString(),
      })
    }
    await repository.insertMany(rows)
  }
  const insertSeconds = (performance.now() - started) / 1000
  // What autovacuum would do shortly after a load this size; without statistics the planner guesses.
  if (database.dialect === 'postgres') await sql`analyze math_history`.execute(database.db)

  // A cursor about 90% of the way down each filtered list.
  const deepId = uuidv7(start + Math.floor(ROWS * 0.1))
  const cases: [string, HistoryFilter][] = [
    ['admin, all users', {}],
    ['one user', { userId: userIds[3]! }],
    ['one user, one operation', { userId: userIds[3]!, operation: 'factorial' }],
    ['admin, one operation', { operation: 'power' }],
  ]
  const rowsOut: string[] = []
  for (const [name, filter] of cases) {
    const time = async (keyset: HistoryFilter) => {
      await repository.list(keyset, 21)
      const t0 = performance.now()
      for (let i = 0; i < REPEAT; i++) await repository.list(keyset, 21)
      return (performance.now() - t0) / REPEAT
    }
    const first = await time(filter)
    const deep = await time({ ...filter, beforeId: deepId })
    rowsOut.push(`| ${label} | ${name} | ${first.toFixed(3)} | ${deep.toFixed(3)} |`)
  }
  const writes = await measureWrites(repository, userIds[0]!)
  rowsOut.push(
    `| ${label} | record(), ${CALLERS} concurrent callers, group commit | ${writes.grouped.toLocaleString('en')} records/s | batches of ${writes.meanBatch.toFixed(1)} |`,
    `| ${label} | record(), ${CALLERS} concurrent callers, one insert each | ${writes.single.toLocaleString('en')} records/s | batches of 1 |`,
  )
  if (database.schema) await sql`drop schema ${sql.id(database.schema)} cascade`.execute(database.db)
  await database.close()
  return { insertSeconds, rowsOut }
}

console.log(
  `\n${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, Node ${process.version}; ${ROWS.toLocaleString('en')} history rows, ${USERS} users, pages of 20, mean of ${REPEAT}\n`,
)
const dir = mkdtempSync(join(tmpdir(), 'bench-history-'))
const results = [await measure(`sqlite:${join(dir, 'history.db')}`, 'SQLite')]
if (process.env.BENCH_DATABASE_URL) {
  const url = new URL(process.env.BENCH_DATABASE_URL)
  url.searchParams.set('schema', `bench_${Date.now()}`)
  results.push(await measure(url.toString(), 'PostgreSQL'))
}
rmSync(dir, { recursive: true, force: true })
console.log('| database | filter / write path | first page ms | page 90% deep ms |')
console.log('|---|---|---:|---:|')
for (const result of results) for (const row of result.rowsOut) console.log(row)
console.log('')
for (const [i, result] of results.entries()) {
  console.log(
    `${i === 0 ? 'SQLite' : 'PostgreSQL'}: inserted in ${result.insertSeconds.toFixed(1)} s (${Math.round(ROWS / result.insertSeconds).toLocaleString('en')} rows/s in batches of ${BATCH})`,
  )
}
