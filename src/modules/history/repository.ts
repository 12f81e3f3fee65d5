import type { Insertable, Kysely } from 'kysely'
import type { BatchInsert } from '../../platform/batch-insert.js'
import {
  type Database,
  type EventsTable,
  type MathHistoryTable,
  type MathOperation,
  toBool,
  toIso,
} from '../../platform/db-schema.js'
import { deleteOldestBefore } from '../../platform/retention.js'

/** How a long operand is stored: enough to recognise it (and check it against a copy), never all of it. */
export interface OperandDigest {
  preview: string
  digits: number
  /** SHA-256 of the operand's decimal text as the math response echoed it, in hex. */
  sha256: string
}

export type StoredInput = Record<string, number | string | OperandDigest>

export interface HistoryItem {
  id: string
  userId: string
  username: string
  operation: MathOperation
  input: StoredInput
  resultPreview: string | null
  digits: number | null
  exact: boolean | null
  cached: boolean
  computeMs: number | null
  status: number
  createdAt: string
}

export interface HistoryQuery {
  userId?: string
  operation?: MathOperation
  /** Only entries older than this id (the keyset cursor). */
  beforeId?: string
  limit: number
}

/** `batchInsert` is the hot write path (prepared statements on SQLite, one round trip on PostgreSQL). */
export function createHistoryRepository(db: Kysely<Database>, batchInsert: BatchInsert) {
  return {
    /** The batch's history rows and their outbox events, in one transaction (bench/history.ts writes rows alone). */
    insertMany(rows: Insertable<MathHistoryTable>[], events: Insertable<EventsTable>[] = []): Promise<void> {
      return batchInsert(
        events.length === 0
          ? [{ table: 'mathHistory', rows }]
          : [
              { table: 'mathHistory', rows },
              { table: 'events', rows: events },
            ],
      )
    },

    /** Retention: deletes up to `limit` of the oldest rows whose id sorts below `beforeId`. */
    deleteBefore(beforeId: string, limit: number): Promise<number> {
      return deleteOldestBefore(db, 'mathHistory', beforeId, limit)
    },

    /** Newest first; ids are UUIDv7, so id order is time order and each filter has an index ending in id. */
    async list(query: HistoryQuery): Promise<HistoryItem[]> {
      let select = db
        .selectFrom('mathHistory')
        .innerJoin('users', 'users.id', 'mathHistory.userId')
        .select([
          'mathHistory.id',
          'mathHistory.userId',
          'users.username',
          'mathHistory.operation',
          'mathHistory.input',
          'mathHistory.resultPreview',
          'mathHistory.digits',
          'mathHistory.exact',
          'mathHistory.cached',
          'mathHistory.computeMs',
          'mathHistory.status',
          'mathHistory.createdAt',
        ])
        .orderBy('mathHistory.id', 'desc')
        .limit(query.limit)
      if (query.userId) select = select.where('mathHistory.userId', '=', query.userId)
      if (query.operation) select = select.where('mathHistory.operation', '=', query.operation)
      if (query.beforeId) select = select.where('mathHistory.id', '<', query.beforeId)
      const rows = await select.execute()
      return rows.map((row) => ({
        ...row,
        input: JSON.parse(row.input) as StoredInput,
        exact: row.exact === null ? null : toBool(row.exact),
        cached: toBool(row.cached),
        computeMs: row.computeMs === null ? null : Number(row.computeMs),
        createdAt: toIso(row.createdAt),
      }))
    },
  }
}

export type HistoryRepository = ReturnType<typeof createHistoryRepository>
