import formbody from '@fastify/formbody'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { currentUser } from '../../platform/auth.js'
import { badRequest } from '../../platform/errors.js'
import { type Idempotency, IdempotencyKeyHeaders } from '../../platform/idempotency.js'
import { beforeParsing, type RateLimits } from '../../platform/rate-limit.js'
import { AUTHENTICATED, PUBLIC, problemResponses, ref } from '../../platform/schemas.js'
import { NewUser, UserPublic } from '../users/schemas.js'
import type { UsersService } from '../users/service.js'
import { LoginBody, RefreshBody, TokenForm, TokenPair } from './schemas.js'
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
        description:
          'Creates an account with the role user and returns it. Usernames and email addresses are unique regardless of case (409). Accepts an Idempotency-Key header. Rate limited per client address and per username.',
        security: PUBLIC,
        summary: 'Create an account (role user)',
        tags,
        headers: IdempotencyKeyHeaders,
        body: ref(NewUser),
        response: { 201: ref(UserPublic), ...problemResponses(400, 409, 422, 429, 503) },
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
        description:
          'The OAuth2 token endpoint (RFC 6749), form-encoded: grant_type=password with username and password, or grant_type=refresh_token with refresh_token. Answers a token pair with Cache-Control: no-store; wrong credentials or a spent, revoked or expired refresh token are 401.',
        security: PUBLIC,
        summary: 'OAuth2 token endpoint (password or refresh_token grant, form-encoded)',
        tags,
        consumes: ['application/x-www-form-urlencoded'],
        body: ref(TokenForm),
        response: { 200: ref(TokenPair), ...problemResponses(400, 401, 429) },
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
        description:
          'Checks a username (any case) and password, and answers an access token and a single-use refresh token. Wrong credentials are 401 whether or not the user exists.',
        security: PUBLIC,
        summary: 'Log in with a JSON body',
        tags,
        body: ref(LoginBody),
        response: { 200: ref(TokenPair), ...problemResponses(400, 401, 429) },
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
        description:
          'Spends a refresh token and answers a new pair of the same login. Presenting a token that was already used revokes every token of its login (it has been copied); a logged-out, expired or unknown token is 401.',
        security: PUBLIC,
        summary: 'Exchange a refresh token for a new pair (the old one stops working)',
        tags,
        body: ref(RefreshBody),
        response: { 200: ref(TokenPair), ...problemResponses(400, 401, 429) },
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
        description:
          'Revokes every refresh token of the login the presented one belongs to. Unknown tokens are ignored, so logging out twice is not an error. Access tokens already issued stay valid until they expire.',
        security: PUBLIC,
        summary: 'Revoke the login a refresh token belongs to',
        tags,
        body: ref(RefreshBody),
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
        description: 'The account the access token belongs to.',
        summary: 'The current user',
        tags,
        security: AUTHENTICATED,
        response: { 200: ref(UserPublic), ...problemResponses(401) },
      },
      onRequest: app.authenticate,
    },
    async (request) => {
      const user = currentUser(request)
      return users.get(user, user.id)
    },
  )
}
