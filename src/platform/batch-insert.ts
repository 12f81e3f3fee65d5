import type SQLite from 'better-sqlite3'
import type { Insertable } from 'kysely'
import type { DatabaseHandle } from './database.js'
import type { Database } from './db-schema.js'

/** Rows for one table, typed by that table's Insertable, exactly as Kysely's insertInto would take them. */
export type TableRows = {
  [Table in keyof Database]: { table: Table; rows: readonly Insertable<Database[Table]>[] }
}[keyof Database]

/** Inserts every table's rows in one transaction: all of them commit, or none. */
export type BatchInsert = (batches: readonly TableRows[]) => Promise<void>

type Row = Record<string, unknown>

interface Shape {
  table: string
  /** Property names, in the order the statement binds them. */
  keys: string[]
  /** Their column names (CamelCasePlugin's mapping: userId → user_id). */
  columns: string[]
}

const IDENTIFIER = /^[a-z][A-Za-z0-9]*$/
const snakeCase = (name: string) => name.replace(/[A-Z]/g, (upper) => `_${upper.toLowerCase()}`)

/**
 * The columns a row sets: its keys whose value is not undefined, as Kysely reads them. Names come from
 * typed objects, never from a request, but are still checked before they become SQL text.
 */
function shapeOf(table: string, row: Row): Shape {
  const keys = Object.keys(row).filter((key) => row[key] !== undefined)
  for (const name of [table, ...keys]) {
    if (!IDENTIFIER.test(name)) throw new Error(`batch insert: ${name} is not an identifier`)
  }
  return { table: snakeCase(table), keys, columns: keys.map(snakeCase) }
}

/** A cache key for a row's shape, cheap enough to compute per row. */
function signature(table: string, row: Row): string {
  let key = table
  for (const name in row) if (row[name] !== undefined) key += `,${name}`
  return key
}

/**
 * The hot insert path (the history group commit): what Kysely does per batch — building an operation
 * tree, compiling it to SQL, and on SQLite preparing a statement — done once per row shape instead.
 * - SQLite: one prepared single-row INSERT per (table, columns), kept for the life of the connection and
 *   run for each row inside one transaction, while holding Kysely's connection (its mutex), so the
 *   rows never land inside a Kysely transaction that is open on the shared connection.
 * - PostgreSQL: the whole batch in ONE statement and one round trip: each table's rows travel as one JSON
 *   parameter expanded by json_populate_recordset (column types come from the table itself), and several
 *   tables are chained as data-modifying CTEs, so the statement commits all of them or none. The
 *   statement is named, so each pooled connection parses and plans it once.
 */
export function createBatchInsert(database: DatabaseHandle): BatchInsert {
  const raw = database.raw
  if (raw.dialect === 'sqlite') return sqliteBatchInsert(database, raw.sqlite)
  const shapes = new Map<string, Shape>()
  const statements = new Map<string, { name: string; text: string }>()
  return async (batches) => {
    // Rows of one table with the same columns form one CTE member; the members are chained in order.
    const groups = new Map<string, { shape: Shape; rows: Row[] }>()
    for (const { table, rows } of batches) {
      for (const row of rows as readonly Row[]) {
        const key = signature(table, row)
        let group = groups.get(key)
        if (!group) {
          let shape = shapes.get(key)
          if (!shape) {
            shape = shapeOf(table, row)
            shapes.set(key, shape)
          }
          group = { shape, rows: [] }
          groups.set(key, group)
        }
        group.rows.push(row)
      }
    }
    if (groups.size === 0) return
    const members = [...groups.values()]
    const statementKey = [...groups.keys()].join(';')
    let statement = statements.get(statementKey)
    if (!statement) {
      // Names are per connection, and one name must always mean one text.
      statement = {
        name: `batch-insert-${statements.size}`,
        text: postgresInsert(members.map((member) => member.shape)),
      }
      statements.set(statementKey, statement)
    }
    const values = members.map(({ shape, rows }) =>
      JSON.stringify(
        rows.map((row) => {
          const record: Row = {}
          for (let i = 0; i < shape.keys.length; i++) record[shape.columns[i]!] = asJson(row[shape.keys[i]!])
          return record
        }),
      ),
    )
    await raw.query({ ...statement, values })
  }
}

/**
 * A value as json_populate_recordset reads it back into its column: bytes as bytea's hex text (JSON would
 * spell a Buffer as an object), 64-bit integers as their digits (JSON.stringify refuses a bigint).
 */
function asJson(value: unknown): unknown {
  if (value instanceof Uint8Array)
    return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`
  if (typeof value === 'bigint') return value.toString()
  return value
}

function postgresInsert(shapes: Shape[]): string {
  const inserts = shapes.map((shape, i) => {
    const columns = shape.columns.map((column) => `"${column}"`).join(', ')
    return `insert into "${shape.table}" (${columns}) select ${columns} from json_populate_recordset(null::"${shape.table}", $${i + 1}::json)`
  })
  const last = inserts.pop()!
  return inserts.length === 0
    ? last
    : `with ${inserts.map((insert, i) => `m${i} as (${insert})`).join(', ')} ${last}`
}

function sqliteBatchInsert(database: DatabaseHandle, sqlite: SQLite.Database): BatchInsert {
  const statements = new Map<string, { shape: Shape; statement: SQLite.Statement }>()
  const prepared = (table: string, row: Row) => {
    const key = signature(table, row)
    let entry = statements.get(key)
    if (!entry) {
      const shape = shapeOf(table, row)
      const columns = shape.columns.map((column) => `"${column}"`).join(', ')
      const placeholders = shape.columns.map(() => '?').join(', ')
      const statement = sqlite.prepare(`insert into "${shape.table}" (${columns}) values (${placeholders})`)
      entry = { shape, statement }
      statements.set(key, entry)
    }
    return entry
  }
  const values: unknown[] = []
  const insertAll = sqlite.transaction((batches: readonly TableRows[]) => {
    for (const { table, rows } of batches) {
      for (const row of rows as readonly Row[]) {
        const { shape, statement } = prepared(table, row)
        values.length = shape.keys.length
        for (let i = 0; i < shape.keys.length; i++) values[i] = row[shape.keys[i]!]
        statement.run(values)
      }
    }
  })
  return (batches) =>
    database.db.connection().execute(async () => {
      insertAll(batches)
    })
}
