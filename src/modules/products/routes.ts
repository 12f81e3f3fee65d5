import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { type Idempotency, IdempotencyKeyHeaders } from '../../platform/idempotency.js'
import { IdParams, problemResponses } from '../../platform/schemas.js'
import {
  Product,
  ProductInput,
  ProductListQuery,
  ProductPatch,
  ProductSearchQuery,
  ProductsPage,
} from './schemas.js'
import type { ProductsService } from './service.js'

export interface ProductsRoutesOptions {
  products: ProductsService
  idempotency: Idempotency
}

export const productsRoutes: FastifyPluginAsyncTypebox<ProductsRoutesOptions> = async (
  app,
  { products, idempotency },
) => {
  const tags = ['products']
  const security = [{ bearerAuth: [] }]
  const adminOnly = [app.authenticate, app.requireRole('admin')]

  app.get(
    '/products',
    {
      schema: {
        operationId: 'products-list',
        summary: 'List products, filtered, sorted and paginated (public)',
        tags,
        querystring: ProductListQuery,
        response: { 200: ProductsPage, ...problemResponses(400, 429) },
      },
    },
    async (request) => products.list(request.query),
  )

  app.get(
    '/products/search',
    {
      schema: {
        operationId: 'products-search',
        summary: 'Search products by name, description or SKU, ignoring case (public)',
        tags,
        querystring: ProductSearchQuery,
        response: { 200: ProductsPage, ...problemResponses(400, 429) },
      },
    },
    async (request) => products.search(request.query),
  )

  app.get(
    '/products/:id',
    {
      schema: {
        operationId: 'products-get',
        summary: 'Get a product (public)',
        tags,
        params: IdParams,
        response: { 200: Product, ...problemResponses(400, 404, 429) },
      },
    },
    async (request) => products.get(request.params.id),
  )

  app.post(
    '/products',
    {
      schema: {
        operationId: 'products-create',
        summary: 'Create a product (admin)',
        tags,
        security,
        headers: IdempotencyKeyHeaders,
        body: ProductInput,
        response: { 201: Product, ...problemResponses(400, 401, 403, 409, 422, 429, 503) },
      },
      onRequest: adminOnly,
    },
    async (request, reply) =>
      idempotency.respond(request, reply, { status: 201 }, () => products.create(request.body)),
  )

  app.put(
    '/products/:id',
    {
      schema: {
        operationId: 'products-replace',
        summary: 'Replace every writable field of a product (admin)',
        tags,
        security,
        params: IdParams,
        body: ProductInput,
        response: { 200: Product, ...problemResponses(400, 401, 403, 404, 409, 429) },
      },
      onRequest: adminOnly,
    },
    async (request) => products.replace(request.params.id, request.body),
  )

  app.patch(
    '/products/:id',
    {
      schema: {
        operationId: 'products-update',
        summary: 'Change some fields of a product (admin)',
        tags,
        security,
        params: IdParams,
        body: ProductPatch,
        response: { 200: Product, ...problemResponses(400, 401, 403, 404, 409, 429) },
      },
      onRequest: adminOnly,
    },
    async (request) => products.update(request.params.id, request.body),
  )

  app.delete(
    '/products/:id',
    {
      schema: {
        operationId: 'products-delete',
        summary: 'Delete a product (admin); it leaves every read, its row is kept',
        tags,
        security,
        params: IdParams,
        response: {
          204: { type: 'null', description: 'Deleted' },
          ...problemResponses(400, 401, 403, 404, 429),
        },
      },
      onRequest: adminOnly,
    },
    async (request, reply) => {
      await products.delete(request.params.id)
      return reply.code(204).send(null)
    },
  )
}
