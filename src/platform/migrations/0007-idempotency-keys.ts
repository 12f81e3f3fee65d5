import type { Kysely } from 'kysely'
import { columnTypes } from './column-types.js'
import type { DialectMigration } from './index.js'

/**
 * Responses to creating requests that carried an Idempotency-Key, written in the transaction that created
 * what they describe, so a retry replays the response instead of creating twice. Pruned after 24 hours.
 */
export const idempotencyKeys: DialectMigration = (dialect) => {
  const types = columnTypes(dialect)
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('idempotency_keys')
        // The caller's user id, or 'anonymous' (sign-up). No foreign key: a row outlives nothing it matters to.
        .addColumn('scope', 'varchar(64)', (col) => col.notNull())
        .addColumn('idem_key', 'varchar(255)', (col) => col.notNull())
        // HMAC of the method, route and content: the same key with another request is refused.
        .addColumn('fingerprint', 'varchar(64)', (col) => col.notNull())
        .addColumn('status', 'integer', (col) => col.notNull())
        // JSON text of the response body; null only inside the transaction that claimed the key.
        .addColumn('body', 'text')
        .addColumn('created_at', types.timestamp, (col) => col.notNull())
        // The unique index two concurrent requests with one key meet on: the second waits for the first.
        .addPrimaryKeyConstraint('idempotency_keys_pkey', ['scope', 'idem_key'])
        .execute()
      await db.schema
        .createIndex('idempotency_keys_created_at')
        .on('idempotency_keys')
        .column('created_at')
        .execute()
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('idempotency_keys').execute()
    },
  }
}
