import { type Insertable, type Kysely, type Selectable, sql, type Updateable } from 'kysely'
import type { Database, Executor, ProductsTable } from '../../platform/db-schema.js'
import { toIso } from '../../platform/db-schema.js'
import { type Counted, countTotal, type PageWindow, readWindow } from '../../platform/pages.js'
import { containsText } from '../../platform/sql.js'
import type { Product, ProductListQuery } from './schemas.js'

type ProductRow = Selectable<ProductsTable>

/** Cents back to the decimal price the API shows, timestamps as ISO text. */
function toProduct(row: ProductRow): Product {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    // A division is correctly rounded: the result is the double closest to the decimal, as JSON.parse gives.
    price: Number(row.priceCents) / 100,
    stock: row.stock,
    category: row.category,
    sku: row.sku,
    createdAt: toIso(row.createdAt),
    updatedAt: toIso(row.updatedAt),
  }
}

export interface ProductFilter {
  name?: string
  category?: string
  minPriceCents?: number
  maxPriceCents?: number
  inStockOnly: boolean
}

export type ProductOrder = Pick<ProductListQuery, 'sortBy' | 'sortOrder'>

const SORT_EXPRESSIONS = {
  name: sql`lower(${sql.ref('name')})`,
  price: sql.ref('priceCents'),
  createdAt: sql.ref('createdAt'),
  stock: sql.ref('stock'),
} as const

export function createProductsRepository(db: Kysely<Database>) {
  const live = () => db.selectFrom('products').where('deletedAt', 'is', null)

  function filtered(filter: ProductFilter) {
    let query = live()
    if (filter.name !== undefined) query = query.where(containsText('name', filter.name))
    if (filter.category !== undefined)
      query = query.where(
        sql<string>`lower(${sql.ref('category')})`,
        '=',
        sql<string>`lower(${filter.category})`,
      )
    if (filter.minPriceCents !== undefined) query = query.where('priceCents', '>=', filter.minPriceCents)
    if (filter.maxPriceCents !== undefined) query = query.where('priceCents', '<=', filter.maxPriceCents)
    if (filter.inStockOnly) query = query.where('stock', '>', 0)
    return query
  }

  function matching(text: string) {
    return live().where((eb) =>
      eb.or([containsText('name', text), containsText('description', text), containsText('sku', text)]),
    )
  }

  /** One page and the total of a query, in the given order with id as the tiebreaker, so pages never overlap. */
  function page(
    query: ReturnType<typeof live>,
    { sortBy, sortOrder }: ProductOrder,
    window: PageWindow,
  ): Promise<Counted<Product>> {
    return readWindow(
      query.selectAll().orderBy(SORT_EXPRESSIONS[sortBy], sortOrder).orderBy('id', sortOrder),
      query.select(countTotal),
      window,
      toProduct,
    )
  }

  return {
    async insert(product: Insertable<ProductsTable>, executor: Executor = db): Promise<Product> {
      return toProduct(
        await executor.insertInto('products').values(product).returningAll().executeTakeFirstOrThrow(),
      )
    },

    async findLive(id: string): Promise<Product | undefined> {
      const row = await live().selectAll().where('id', '=', id).executeTakeFirst()
      return row && toProduct(row)
    },

    list(filter: ProductFilter, order: ProductOrder, window: PageWindow) {
      return page(filtered(filter), order, window)
    },

    search(text: string, window: PageWindow) {
      return page(matching(text), { sortBy: 'name', sortOrder: 'asc' }, window)
    },

    /** Changes a live product; undefined when there is none (never existed, or deleted). */
    async update(
      id: string,
      patch: Updateable<ProductsTable>,
      executor: Executor = db,
    ): Promise<Product | undefined> {
      const row = await executor
        .updateTable('products')
        .set(patch)
        .where('id', '=', id)
        .where('deletedAt', 'is', null)
        .returningAll()
        .executeTakeFirst()
      return row && toProduct(row)
    },
  }
}

export type ProductsRepository = ReturnType<typeof createProductsRepository>
