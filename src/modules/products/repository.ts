import { type Insertable, type Kysely, type Selectable, sql, type Updateable } from 'kysely'
import type { Database, Executor, ProductsTable } from '../../platform/db-schema.js'
import { containsText } from '../../platform/sql.js'

export type ProductRow = Selectable<ProductsTable>

export interface ProductFilter {
  name?: string
  category?: string
  minPriceCents?: number
  maxPriceCents?: number
  inStockOnly: boolean
}

export interface ProductOrder {
  sortBy: 'name' | 'price' | 'createdAt' | 'stock'
  sortOrder: 'asc' | 'desc'
}

export interface Slice {
  offset: number
  limit: number
}

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
  async function page(
    query: ReturnType<typeof live>,
    { sortBy, sortOrder }: ProductOrder,
    { offset, limit }: Slice,
  ): Promise<{ items: ProductRow[]; total: number }> {
    const [items, count] = await Promise.all([
      query
        .selectAll()
        .orderBy(SORT_EXPRESSIONS[sortBy], sortOrder)
        .orderBy('id', sortOrder)
        .offset(offset)
        .limit(limit)
        .execute(),
      query.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
    ])
    return { items, total: Number(count.total) }
  }

  return {
    async insert(product: Insertable<ProductsTable>, executor: Executor = db): Promise<ProductRow> {
      return executor.insertInto('products').values(product).returningAll().executeTakeFirstOrThrow()
    },

    async findLive(id: string): Promise<ProductRow | undefined> {
      return live().selectAll().where('id', '=', id).executeTakeFirst()
    },

    list(filter: ProductFilter, order: ProductOrder, slice: Slice) {
      return page(filtered(filter), order, slice)
    },

    search(text: string, slice: Slice) {
      return page(matching(text), { sortBy: 'name', sortOrder: 'asc' }, slice)
    },

    /** Changes a live product; undefined when there is none (never existed, or deleted). */
    async update(
      id: string,
      patch: Updateable<ProductsTable>,
      executor: Executor = db,
    ): Promise<ProductRow | undefined> {
      return executor
        .updateTable('products')
        .set(patch)
        .where('id', '=', id)
        .where('deletedAt', 'is', null)
        .returningAll()
        .executeTakeFirst()
    },
  }
}

export type ProductsRepository = ReturnType<typeof createProductsRepository>
