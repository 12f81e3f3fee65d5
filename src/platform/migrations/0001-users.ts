import { type Kysely, sql } from 'kysely'
import { columnTypes } from './column-types.js'
import type { DialectMigration } from './index.js'

export const users: DialectMigration = (dialect) => {
  const types = columnTypes(dialect)
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('id', types.uuid, (col) => col.primaryKey())
        .addColumn('username', 'varchar(32)', (col) => col.notNull())
        .addColumn('email', 'varchar(254)', (col) => col.notNull())
        .addColumn('password_hash', 'text', (col) => col.notNull())
        .addColumn('role', 'varchar(16)', (col) => col.notNull().check(sql`role in ('user', 'admin')`))
        .addColumn('is_active', types.flag, (col) => col.notNull())
        .addColumn('token_version', 'integer', (col) => col.notNull().defaultTo(0))
        .addColumn('created_at', types.timestamp, (col) => col.notNull())
        .addColumn('updated_at', types.timestamp, (col) => col.notNull())
        .execute()
      // Case-insensitive uniqueness: Alice and alice are one account.
      await db.schema
        .createIndex('users_username_unique')
        .on('users')
        .unique()
        .expression(sql`lower(username)`)
        .execute()
      await db.schema
        .createIndex('users_email_unique')
        .on('users')
        .unique()
        .expression(sql`lower(email)`)
        .execute()
      await db.schema.createIndex('users_created_at').on('users').columns(['created_at', 'id']).execute()

      await db.schema
        .createTable('refresh_tokens')
        .addColumn('id', types.uuid, (col) => col.primaryKey())
        .addColumn('user_id', types.uuid, (col) => col.notNull().references('users.id').onDelete('cascade'))
        .addColumn('family_id', types.uuid, (col) => col.notNull())
        .addColumn('token_hash', 'varchar(64)', (col) => col.notNull().unique())
        .addColumn('expires_at', types.timestamp, (col) => col.notNull())
        .addColumn('used_at', types.timestamp)
        .addColumn('revoked_at', types.timestamp)
        .addColumn('created_at', types.timestamp, (col) => col.notNull())
        .execute()
      await db.schema.createIndex('refresh_tokens_family').on('refresh_tokens').column('family_id').execute()
      await db.schema.createIndex('refresh_tokens_user').on('refresh_tokens').column('user_id').execute()
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('refresh_tokens').execute()
      await db.schema.dropTable('users').execute()
    },
  }
}
