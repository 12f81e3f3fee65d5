import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { currentUser, requireAuthentication } from '../../platform/auth.js'
import { type Idempotency, IdempotencyKeyHeaders } from '../../platform/idempotency.js'
import { IdParams, PUBLIC, problemResponses, ref } from '../../platform/schemas.js'
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

  app.get(
    '/products',
    {
      schema: {
        operationId: 'products-list',
        description:
          'The catalogue, filtered by name, category, price range and stock, sorted by name, price, createdAt or stock, page by page. No authentication needed.',
        security: PUBLIC,
        summary: 'List products, filtered, sorted and paginated (public)',
        tags,
        querystring: ProductListQuery,
        response: { 200: ref(ProductsPage), ...problemResponses(400, 429) },
      },
    },
    async (request) => products.list(request.query),
  )

  app.get(
    '/products/search',
    {
      schema: {
        operationId: 'products-search',
        description:
          'Products whose name, description or SKU contains the text, ignoring case, page by page. No authentication needed.',
        security: PUBLIC,
        summary: 'Search products by name, description or SKU, ignoring case (public)',
        tags,
        querystring: ProductSearchQuery,
        response: { 200: ref(ProductsPage), ...problemResponses(400, 429) },
      },
    },
    async (request) => products.search(request.query),
  )

  app.get(
    '/products/:id',
    {
      schema: {
        operationId: 'products-get',
        description: 'One product by id; deleted products are 404. No authentication needed.',
        security: PUBLIC,
        summary: 'Get a product (public)',
        tags,
        params: IdParams,
        response: { 200: ref(Product), ...problemResponses(400, 404, 429) },
      },
    },
    async (request) => products.get(request.params.id),
  )

  // Writes: admins only, checked once for all of them.
  const adminWrites: FastifyPluginAsyncTypebox = async (admin) => {
    requireAuthentication(admin)
    admin.addHook('onRequest', admin.requireRole('admin'))

    admin.post(
      '/products',
      {
        schema: {
          operationId: 'products-create',
          description:
            'Adds a product. Admins only. The SKU is unique among live products regardless of case (409). Accepts an Idempotency-Key header.',
          summary: 'Create a product (admin)',
          tags,
          headers: IdempotencyKeyHeaders,
          body: ref(ProductInput),
          response: { 201: ref(Product), ...problemResponses(400, 401, 403, 409, 422, 429, 503) },
        },
      },
      async (request, reply) =>
        idempotency.respond(request, reply, { status: 201 }, () =>
          products.create(currentUser(request), request.body),
        ),
    )

    admin.put(
      '/products/:id',
      {
        schema: {
          operationId: 'products-replace',
          description: 'Replaces every writable field; an omitted description becomes null. Admins only.',
          summary: 'Replace every writable field of a product (admin)',
          tags,
          params: IdParams,
          body: ref(ProductInput),
          response: { 200: ref(Product), ...problemResponses(400, 401, 403, 404, 409, 429) },
        },
      },
      async (request) => products.replace(currentUser(request), request.params.id, request.body),
    )

    admin.patch(
      '/products/:id',
      {
        schema: {
          operationId: 'products-update',
          description: 'Changes the given fields and keeps the others. Admins only.',
          summary: 'Change some fields of a product (admin)',
          tags,
          params: IdParams,
          body: ref(ProductPatch),
          response: { 200: ref(Product), ...problemResponses(400, 401, 403, 404, 409, 429) },
        },
      },
      async (request) => products.update(currentUser(request), request.params.id, request.body),
    )

    admin.delete(
      '/products/:id',
      {
        schema: {
          operationId: 'products-delete',
          description: 'Removes a product from every read; its row is kept. Admins only.',
          summary: 'Delete a product (admin); it leaves every read, its row is kept',
          tags,
          params: IdParams,
          response: {
            204: { type: 'null', description: 'Deleted' },
            ...problemResponses(400, 401, 403, 404, 429),
          },
        },
      },
      async (request, reply) => {
        await products.delete(currentUser(request), request.params.id)
        return reply.code(204).send(null)
      },
    )
  }
  await app.register(adminWrites)
}
