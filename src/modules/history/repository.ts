import type { Insertable, Kysely } from 'kysely'
import type { BatchInsert } from '../../platform/batch-insert.js'
import {
  type Database,
  type EventsTable,
  type MathHistoryTable,
  toBool,
  toIso,
} from '../../platform/db-schema.js'
import { deleteOldestBefore } from '../../platform/retention.js'
import type { MathOperation } from '../math/operation.js'
import type { HistoryEntry, StoredInput } from './schemas.js'

/** Which entries a listing reads. */
export interface HistoryFilter {
  /** Only this user's entries; every user's when absent. */
  userId?: string
  operation?: MathOperation
  /** Only entries older than this id (the keyset cursor). */
  beforeId?: string
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
    async list(filter: HistoryFilter, limit: number): Promise<HistoryEntry[]> {
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
        .limit(limit)
      if (filter.userId) select = select.where('mathHistory.userId', '=', filter.userId)
      if (filter.operation) select = select.where('mathHistory.operation', '=', filter.operation)
      if (filter.beforeId) select = select.where('mathHistory.id', '<', filter.beforeId)
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
