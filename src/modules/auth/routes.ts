import formbody from '@fastify/formbody'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { badRequest } from '../../platform/errors.js'
import { type Idempotency, IdempotencyKeyHeaders } from '../../platform/idempotency.js'
import { beforeParsing, type RateLimits } from '../../platform/rate-limit.js'
import { problemResponses } from '../../platform/schemas.js'
import { UserPublic } from '../users/schemas.js'
import type { UsersService } from '../users/service.js'
import { LoginBody, RefreshBody, RegisterBody, TokenForm, TokenPair } from './schemas.js'
import type { AuthService } from './service.js'

export interface AuthRoutesOptions {
  auth: AuthService
  users: UsersService
  rateLimits: RateLimits
  idempotency: Idempotency
}

const usernameInBody = (request: { body: unknown }) => {
  const username = (request.body as { username?: unknown } | undefined)?.username
  return typeof username === 'string' ? username : undefined
}

export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (
  app,
  { auth, users, rateLimits, idempotency },
) => {
  // Form bodies are accepted here only, for the OAuth2 token endpoint.
  await app.register(formbody, { bodyLimit: 8192 })
  const tags = ['auth']
  // Signing up and logging in are counted apart: registering must not eat into the login budget. Limits
  // run before validation, so a malformed attempt costs budget too.
  // The per-address limit is spent before the body is parsed; the per-username one needs the body, so it
  // is spent after parsing but before validation.
  const [perAddress] = rateLimits.auth()
  const loginByName = rateLimits.auth('login', usernameInBody).slice(1)
  const registerByName = rateLimits.auth('register', usernameInBody).slice(1)
  const addressLimit = { preParsing: beforeParsing(perAddress!) }
  const loginLimit = { ...addressLimit, preValidation: loginByName }
  const registerLimit = { ...addressLimit, preValidation: registerByName }

  app.post(
    '/auth/register',
    {
      schema: {
        operationId: 'auth-register',
        summary: 'Create an account (role user)',
        tags,
        headers: IdempotencyKeyHeaders,
        body: RegisterBody,
        response: { 201: UserPublic, ...problemResponses(400, 409, 422, 429, 503) },
      },
      ...registerLimit,
    },
    async (request, reply) =>
      idempotency.respond(request, reply, { status: 201 }, () => users.register(request.body)),
  )

  app.post(
    '/auth/token',
    {
      schema: {
        operationId: 'auth-token',
        summary: 'OAuth2 token endpoint (password or refresh_token grant, form-encoded)',
        tags,
        consumes: ['application/x-www-form-urlencoded'],
        body: TokenForm,
        response: { 200: TokenPair, ...problemResponses(400, 401, 429) },
      },
      ...loginLimit,
    },
    async (request, reply) => {
      const form = request.body
      reply.header('cache-control', 'no-store')
      if (form.grant_type === 'refresh_token') {
        if (!form.refresh_token) throw badRequest('refresh_token is required for the refresh_token grant')
        return auth.refresh(form.refresh_token)
      }
      if (!form.username || !form.password)
        throw badRequest('username and password are required for the password grant')
      return auth.login(form.username, form.password)
    },
  )

  app.post(
    '/auth/login',
    {
      schema: {
        operationId: 'auth-login',
        summary: 'Log in with a JSON body',
        tags,
        body: LoginBody,
        response: { 200: TokenPair, ...problemResponses(400, 401, 429) },
      },
      ...loginLimit,
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store')
      return auth.login(request.body.username, request.body.password)
    },
  )

  app.post(
    '/auth/refresh',
    {
      schema: {
        operationId: 'auth-refresh',
        summary: 'Exchange a refresh token for a new pair (the old one stops working)',
        tags,
        body: RefreshBody,
        response: { 200: TokenPair, ...problemResponses(400, 401, 429) },
      },
      ...addressLimit,
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store')
      return auth.refresh(request.body.refresh_token)
    },
  )

  app.post(
    '/auth/logout',
    {
      schema: {
        operationId: 'auth-logout',
        summary: 'Revoke the login a refresh token belongs to',
        tags,
        body: RefreshBody,
        response: { 204: { type: 'null', description: 'Logged out' }, ...problemResponses(400, 429) },
      },
      ...addressLimit,
    },
    async (request, reply) => {
      await auth.logout(request.body.refresh_token)
      return reply.code(204).send(null)
    },
  )

  app.get(
    '/auth/me',
    {
      schema: {
        operationId: 'auth-me',
        summary: 'The current user',
        tags,
        security: [{ bearerAuth: [] }],
        response: { 200: UserPublic, ...problemResponses(401) },
      },
      onRequest: app.authenticate,
    },
    async (request) => users.get(request.user!, request.user!.id),
  )
}
