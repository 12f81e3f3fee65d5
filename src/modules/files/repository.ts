import type { Insertable, Kysely, Selectable } from 'kysely'
import { type Database, type Executor, type FilesTable, toIso } from '../../platform/db-schema.js'
import type { OwnerScope } from '../../platform/ownership.js'
import { type Counted, countTotal, type PageWindow, readWindow } from '../../platform/pages.js'
import type { FilePublic } from './schemas.js'

/** A file as the service works with it: its metadata, and where the storage keeps its bytes. */
export type StoredFile = FilePublic & Pick<Selectable<FilesTable>, 'storageKey'>

function toStoredFile(row: Selectable<FilesTable>): StoredFile {
  return { ...row, size: Number(row.size), createdAt: toIso(row.createdAt) }
}

export function createFilesRepository(db: Kysely<Database>) {
  return {
    async insert(file: Insertable<FilesTable>, executor: Executor = db): Promise<StoredFile> {
      const row = await executor.insertInto('files').values(file).returningAll().executeTakeFirstOrThrow()
      return toStoredFile(row)
    },

    /** The file, if it exists and (when `ownerId` is given) belongs to that owner. */
    async findById(id: string, ownerId: OwnerScope): Promise<StoredFile | undefined> {
      let query = db.selectFrom('files').selectAll().where('id', '=', id)
      if (ownerId !== undefined) query = query.where('ownerId', '=', ownerId)
      const row = await query.executeTakeFirst()
      return row && toStoredFile(row)
    },

    /** Newest first; every owner's files when `ownerId` is undefined. */
    async list(ownerId: OwnerScope, window: PageWindow): Promise<Counted<StoredFile>> {
      let files = db.selectFrom('files')
      if (ownerId !== undefined) files = files.where('ownerId', '=', ownerId)
      return readWindow(
        files.selectAll().orderBy('createdAt', 'desc').orderBy('id', 'desc'),
        files.select(countTotal),
        window,
        toStoredFile,
      )
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

    async storageKeysOf(ownerId: string, executor: Executor = db): Promise<string[]> {
      const rows = await executor
        .selectFrom('files')
        .select('storageKey')
        .where('ownerId', '=', ownerId)
        .execute()
      return rows.map((row) => row.storageKey)
    },

    /** Deletes the file when it exists and (when `ownerId` is given) belongs to that owner. */
    async delete(id: string, ownerId: OwnerScope, executor: Executor = db): Promise<boolean> {
      let query = executor.deleteFrom('files').where('id', '=', id)
      if (ownerId !== undefined) query = query.where('ownerId', '=', ownerId)
      const result = await query.executeTakeFirst()
      return Number(result.numDeletedRows) > 0
    },
  }
}

export type FilesRepository = ReturnType<typeof createFilesRepository>
