import { type Kysely, sql } from 'kysely'
import { columnTypes } from './column-types.js'
import type { DialectMigration } from './index.js'

export const products: DialectMigration = (dialect) => {
  const types = columnTypes(dialect)
  const live = sql<boolean>`deleted_at is null`
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('products')
        .addColumn('id', types.uuid, (col) => col.primaryKey())
        .addColumn('name', 'varchar(200)', (col) => col.notNull())
        .addColumn('description', 'text')
        // bigint is a 64-bit integer on both databases (SQLite gives it integer affinity).
        .addColumn('price_cents', 'bigint', (col) => col.notNull().check(sql`price_cents >= 0`))
        .addColumn('stock', 'integer', (col) => col.notNull().check(sql`stock >= 0`))
        .addColumn('category', 'varchar(100)', (col) => col.notNull())
        .addColumn('sku', 'varchar(64)', (col) => col.notNull())
        .addColumn('created_at', types.timestamp, (col) => col.notNull())
        .addColumn('updated_at', types.timestamp, (col) => col.notNull())
        .addColumn('deleted_at', types.timestamp)
        .execute()
      // Partial: a soft-deleted product keeps its row but gives up its SKU, which a new product may reuse.
      // The database enforces it, so two concurrent creates cannot both pass a check made beforehand.
      await db.schema
        .createIndex('products_sku_live_unique')
        .on('products')
        .unique()
        .expression(sql`lower(sku)`)
        .where(live)
        .execute()
      // Only live rows are ever read, so the indexes for the common filters and the default order skip the rest.
      await db.schema
        .createIndex('products_created_at')
        .on('products')
        .columns(['created_at', 'id'])
        .where(live)
        .execute()
      await db.schema
        .createIndex('products_price')
        .on('products')
        .columns(['price_cents', 'id'])
        .where(live)
        .execute()
      await db.schema
        .createIndex('products_category')
        .on('products')
        .expression(sql`lower(category)`)
        .where(live)
        .execute()
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('products').execute()
    },
  }
}
