import { type Kysely, sql } from 'kysely'
import { columnTypes } from './column-types.js'
import type { DialectMigration } from './index.js'

export const history: DialectMigration = (dialect) => {
  const types = columnTypes(dialect)
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('math_history')
        // UUIDv7: time-ordered, so the primary key doubles as the "newest first" keyset cursor.
        .addColumn('id', types.uuid, (col) => col.primaryKey())
        .addColumn('user_id', types.uuid, (col) => col.notNull().references('users.id').onDelete('cascade'))
        .addColumn('operation', 'varchar(16)', (col) =>
          col.notNull().check(sql`operation in ('fibonacci', 'factorial', 'power')`),
        )
        .addColumn('input', 'text', (col) => col.notNull())
        .addColumn('result_preview', 'text')
        .addColumn('digits', 'integer')
        .addColumn('exact', types.flag)
        .addColumn('cached', types.flag, (col) => col.notNull())
        .addColumn('compute_ms', 'double precision')
        .addColumn('status', 'integer', (col) => col.notNull())
        .addColumn('created_at', types.timestamp, (col) => col.notNull())
        .execute()
      // One index per access path, each ending in id so the keyset scan reads it in order.
      await db.schema.createIndex('math_history_user').on('math_history').columns(['user_id', 'id']).execute()
      await db.schema
        .createIndex('math_history_user_operation')
        .on('math_history')
        .columns(['user_id', 'operation', 'id'])
        .execute()
      await db.schema
        .createIndex('math_history_operation')
        .on('math_history')
        .columns(['operation', 'id'])
        .execute()
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('math_history').execute()
    },
  }
}
