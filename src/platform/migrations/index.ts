import type { Migration, MigrationProvider } from 'kysely/migration'
import type { Dialect } from '../database.js'
import { users } from './0001-users.js'
import { history } from './0002-history.js'
import { products } from './0003-products.js'
import { tasks } from './0004-tasks.js'
import { files } from './0005-files.js'
import { events } from './0006-events.js'
import { idempotencyKeys } from './0007-idempotency-keys.js'
import { cacheVersions } from './0008-cache-versions.js'

/**
 * Migrations are numbered and listed here explicitly, so the built output needs no directory scanning.
 * Each is a function of the dialect: column types differ, the schema they describe does not.
 */
export type DialectMigration = (dialect: Dialect) => Migration

const migrations: Record<string, DialectMigration> = {
  '0001-users': users,
  '0002-history': history,
  '0003-products': products,
  '0004-tasks': tasks,
  '0005-files': files,
  '0006-events': events,
  '0007-idempotency-keys': idempotencyKeys,
  '0008-cache-versions': cacheVersions,
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations() {
      return Object.fromEntries(
        Object.entries(migrations).map(([name, migration]) => [name, migration(dialect)]),
      )
    },
  }
}
