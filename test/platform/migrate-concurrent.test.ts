import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { migrateToLatest, openDatabase } from '../../src/platform/database.js'

// Read here rather than from ../helpers.js, which loads the whole app; the CI rule is the same.
const databaseUrl = process.env.TEST_DATABASE_URL
if (!databaseUrl && (process.env.CI === 'true' || process.env.REQUIRE_TEST_SERVICES === '1')) {
  throw new Error('CI requires TEST_DATABASE_URL: the concurrent-migration test must run')
}

/*
 * Several schemas of one PostgreSQL database, as several tenants or test runs use it: Kysely's migrator
 * introspects every schema to find its bookkeeping table, and PostgreSQL fails that query (3F000, naming
 * the other schema) when another schema is dropped while it runs. Seen in CI as "migration failed: schema
 * "batch_…" does not exist" in an unrelated suite. The drops below run back to back through the whole time
 * the migrations do, so each migration's introspection meets many of them.
 */
describe.runIf(databaseUrl)('migrations beside schemas dropped meanwhile [postgres]', () => {
  it('a migration succeeds while other schemas of the database are dropped', async () => {
    const admin = new pg.Client({ connectionString: databaseUrl })
    await admin.connect()
    const prefix = `mig_${randomUUID().replaceAll('-', '').slice(0, 8)}`
    const victims = Array.from({ length: 200 }, (_, i) => `${prefix}_victim_${i}`)
    const ours = Array.from({ length: 6 }, (_, i) => `${prefix}_ours_${i}`)
    try {
      // Schemas with a table each, so the introspection has rows of them to look at.
      for (const victim of victims)
        await admin.query(`create schema "${victim}"; create table "${victim}".t (id int)`)
      let migrating = true
      const dropper = (async () => {
        let dropped = 0
        while (migrating && dropped < victims.length)
          await admin.query(`drop schema "${victims[dropped++]}" cascade`)
        return dropped
      })()
      const migrations = await Promise.allSettled(
        ours.map(async (schema) => {
          const url = new URL(databaseUrl!)
          url.searchParams.set('schema', schema)
          const handle = await openDatabase(url.toString())
          try {
            return await migrateToLatest(handle)
          } finally {
            await handle.close()
          }
        }),
      )
      migrating = false
      const dropped = await dropper
      expect(dropped).toBeGreaterThan(0)
      for (const migration of migrations) {
        if (migration.status === 'rejected') throw migration.reason
        expect(migration.value.length).toBeGreaterThan(0)
      }
    } finally {
      for (const schema of [...victims, ...ours])
        await admin.query(`drop schema if exists "${schema}" cascade`)
      await admin.end()
    }
  }, 120_000)
})
