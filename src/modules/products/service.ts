import type { Transaction } from 'kysely'
import type { TwoTierCache } from '../../platform/cache.js'
import type { NamespaceVersions } from '../../platform/cache-versions.js'
import { uniqueViolation } from '../../platform/database.js'
import type { Database } from '../../platform/db-schema.js'
import { badRequest, conflict, notFound } from '../../platform/errors.js'
import type { EventType } from '../../platform/events/outbox.js'
import { uuidv7 } from '../../platform/ids.js'
import { paginate } from '../../platform/pages.js'
import type { Actor, WriteOptions, Writes } from '../../platform/transactions.js'
import type { ProductFilter, ProductsRepository } from './repository.js'
import type {
  Product,
  ProductInput,
  ProductListQuery,
  ProductPatch,
  ProductSearchQuery,
  ProductsPage,
} from './schemas.js'

const NAMESPACE = 'products'

/*
 * The shortest decimal that round-trips to the double is what a client that meant two decimals sent, so
 * its digits decide; float arithmetic such as multipleOf: 0.01 rejects 0.29 and accepts near misses.
 */
const TWO_DECIMALS = /^(\d+)(?:\.(\d{1,2}))?$/

/** The exact integer cents of a price, or a 400 naming `path` when it has more than 2 decimals. */
export function toCents(price: number, path: string): number {
  const match = TWO_DECIMALS.exec(String(price))
  if (!match) {
    throw badRequest(`${path} must have at most 2 decimal places`, [
      { path, message: 'must have at most 2 decimal places' },
    ])
  }
  return Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'))
}

/** The database's unique index, not a prior lookup, decides: two concurrent writes cannot both win. */
async function skuConflictAware<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write()
  } catch (error) {
    if (uniqueViolation(error)?.includes('sku')) throw conflict('A live product already has this SKU')
    throw error
  }
}

/** Every writable column from a full input (create and replace): an omitted description is cleared. */
function writableFields(input: ProductInput) {
  return {
    name: input.name,
    description: input.description ?? null,
    priceCents: toCents(input.price, '/body/price'),
    stock: input.stock,
    category: input.category,
    sku: input.sku,
  }
}

export interface ProductsServiceDeps {
  writes: Writes
  products: ProductsRepository
  cache: TwoTierCache
  versions: NamespaceVersions
}

export function createProductsService({ writes, products, cache, versions }: ProductsServiceDeps) {
  /**
   * The write, its event and the bump of the cached reads' version in one transaction (which also confirms
   * the caller is still an active admin); no row (a missing product) means no event and no bump. Once
   * committed, the new version is published, so the next read on any instance sees the write.
   */
  async function write(
    actor: Actor,
    type: EventType,
    fields: string[] | undefined,
    change: (trx: Transaction<Database>) => Promise<Product | undefined>,
    options: WriteOptions<{ product: Product; version: number } | undefined> = {},
  ): Promise<Product> {
    const written = await writes.withEvent(
      actor,
      async (trx) => {
        const product = await change(trx)
        return product && { product, version: await versions.bump(trx, NAMESPACE) }
      },
      ({ product }) => ({ type, data: { productId: product.id, ...(fields ? { fields } : {}) } }),
      options,
    )
    if (!written) throw notFound('No such product')
    await versions.publish(NAMESPACE, written.version)
    return written.product
  }

  /*
   * Keys carry the namespace version (platform/cache-versions.ts): a read after a write, on any instance,
   * misses and reads the database. Entries of old versions just age out.
   */
  async function cached<T>(kind: string, key: unknown, load: () => Promise<T>): Promise<T> {
    const version = await versions.current(NAMESPACE)
    const { value } = await cache.getOrCompute(
      `${NAMESPACE}:v${version}:${kind}:${JSON.stringify(key)}`,
      async () => JSON.stringify(await load()),
    )
    return JSON.parse(value) as T
  }

  function listFilter(query: ProductListQuery): ProductFilter {
    const minPriceCents =
      query.minPrice === undefined ? undefined : toCents(query.minPrice, '/querystring/minPrice')
    const maxPriceCents =
      query.maxPrice === undefined ? undefined : toCents(query.maxPrice, '/querystring/maxPrice')
    if (minPriceCents !== undefined && maxPriceCents !== undefined && minPriceCents > maxPriceCents) {
      throw badRequest('minPrice must not be greater than maxPrice', [
        { path: '/querystring/minPrice', message: 'must be <= maxPrice' },
      ])
    }
    return {
      ...(query.name !== undefined ? { name: query.name } : {}),
      ...(query.category !== undefined ? { category: query.category } : {}),
      ...(minPriceCents !== undefined ? { minPriceCents } : {}),
      ...(maxPriceCents !== undefined ? { maxPriceCents } : {}),
      inStockOnly: query.inStockOnly,
    }
  }

  return {
    async list(query: ProductListQuery): Promise<ProductsPage> {
      const filter = listFilter(query)
      const { page, pageSize, sortBy, sortOrder } = query
      return cached('list', [filter, sortBy, sortOrder, page, pageSize], () =>
        paginate(query, (window) => products.list(filter, { sortBy, sortOrder }, window)),
      )
    },

    async search(query: ProductSearchQuery): Promise<ProductsPage> {
      const { q, page, pageSize } = query
      return cached('search', [q, page, pageSize], () =>
        paginate(query, (window) => products.search(q, window)),
      )
    },

    async get(id: string): Promise<Product> {
      return cached('get', id, async () => {
        const product = await products.findLive(id)
        if (!product) throw notFound('No such product')
        return product
      })
    },

    async create(actor: Actor, input: ProductInput): Promise<Product> {
      // Before the transaction: an invalid price is a 400 whatever the database's state.
      const columns = writableFields(input)
      const now = new Date().toISOString()
      return skuConflictAware(() =>
        write(
          actor,
          'product.created',
          undefined,
          (trx) => products.insert({ id: uuidv7(), ...columns, createdAt: now, updatedAt: now }, trx),
          { receipt: (written) => written?.product },
        ),
      )
    },

    /** PUT: every writable field takes the given value; an omitted description is cleared. */
    async replace(actor: Actor, id: string, input: ProductInput): Promise<Product> {
      const columns = writableFields(input)
      const fields = ['name', 'description', 'price', 'stock', 'category', 'sku']
      return skuConflictAware(() =>
        write(actor, 'product.updated', fields, (trx) =>
          products.update(id, { ...columns, updatedAt: new Date().toISOString() }, trx),
        ),
      )
    },

    /** PATCH: only the given fields change; description: null clears it. */
    async update(actor: Actor, id: string, changes: ProductPatch): Promise<Product> {
      const { price, ...rest } = changes
      const priceCents = price === undefined ? undefined : toCents(price, '/body/price')
      return skuConflictAware(() =>
        write(actor, 'product.updated', Object.keys(changes), (trx) =>
          products.update(
            id,
            {
              ...rest,
              ...(priceCents !== undefined ? { priceCents } : {}),
              updatedAt: new Date().toISOString(),
            },
            trx,
          ),
        ),
      )
    },

    /** Soft delete: the row stays, but no read returns it and its SKU is free again. */
    async delete(actor: Actor, id: string): Promise<void> {
      const now = new Date().toISOString()
      await write(actor, 'product.deleted', undefined, (trx) =>
        products.update(id, { deletedAt: now, updatedAt: now }, trx),
      )
    },
  }
}

export type ProductsService = ReturnType<typeof createProductsService>
