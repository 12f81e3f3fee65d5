import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { currentUser, requireAuthentication } from '../../platform/auth.js'
import { IdParams, problemResponses, ref } from '../../platform/schemas.js'
import { RoleUpdate, UserPublic, UsersListQuery, UsersPage, UserUpdate } from './schemas.js'
import type { UsersService } from './service.js'

export interface UsersRoutesOptions {
  users: UsersService
}

export const usersRoutes: FastifyPluginAsyncTypebox<UsersRoutesOptions> = async (app, { users }) => {
  requireAuthentication(app)
  const tags = ['users']
  const adminOnly = app.requireRole('admin')

  app.get(
    '/users',
    {
      schema: {
        operationId: 'users-list',
        description: 'Every account, oldest first, page by page. Admins only.',
        summary: 'List users (admin)',
        tags,
        querystring: UsersListQuery,
        response: { 200: ref(UsersPage), ...problemResponses(400, 401, 403, 429) },
      },
      onRequest: adminOnly,
    },
    async (request) => users.list(request.query),
  )

  app.get(
    '/users/:id',
    {
      schema: {
        operationId: 'users-get',
        description: 'One account by id. Users may read only their own; admins any.',
        summary: 'Get a user (admin, or yourself)',
        tags,
        params: IdParams,
        response: { 200: ref(UserPublic), ...problemResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => users.get(currentUser(request), request.params.id),
  )

  app.patch(
    '/users/:id',
    {
      schema: {
        operationId: 'users-update',
        description:
          'Changes email, password or (admins only) isActive. Changing your own password needs currentPassword, and revokes your other logins; deactivating an account revokes its tokens at once.',
        summary: 'Change email, password (yours needs currentPassword) or, as admin, isActive',
        tags,
        params: IdParams,
        body: ref(UserUpdate),
        response: { 200: ref(UserPublic), ...problemResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request) => users.update(currentUser(request), request.params.id, request.body),
  )

  app.put(
    '/users/:id/role',
    {
      schema: {
        operationId: 'users-set-role',
        description:
          'Makes a user an admin or a user. Admins only; the last active admin cannot be demoted (409).',
        summary: 'Change a user’s role (admin; the last active admin cannot be demoted)',
        tags,
        params: IdParams,
        body: ref(RoleUpdate),
        response: { 200: ref(UserPublic), ...problemResponses(400, 401, 403, 404, 409, 429) },
      },
      onRequest: adminOnly,
    },
    async (request) => users.setRole(currentUser(request), request.params.id, request.body.role),
  )

  app.delete(
    '/users/:id',
    {
      schema: {
        operationId: 'users-delete',
        description:
          'Deletes an account with its tasks, files and refresh tokens; its access tokens stop working at once. Users may delete themselves; admins anyone but the last active admin (409).',
        summary: 'Delete a user (admin, or yourself); their tokens stop working at once',
        tags,
        params: IdParams,
        response: {
          204: { type: 'null', description: 'Deleted' },
          ...problemResponses(400, 401, 403, 404, 409, 429),
        },
      },
    },
    async (request, reply) => {
      await users.delete(currentUser(request), request.params.id)
      return reply.code(204).send(null)
    },
  )
}
