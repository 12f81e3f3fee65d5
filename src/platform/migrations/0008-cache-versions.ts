import type { Kysely } from 'kysely'
import type { DialectMigration } from './index.js'

/**
 * The version of each cached namespace (products), bumped in the transaction of every write to it. Redis
 * holds a short-lived copy that instances read on every cached read; this row is the truth they fall back
 * to, so a write is never hidden for longer than that copy lives, whoever cannot reach Redis.
 */
export const cacheVersions: DialectMigration = () => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('cache_versions')
      .addColumn('namespace', 'varchar(64)', (col) => col.primaryKey())
      .addColumn('version', 'bigint', (col) => col.notNull())
      .execute()
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('cache_versions').execute()
  },
})
