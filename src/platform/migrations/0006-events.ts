import type { Kysely } from 'kysely'
import { columnTypes } from './column-types.js'
import type { DialectMigration } from './index.js'

/** The transactional outbox: rows are written with the change they describe, then relayed in id order. */
export const events: DialectMigration = (dialect) => {
  const types = columnTypes(dialect)
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('events')
        // UUIDv7: time-ordered, so id order is publish order and the listing's keyset cursor.
        .addColumn('id', types.uuid, (col) => col.primaryKey())
        .addColumn('type', 'varchar(64)', (col) => col.notNull())
        .addColumn('occurred_at', types.timestamp, (col) => col.notNull())
        // No foreign key: an event outlives the user it names (user.deleted must still be delivered).
        .addColumn('actor_user_id', types.uuid)
        .addColumn('actor_role', 'varchar(16)')
        .addColumn('request_id', 'varchar(128)')
        .addColumn('data', 'text', (col) => col.notNull())
        .addColumn('published_at', types.timestamp)
        .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
        .execute()
      // Serves both "pending in id order" (published_at is null) and retention (published_at < cutoff).
      await db.schema
        .createIndex('events_published_at_id')
        .on('events')
        .columns(['published_at', 'id'])
        .execute()
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('events').execute()
    },
  }
}
