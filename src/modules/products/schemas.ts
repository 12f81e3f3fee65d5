import { type Static, Type } from 'typebox'
import { named, PageOf, PageQuery, Timestamp, Uuid } from '../../platform/schemas.js'

/** Far below 2^53 cents, so every price in range has an exact double and an exact integer form. */
export const MAX_PRICE = 1_000_000_000
export const MAX_STOCK = 2_147_483_647

const Name = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: '\\S',
  description: 'Product name, 1–200 characters, not only spaces',
})
const Description = Type.Union([Type.String({ maxLength: 5000 }), Type.Null()], {
  description: 'Longer description, up to 5000 characters; null when there is none',
})
const Price = Type.Number({
  minimum: 0,
  maximum: MAX_PRICE,
  description: 'Price, 0–1,000,000,000 with at most 2 decimals (19.99); stored exactly, as integer cents',
})
const Stock = Type.Integer({
  minimum: 0,
  maximum: MAX_STOCK,
  description: 'Units in stock, 0 or more',
})
const Category = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '\\S',
  description: 'Category, 1–100 characters, not only spaces',
})
const Sku = Type.String({
  pattern: '^[A-Za-z0-9._-]{1,64}$',
  description:
    'Stock keeping unit: 1–64 characters of A–Z, a–z, 0–9, . _ -; unique among live products regardless of case',
})

const EXAMPLE = {
  name: 'Desk lamp',
  description: 'LED, warm white, adjustable arm',
  price: 39.99,
  stock: 12,
  category: 'lighting',
  sku: 'LAMP-001',
}

export const Product = named(
  'Product',
  Type.Object(
    {
      id: Uuid,
      name: Name,
      description: Description,
      price: Price,
      stock: Stock,
      category: Category,
      sku: Sku,
      createdAt: Timestamp,
      updatedAt: Timestamp,
    },
    { description: 'A product in the catalogue' },
  ),
  {
    id: '0192d4e2-8b20-7d31-a4c2-5e6f7a8b9c0d',
    ...EXAMPLE,
    createdAt: '2026-01-15T09:45:00.000Z',
    updatedAt: '2026-01-16T14:20:00.000Z',
  },
)
export type Product = Static<typeof Product>

/** POST and PUT: PUT replaces every writable field, so an omitted description becomes null. */
const writable = {
  name: Name,
  description: Type.Optional(Description),
  price: Price,
  stock: Stock,
  category: Category,
  sku: Sku,
}

export const ProductInput = named(
  'ProductInput',
  Type.Object(writable, { additionalProperties: false, description: 'Every writable field of a product' }),
  EXAMPLE,
)
export type ProductInput = Static<typeof ProductInput>

export const ProductPatch = named(
  'ProductPatch',
  Type.Partial(Type.Object(writable), {
    additionalProperties: false,
    minProperties: 1,
    description: 'The fields to change; the others keep their values',
  }),
  { price: 34.99, stock: 20 },
)
export type ProductPatch = Static<typeof ProductPatch>

export const ProductsPage = PageOf(Product, 'Products', 'in the requested order', Product.examples[0])
export type ProductsPage = Static<typeof ProductsPage>

export const ProductSortBy = Type.Union(
  [Type.Literal('name'), Type.Literal('price'), Type.Literal('createdAt'), Type.Literal('stock')],
  { default: 'createdAt', description: 'Sort key: name (ignoring case), price, createdAt or stock' },
)
export type ProductSortBy = Static<typeof ProductSortBy>

export const ProductListQuery = Type.Object(
  {
    ...PageQuery.properties,
    name: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Only names containing this, ignoring case' }),
    ),
    category: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'Only this category, ignoring case' }),
    ),
    minPrice: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: MAX_PRICE,
        description: 'Only prices at least this, at most 2 decimals',
      }),
    ),
    maxPrice: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: MAX_PRICE,
        description: 'Only prices at most this, at most 2 decimals; not below minPrice',
      }),
    ),
    inStockOnly: Type.Boolean({ default: false, description: 'true: only products with stock above 0' }),
    sortBy: ProductSortBy,
    sortOrder: Type.Union([Type.Literal('asc'), Type.Literal('desc')], {
      default: 'asc',
      description: 'asc or desc; ties are always broken by id in the same direction',
    }),
  },
  { additionalProperties: false },
)
export type ProductListQuery = Static<typeof ProductListQuery>

export const ProductSearchQuery = Type.Object(
  {
    q: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'Text found in the name, description or SKU, ignoring case; % and _ are literal',
    }),
    ...PageQuery.properties,
  },
  { additionalProperties: false },
)
export type ProductSearchQuery = Static<typeof ProductSearchQuery>
