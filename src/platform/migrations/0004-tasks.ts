import { type Kysely, sql } from 'kysely'
import { columnTypes } from './column-types.js'
import type { DialectMigration } from './index.js'

export const tasks: DialectMigration = (dialect) => {
  const types = columnTypes(dialect)
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('tasks')
        .addColumn('id', types.uuid, (col) => col.primaryKey())
        .addColumn('owner_id', types.uuid, (col) => col.notNull().references('users.id').onDelete('cascade'))
        .addColumn('title', 'varchar(200)', (col) => col.notNull())
        .addColumn('description', 'text')
        .addColumn('priority', 'varchar(16)', (col) =>
          col.notNull().check(sql`priority in ('low', 'medium', 'high')`),
        )
        .addColumn('status', 'varchar(16)', (col) =>
          col.notNull().check(sql`status in ('pending', 'in_progress', 'completed')`),
        )
        .addColumn('due_date', types.timestamp)
        .addColumn('created_at', types.timestamp, (col) => col.notNull())
        .addColumn('updated_at', types.timestamp, (col) => col.notNull())
        .execute()
      // The default listing (own tasks, newest first); its leading owner_id also serves the cascade delete.
      await db.schema
        .createIndex('tasks_owner_created')
        .on('tasks')
        .columns(['owner_id', 'created_at', 'id'])
        .execute()
      // Due-date sorting and the overdue count within one owner's tasks.
      await db.schema
        .createIndex('tasks_owner_due_date')
        .on('tasks')
        .columns(['owner_id', 'due_date', 'id'])
        .execute()
      // An admin's listing across every owner.
      await db.schema.createIndex('tasks_created').on('tasks').columns(['created_at', 'id']).execute()
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('tasks').execute()
    },
  }
}
