import { randomUUID } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import type { Product, ProductInput, ProductsPage } from '../../src/modules/products/schemas.js'
import { openDatabase } from '../../src/platform/database.js'
import {
  adminSession,
  buildTestApp,
  describeEachBackend,
  expectProblem,
  postgresBackend,
  type TestApp,
  useApp,
} from '../helpers.js'

const BASE = '/api/v1/products'
const url = (id: string) => `${BASE}/${id}`

/** The stored row, deleted or not, read beside the app rather than through it. */
async function storedRow(t: TestApp, id: string) {
  const database = await openDatabase(t.config.databaseUrl)
  try {
    return await database.db.selectFrom('products').selectAll().where('id', '=', id).executeTakeFirst()
  } finally {
    await database.close()
  }
}

describeEachBackend('products', (backend) => {
  let sequence = 0

  const t = useApp(backend, { admin: true, users: ['alice'] })

  const sample = (overrides: Partial<ProductInput> = {}): ProductInput => {
    sequence += 1
    return {
      name: `Product ${sequence}`,
      price: 9.99,
      stock: 5,
      category: 'general',
      sku: `SKU-${sequence}`,
      ...overrides,
    }
  }

  async function create(overrides: Partial<ProductInput> = {}): Promise<Product> {
    const response = await t.app.inject({
      method: 'POST',
      url: BASE,
      headers: t.admin.headers,
      payload: sample(overrides),
    })
    if (response.statusCode !== 201) throw new Error(`create: ${response.statusCode} ${response.body}`)
    return response.json()
  }

  async function list(query: string): Promise<ProductsPage> {
    const response = await t.app.inject({ url: `${BASE}?${query}` })
    if (response.statusCode !== 200) throw new Error(`list ${query}: ${response.statusCode} ${response.body}`)
    return response.json()
  }

  async function search(q: string, extra = ''): Promise<ProductsPage> {
    const response = await t.app.inject({ url: `${BASE}/search?q=${encodeURIComponent(q)}${extra}` })
    if (response.statusCode !== 200) throw new Error(`search ${q}: ${response.statusCode} ${response.body}`)
    return response.json()
  }

  const write = (method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, payload?: object) =>
    t.app.inject({ method, url: path, headers: t.admin.headers, ...(payload ? { payload } : {}) })

  const names = (page: ProductsPage) => page.items.map((product) => product.name)

  describe('CRUD', () => {
    it('creates a product and returns it with 201', async () => {
      const input = sample({ name: 'Desk lamp', description: 'Warm light', price: 24.5, stock: 3 })
      const response = await write('POST', BASE, input)
      expect(response.statusCode).toBe(201)
      const product = response.json()
      expect(product).toMatchObject(input)
      expect(product.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(product.createdAt).toBe(product.updatedAt)
      expect(Object.keys(product).sort()).toEqual(
        ['category', 'createdAt', 'description', 'id', 'name', 'price', 'sku', 'stock', 'updatedAt'].sort(),
      )
    })

    it('returns description null when none is given', async () => {
      expect((await create()).description).toBeNull()
    })

    it('reads a product without a token', async () => {
      const created = await create()
      const response = await t.app.inject({ url: url(created.id) })
      expect(response.statusCode).toBe(200)
      expect(response.json()).toEqual(created)
    })

    it('answers 404 for an unknown id and 400 for a malformed one', async () => {
      expectProblem(await t.app.inject({ url: url(randomUUID()) }), 404)
      expectProblem(await t.app.inject({ url: url('not-a-uuid') }), 400)
      expectProblem(await t.app.inject({ url: url("1' or '1'='1") }), 400)
      expectProblem(await write('PATCH', url(randomUUID()), { stock: 1 }), 404)
      expectProblem(await write('PUT', url(randomUUID()), sample()), 404)
      expectProblem(await write('DELETE', url(randomUUID())), 404)
    })

    it('PUT replaces every writable field, clearing an omitted description', async () => {
      const created = await create({ description: 'to be cleared' })
      const replacement = sample({ name: 'Replaced', price: 1.5, stock: 0, category: 'other' })
      const response = await write('PUT', url(created.id), replacement)
      expect(response.statusCode).toBe(200)
      const replaced = response.json()
      expect(replaced).toMatchObject({ ...replacement, id: created.id, description: null })
      expect(replaced.createdAt).toBe(created.createdAt)
      expect(replaced.updatedAt >= created.updatedAt).toBe(true)
      expect((await t.app.inject({ url: url(created.id) })).json()).toEqual(replaced)
    })

    it('PUT needs every required field', async () => {
      const created = await create()
      expectProblem(await write('PUT', url(created.id), { name: 'Only a name' }), 400)
    })

    it('PATCH changes only the given fields; description null clears it', async () => {
      const created = await create({ description: 'kept' })
      const stockOnly = (await write('PATCH', url(created.id), { stock: 42 })).json()
      expect(stockOnly).toEqual({ ...created, stock: 42, updatedAt: stockOnly.updatedAt })
      const cleared = (await write('PATCH', url(created.id), { description: null, price: 0.5 })).json()
      expect(cleared).toMatchObject({ description: null, price: 0.5, stock: 42, name: created.name })
    })

    it('DELETE answers 204 and the product is gone from reads and writes', async () => {
      const created = await create()
      const response = await write('DELETE', url(created.id))
      expect(response.statusCode).toBe(204)
      expect(response.body).toBe('')
      expectProblem(await t.app.inject({ url: url(created.id) }), 404)
      expectProblem(await write('DELETE', url(created.id)), 404)
      expectProblem(await write('PATCH', url(created.id), { stock: 1 }), 404)
      expectProblem(await write('PUT', url(created.id), sample()), 404)
    })
  })

  describe('access', () => {
    it('lets anyone read', async () => {
      const created = await create()
      for (const path of [BASE, `${BASE}/search?q=x`, url(created.id)]) {
        expect((await t.app.inject({ url: path })).statusCode, path).toBe(200)
        expect((await t.app.inject({ url: path, headers: t.users.alice.headers })).statusCode, path).toBe(200)
      }
    })

    it('lets only an admin write: 403 for a user, 401 without a token', async () => {
      const created = await create()
      const attempts = [
        { method: 'POST' as const, url: BASE, payload: sample() },
        { method: 'PUT' as const, url: url(created.id), payload: sample() },
        { method: 'PATCH' as const, url: url(created.id), payload: { stock: 0 } },
        { method: 'DELETE' as const, url: url(created.id) },
      ]
      for (const attempt of attempts) {
        expectProblem(await t.app.inject({ ...attempt, headers: t.users.alice.headers }), 403)
        const anonymous = await t.app.inject(attempt)
        expectProblem(anonymous, 401)
        expect(anonymous.headers['www-authenticate']).toBe('Bearer')
      }
      expect((await t.app.inject({ url: url(created.id) })).json()).toEqual(created)
    })
  })

  describe('validation', () => {
    it.each([
      ['a price with 3 decimals', { price: 19.999 }, '/body/price'],
      ['a price just off 2 decimals', { price: 0.30000000000000004 }, '/body/price'],
      ['a negative price', { price: -1 }, '/body/price'],
      ['a price over the maximum', { price: 1_000_000_000.01 }, '/body/price'],
      ['a price as a string', { price: '19.99' }, '/body/price'],
      ['a negative stock', { stock: -1 }, '/body/stock'],
      ['a fractional stock', { stock: 1.5 }, '/body/stock'],
      ['an empty name', { name: '' }, '/body/name'],
      ['a blank name', { name: '   ' }, '/body/name'],
      ['a name over 200 characters', { name: 'n'.repeat(201) }, '/body/name'],
      ['a description over 5000 characters', { description: 'd'.repeat(5001) }, '/body/description'],
      ['an empty category', { category: '' }, '/body/category'],
      ['a category over 100 characters', { category: 'c'.repeat(101) }, '/body/category'],
      ['a SKU with a space', { sku: 'AB 12' }, '/body/sku'],
      ['a SKU over 64 characters', { sku: 'S'.repeat(65) }, '/body/sku'],
      ['an unknown field', { color: 'red' }, '/body'],
    ])('rejects %s with 400', async (_case, overrides, path) => {
      const problem = expectProblem(await write('POST', BASE, { ...sample(), ...overrides }), 400)
      expect(problem.errors?.map((error) => error.path)).toContain(path)
    })

    it('rejects a missing required field', async () => {
      const { sku: _sku, ...withoutSku } = sample()
      expectProblem(await write('POST', BASE, withoutSku), 400)
    })

    it('rejects an empty or invalid PATCH', async () => {
      const created = await create()
      expectProblem(await write('PATCH', url(created.id), {}), 400)
      expectProblem(await write('PATCH', url(created.id), { price: 0.001 }), 400)
      expectProblem(await write('PATCH', url(created.id), { stock: -5 }), 400)
      expectProblem(await write('PATCH', url(created.id), { id: randomUUID() }), 400)
      expect((await t.app.inject({ url: url(created.id) })).json()).toEqual(created)
    })

    it.each([
      'sortBy=color',
      'sortBy=name;drop table products',
      'sortOrder=up',
      'sortOrder=ASC',
      'minPrice=abc',
      'maxPrice=12abc',
      'minPrice=-1',
      'maxPrice=1.234',
      'minPrice=NaN',
      'maxPrice=Infinity',
      'minPrice=10&maxPrice=5',
      'inStockOnly=yes',
      'page=0',
      'pageSize=101',
      'name=',
      'color=red',
    ])('rejects the list query %s with 400', async (query) => {
      expectProblem(await t.app.inject({ url: `${BASE}?${query}` }), 400)
    })

    it.each(['', 'q=', 'q=x&page=0', 'q=x&pageSize=500', 'q=x&sortBy=name'])(
      'rejects the search query %j with 400',
      async (query) => {
        expectProblem(await t.app.inject({ url: `${BASE}/search?${query}` }), 400)
      },
    )
  })

  describe('exact prices', () => {
    it.each([0, 0.01, 0.1, 0.2, 0.3, 1.1, 4.35, 19.99, 1234567.89, 999999999.99, 1_000_000_000])(
      'stores %s exactly and returns it unchanged',
      async (price) => {
        const created = await create({ price })
        expect(created.price).toBe(price)
        const read = await t.app.inject({ url: url(created.id) })
        expect(read.json().price).toBe(price)
        expect(read.body).toContain(`"price":${JSON.stringify(price)}`)
        const row = await storedRow(t, created.id)
        expect(Number(row?.priceCents)).toBe(Math.round(price * 100))
      },
    )

    it('compares prices in cents, so 0.1 + 0.2 style boundaries are exact', async () => {
      const category = 'exact-boundaries'
      for (const price of [0.1, 0.2, 0.3]) await create({ price, category, name: `at ${price}` })
      expect(names(await list(`category=${category}&minPrice=0.3`))).toEqual(['at 0.3'])
      expect(names(await list(`category=${category}&maxPrice=0.3&sortBy=price`))).toEqual([
        'at 0.1',
        'at 0.2',
        'at 0.3',
      ])
      expect(names(await list(`category=${category}&minPrice=0.3&maxPrice=0.3`))).toEqual(['at 0.3'])
      expect(names(await list(`category=${category}&minPrice=0.2&maxPrice=0.2`))).toEqual(['at 0.2'])
    })
  })

  describe('filters and sorting', () => {
    const category = 'Fruit'
    let fruit: Record<string, Product>
    beforeAll(async () => {
      fruit = {}
      for (const [name, price, stock] of [
        ['Banana', 3.5, 0],
        ['apple', 1.25, 10],
        ['Cherry', 10, 5],
        ['date', 3.5, 2],
      ] as const) {
        fruit[name] = await create({ name, price, stock, category })
      }
      await create({ name: 'Carrot', price: 0.5, stock: 100, category: 'Vegetable' })
    })

    const fruitList = (query = '') => list(`category=fruit&pageSize=100${query}`)
    const byIdAsc = (a: Product, b: Product) => (a.id < b.id ? -1 : 1)

    it('filters by category, ignoring case', async () => {
      const page = await fruitList()
      expect(page.total).toBe(4)
      expect(page.items.every((product) => product.category === category)).toBe(true)
      expect((await list('category=FRUIT')).total).toBe(4)
      expect((await list('category=fru')).total).toBe(0)
    })

    it('filters by name substring, ignoring case', async () => {
      expect(names(await fruitList('&name=AN'))).toEqual(['Banana'])
      expect(names(await fruitList('&name=e&sortBy=name'))).toEqual(['apple', 'Cherry', 'date'])
    })

    it('filters by price range, bounds included', async () => {
      expect(names(await fruitList('&minPrice=3.5&sortBy=name'))).toEqual(['Banana', 'Cherry', 'date'])
      expect(names(await fruitList('&maxPrice=3.5&sortBy=name'))).toEqual(['apple', 'Banana', 'date'])
      expect(names(await fruitList('&minPrice=1.26&maxPrice=9.99&sortBy=name'))).toEqual(['Banana', 'date'])
    })

    it('filters to products in stock', async () => {
      expect(names(await fruitList('&inStockOnly=true&sortBy=name'))).toEqual(['apple', 'Cherry', 'date'])
      expect((await fruitList('&inStockOnly=false')).total).toBe(4)
    })

    it('combines filters', async () => {
      const page = await fruitList('&inStockOnly=true&minPrice=2&name=A')
      expect(names(page)).toEqual(['date'])
      expect(page.total).toBe(1)
    })

    it('sorts by name ignoring case, both ways', async () => {
      expect(names(await fruitList('&sortBy=name'))).toEqual(['apple', 'Banana', 'Cherry', 'date'])
      expect(names(await fruitList('&sortBy=name&sortOrder=desc'))).toEqual([
        'date',
        'Cherry',
        'Banana',
        'apple',
      ])
    })

    it('sorts by price with id breaking ties in the same direction', async () => {
      const tie = [fruit.Banana!, fruit.date!].sort(byIdAsc).map((product) => product.name)
      expect(names(await fruitList('&sortBy=price'))).toEqual(['apple', ...tie, 'Cherry'])
      expect(names(await fruitList('&sortBy=price&sortOrder=desc'))).toEqual([
        'Cherry',
        ...tie.reverse(),
        'apple',
      ])
    })

    it('sorts by stock', async () => {
      expect(names(await fruitList('&sortBy=stock&sortOrder=desc'))).toEqual([
        'apple',
        'Cherry',
        'date',
        'Banana',
      ])
      expect(names(await fruitList('&sortBy=stock'))).toEqual(['Banana', 'date', 'Cherry', 'apple'])
    })

    it('sorts by createdAt (the default, ascending), then id', async () => {
      const expected = Object.values(fruit).sort(
        (a, b) => a.createdAt.localeCompare(b.createdAt) || byIdAsc(a, b),
      )
      expect((await fruitList()).items.map((product) => product.id)).toEqual(
        expected.map((product) => product.id),
      )
      expect(
        (await fruitList('&sortBy=createdAt&sortOrder=desc')).items.map((product) => product.id),
      ).toEqual(expected.reverse().map((product) => product.id))
    })
  })

  describe('pagination', () => {
    it('pages through every product once, with the total on each page', async () => {
      const category = 'paged'
      const created = []
      for (let i = 0; i < 5; i++) created.push(await create({ category }))
      const pages = [1, 2, 3, 4].map((page) => list(`category=${category}&pageSize=2&page=${page}`))
      const [first, second, third, beyond] = await Promise.all(pages)
      expect(first).toMatchObject({ total: 5, page: 1, pageSize: 2 })
      expect(first!.items).toHaveLength(2)
      expect(second!.items).toHaveLength(2)
      expect(third!.items).toHaveLength(1)
      expect(beyond).toMatchObject({ items: [], total: 5, page: 4 })
      const seen = [first!, second!, third!].flatMap((page) => page.items.map((product) => product.id))
      expect(new Set(seen)).toEqual(new Set(created.map((product) => product.id)))
    })

    it('defaults to page 1 of 20', async () => {
      expect(await list('category=paged')).toMatchObject({ page: 1, pageSize: 20, total: 5 })
    })
  })

  describe('search', () => {
    beforeAll(async () => {
      await create({ name: 'Widget Pro zqs', description: 'A sturdy gadget', sku: 'WID-ZQS-1' })
      await create({ name: 'Gizmo zqs', description: 'Nothing like the other', sku: 'GIZ-ZQS-2' })
      await create({ name: 'Sprocket zqs', sku: 'SPR-ZQS-3' })
    })

    it('matches name, description and SKU, ignoring case', async () => {
      expect(names(await search('WIDGET'))).toEqual(['Widget Pro zqs'])
      expect(names(await search('sTuRdY'))).toEqual(['Widget Pro zqs'])
      expect(names(await search('giz-zqs'))).toEqual(['Gizmo zqs'])
      expect(names(await search('zqs'))).toEqual(['Gizmo zqs', 'Sprocket zqs', 'Widget Pro zqs'])
    })

    it('paginates with totals', async () => {
      const first = await search('zqs', '&pageSize=2')
      const second = await search('zqs', '&pageSize=2&page=2')
      expect(first).toMatchObject({ total: 3, page: 1, pageSize: 2 })
      expect(names(first)).toEqual(['Gizmo zqs', 'Sprocket zqs'])
      expect(names(second)).toEqual(['Widget Pro zqs'])
    })

    it('takes % and _ literally', async () => {
      await create({ name: 'Cotton 50% zqp' })
      await create({ name: 'Cotton 500 zqp' })
      await create({ name: 'under_score zqp' })
      await create({ name: 'underXscore zqp' })
      await create({ name: 'back\\slash zqp' })
      expect(names(await search('50%'))).toEqual(['Cotton 50% zqp'])
      expect(names(await search('r_s'))).toEqual(['under_score zqp'])
      expect(names(await search('k\\s'))).toEqual(['back\\slash zqp'])
      expect((await search('%')).items.map((product) => product.name)).toEqual(['Cotton 50% zqp'])
      expect(names(await list('name=_s&category=general'))).toEqual(['under_score zqp'])
    })

    it('treats SQL metacharacters as plain data', async () => {
      const hostile = "Robert'); DROP TABLE products;-- zqm"
      const created = await create({ name: hostile, description: '" or ""="' })
      expect(created.name).toBe(hostile)
      expect(names(await search("'); DROP TABLE"))).toEqual([hostile])
      expect((await search("' or '1'='1")).total).toBe(0)
      expect((await search('" or ""="')).total).toBe(1)
      expect((await list(`name=${encodeURIComponent("' or 1=1 --")}`)).total).toBe(0)
      expect((await list(`category=${encodeURIComponent("general' or 'a'='a")}`)).total).toBe(0)
      expect((await t.app.inject({ url: url(created.id) })).json().name).toBe(hostile)
    })
  })

  describe('SKU uniqueness', () => {
    it('refuses a live duplicate with 409, regardless of case', async () => {
      await create({ sku: 'DUP-1' })
      expectProblem(await write('POST', BASE, sample({ sku: 'DUP-1' })), 409)
      expectProblem(await write('POST', BASE, sample({ sku: 'dup-1' })), 409)
    })

    it('refuses taking another product’s SKU through PUT or PATCH', async () => {
      await create({ sku: 'TAKEN-1' })
      const other = await create()
      expectProblem(await write('PATCH', url(other.id), { sku: 'TAKEN-1' }), 409)
      expectProblem(await write('PUT', url(other.id), sample({ sku: 'taken-1' })), 409)
      expect((await t.app.inject({ url: url(other.id) })).json().sku).toBe(other.sku)
      // Keeping its own SKU is no conflict.
      expect((await write('PUT', url(other.id), sample({ sku: other.sku }))).statusCode).toBe(200)
    })

    it('lets exactly one of concurrent creates with one SKU win', async () => {
      const responses = await Promise.all(
        Array.from({ length: 6 }, () => write('POST', BASE, sample({ sku: 'RACE-1' }))),
      )
      const statuses = responses.map((response) => response.statusCode).sort()
      expect(statuses).toEqual([201, 409, 409, 409, 409, 409])
    })
  })

  describe('soft delete', () => {
    it('hides the product from every read, keeps the row and frees the SKU', async () => {
      const category = 'soft-deleted'
      const doomed = await create({ category, name: 'Doomed zqd', sku: 'SOFT-1' })
      const survivor = await create({ category, name: 'Survivor zqd' })
      expect((await write('DELETE', url(doomed.id))).statusCode).toBe(204)

      expectProblem(await t.app.inject({ url: url(doomed.id) }), 404)
      const page = await list(`category=${category}`)
      expect(page.total).toBe(1)
      expect(page.items.map((product) => product.id)).toEqual([survivor.id])
      expect(names(await search('zqd'))).toEqual(['Survivor zqd'])

      const row = await storedRow(t, doomed.id)
      expect(row).toMatchObject({ id: doomed.id, sku: 'SOFT-1', name: 'Doomed zqd' })
      expect(row?.deletedAt).toBeTruthy()

      const reused = await create({ category, sku: 'SOFT-1' })
      expect(reused.id).not.toBe(doomed.id)
      expect((await list(`category=${category}`)).total).toBe(2)
    })
  })

  describe('cache', () => {
    const localHits = async () => {
      const metrics = (await t.app.inject({ url: '/metrics' })).body
      const match = /cache_requests_total\{cache="products",tier="local",outcome="hit"\} (\d+)/.exec(metrics)
      return Number(match?.[1] ?? 0)
    }

    it('serves a repeated read from the cache', async () => {
      const created = await create()
      await t.app.inject({ url: url(created.id) })
      const before = await localHits()
      await t.app.inject({ url: url(created.id) })
      expect(await localHits()).toBe(before + 1)
    })

    it('shows a create to the very next list and search', async () => {
      expect((await list('category=cache-create')).total).toBe(0)
      expect((await search('zqcc')).total).toBe(0)
      await create({ category: 'cache-create', name: 'Fresh zqcc' })
      expect((await list('category=cache-create')).total).toBe(1)
      expect(names(await search('zqcc'))).toEqual(['Fresh zqcc'])
    })

    it('shows a PATCH to the next detail, list and search', async () => {
      const created = await create({ category: 'cache-patch', name: 'Before zqcp' })
      await t.app.inject({ url: url(created.id) })
      await list('category=cache-patch')
      await search('zqcp')
      await write('PATCH', url(created.id), { name: 'After zqcp', price: 7.77 })
      expect((await t.app.inject({ url: url(created.id) })).json()).toMatchObject({
        name: 'After zqcp',
        price: 7.77,
      })
      expect(names(await list('category=cache-patch'))).toEqual(['After zqcp'])
      expect(names(await search('zqcp'))).toEqual(['After zqcp'])
    })

    it('shows a PUT to the next detail, list and search', async () => {
      const created = await create({ category: 'cache-put', name: 'Before zqcu' })
      await t.app.inject({ url: url(created.id) })
      await list('category=cache-put')
      await search('zqcu')
      await write('PUT', url(created.id), sample({ category: 'cache-put', name: 'After zqcu', stock: 0 }))
      expect((await t.app.inject({ url: url(created.id) })).json()).toMatchObject({ name: 'After zqcu' })
      expect((await list('category=cache-put')).items).toMatchObject([{ name: 'After zqcu', stock: 0 }])
      expect(names(await search('zqcu'))).toEqual(['After zqcu'])
    })

    it('shows a DELETE to the next detail, list and search', async () => {
      const created = await create({ category: 'cache-delete', name: 'Gone zqcd' })
      expect((await t.app.inject({ url: url(created.id) })).statusCode).toBe(200)
      expect((await list('category=cache-delete')).total).toBe(1)
      expect((await search('zqcd')).total).toBe(1)
      await write('DELETE', url(created.id))
      expectProblem(await t.app.inject({ url: url(created.id) }), 404)
      expect((await list('category=cache-delete')).total).toBe(0)
      expect((await search('zqcd')).total).toBe(0)
    })

    it('does not invalidate on a refused write', async () => {
      const created = await create({ sku: 'CACHE-KEEP' })
      await t.app.inject({ url: url(created.id) })
      expectProblem(await write('POST', BASE, sample({ sku: 'CACHE-KEEP' })), 409)
      const before = await localHits()
      await t.app.inject({ url: url(created.id) })
      expect(await localHits()).toBe(before + 1)
    })
  })
})

describe.runIf(postgresBackend)('products cache shared through Redis', () => {
  it('a write through one instance is seen by the next read on another', async () => {
    const env = { REDIS_KEY_PREFIX: `shared-products-${randomUUID()}:` }
    const one = await buildTestApp(postgresBackend!, env)
    // Same schema as the first: two instances of one deployment.
    const two = await buildTestApp(postgresBackend!, { ...env, DATABASE_URL: one.config.databaseUrl })
    try {
      const admin = await adminSession(one.app)
      const created = (
        await one.app.inject({
          method: 'POST',
          url: BASE,
          headers: admin.headers,
          payload: { name: 'Shared', price: 5, stock: 1, category: 'shared', sku: 'SHARED-1' },
        })
      ).json()
      const read = async () => {
        const detail = await two.app.inject({ url: url(created.id) })
        const page = (await two.app.inject({ url: `${BASE}?category=shared` })).json()
        const found = (await two.app.inject({ url: `${BASE}/search?q=shared` })).json()
        return { detail, page, found }
      }

      // Instance two caches these reads, locally and in Redis.
      const first = await read()
      expect(first.detail.json().price).toBe(5)
      expect(first.page.total).toBe(1)
      const again = await read()
      expect(again.detail.json()).toEqual(first.detail.json())
      expect((await two.app.inject({ url: '/metrics' })).body).toMatch(
        /cache_requests_total\{cache="products",tier="local",outcome="hit"\} [1-9]/,
      )

      await one.app.inject({
        method: 'PATCH',
        url: url(created.id),
        headers: admin.headers,
        payload: { price: 6.49, name: 'Shared renamed' },
      })
      const afterPatch = await read()
      expect(afterPatch.detail.json()).toMatchObject({ price: 6.49, name: 'Shared renamed' })
      expect(afterPatch.page.items[0].price).toBe(6.49)
      expect(afterPatch.found.items[0].name).toBe('Shared renamed')

      await one.app.inject({
        method: 'POST',
        url: BASE,
        headers: admin.headers,
        payload: { name: 'Shared second', price: 1, stock: 1, category: 'shared', sku: 'SHARED-2' },
      })
      expect((await read()).page.total).toBe(2)

      await one.app.inject({ method: 'DELETE', url: url(created.id), headers: admin.headers })
      const afterDelete = await read()
      expect(afterDelete.detail.statusCode).toBe(404)
      expect(afterDelete.page.total).toBe(1)
      expect(afterDelete.found.items.map((product: Product) => product.name)).toEqual(['Shared second'])
    } finally {
      await two.close()
      await one.close()
    }
  })
})
