import type { Insertable, Kysely, Selectable, Transaction } from 'kysely'
import { type Database, type Executor, type FilesTable, toIso } from '../../platform/db-schema.js'

export interface StoredFile {
  id: string
  ownerId: string
  filename: string
  size: number
  contentType: string
  sha256: string
  storageKey: string
  createdAt: string
}

function toStoredFile(row: Selectable<FilesTable>): StoredFile {
  return { ...row, size: Number(row.size), createdAt: toIso(row.createdAt) }
}

export function createFilesRepository(db: Kysely<Database>) {
  return {
    async insert(file: Insertable<FilesTable>, executor: Executor = db): Promise<StoredFile> {
      const row = await executor.insertInto('files').values(file).returningAll().executeTakeFirstOrThrow()
      return toStoredFile(row)
    },

    async findById(id: string): Promise<StoredFile | undefined> {
      const row = await db.selectFrom('files').selectAll().where('id', '=', id).executeTakeFirst()
      return row && toStoredFile(row)
    },

    /** Newest first; every owner's files when `ownerId` is undefined. */
    async list(
      ownerId: string | undefined,
      offset: number,
      limit: number,
    ): Promise<{ items: StoredFile[]; total: number }> {
      let rows = db.selectFrom('files')
      if (ownerId !== undefined) rows = rows.where('ownerId', '=', ownerId)
      const [items, count] = await Promise.all([
        rows
          .selectAll()
          .orderBy('createdAt', 'desc')
          .orderBy('id', 'desc')
          .offset(offset)
          .limit(limit)
          .execute(),
        rows.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
      ])
      return { items: items.map(toStoredFile), total: Number(count.total) }
    },

    /** Bytes stored by one owner (PostgreSQL sums a bigint column into a numeric, which pg returns as text). */
    async usedBytes(ownerId: string, executor: Executor = db): Promise<number> {
      const row = await executor
        .selectFrom('files')
        .select((eb) => eb.fn.coalesce(eb.fn.sum<number | string>('size'), eb.lit(0)).as('used'))
        .where('ownerId', '=', ownerId)
        .executeTakeFirstOrThrow()
      return Number(row.used)
    },

    /**
     * Takes the owner's row lock on PostgreSQL, the point on which an owner's quota checks and deletion
     * serialise (SQLite serialises writers anyway). False when the owner no longer exists.
     */
    async lockOwner(ownerId: string, executor: Transaction<Database>, lock: boolean): Promise<boolean> {
      let query = executor.selectFrom('users').select('id').where('id', '=', ownerId)
      if (lock) query = query.forUpdate()
      return (await query.executeTakeFirst()) !== undefined
    },

    async storageKeysOf(ownerId: string, executor: Executor = db): Promise<string[]> {
      const rows = await executor
        .selectFrom('files')
        .select('storageKey')
        .where('ownerId', '=', ownerId)
        .execute()
      return rows.map((row) => row.storageKey)
    },

    async delete(id: string, executor: Executor = db): Promise<boolean> {
      const result = await executor.deleteFrom('files').where('id', '=', id).executeTakeFirst()
      return Number(result.numDeletedRows) > 0
    },
  }
}

export type FilesRepository = ReturnType<typeof createFilesRepository>
