import type { Kysely } from 'kysely'
import { columnTypes } from './column-types.js'
import type { DialectMigration } from './index.js'

export const files: DialectMigration = (dialect) => {
  const types = columnTypes(dialect)
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('files')
        .addColumn('id', types.uuid, (col) => col.primaryKey())
        // The rows go with their owner; the bytes are removed by the files service on user deletion.
        .addColumn('owner_id', types.uuid, (col) => col.notNull().references('users.id').onDelete('cascade'))
        .addColumn('filename', 'varchar(255)', (col) => col.notNull())
        .addColumn('size', 'bigint', (col) => col.notNull())
        .addColumn('content_type', 'varchar(128)', (col) => col.notNull())
        .addColumn('sha256', 'varchar(64)', (col) => col.notNull())
        .addColumn('storage_key', 'varchar(255)', (col) => col.notNull().unique())
        .addColumn('created_at', types.timestamp, (col) => col.notNull())
        .execute()
      // Listing own files and summing the quota read this index; the admin listing reads the next.
      await db.schema
        .createIndex('files_owner_created_at')
        .on('files')
        .columns(['owner_id', 'created_at', 'id'])
        .execute()
      await db.schema.createIndex('files_created_at').on('files').columns(['created_at', 'id']).execute()
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('files').execute()
    },
  }
}
