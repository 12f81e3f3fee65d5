import { STATUS_CODES } from 'node:http'
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  preHandlerHookHandler,
} from 'fastify'
import type { Static } from 'typebox'
import type { Problem as ProblemSchema } from './schemas.js'

/**
 * What went wrong, in the service's terms. Services throw these; only the error handler below
 * knows which HTTP status each kind becomes.
 */
export type ErrorKind =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'limit_exceeded'
  | 'unprocessable'
  | 'rate_limited'
  | 'unavailable'

const STATUS_BY_KIND: Record<ErrorKind, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  limit_exceeded: 422,
  unprocessable: 422,
  rate_limited: 429,
  unavailable: 503,
}

export interface FieldError {
  path: string
  message: string
}

export class DomainError extends Error {
  override name = 'DomainError'
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly options: { errors?: FieldError[]; retryAfterSeconds?: number } = {},
  ) {
    super(message)
  }
}

export const badRequest = (message: string, errors?: FieldError[]) =>
  new DomainError('bad_request', message, errors ? { errors } : {})
export const unauthorized = (message = 'Authentication required') => new DomainError('unauthorized', message)
export const forbidden = (message = 'Not allowed') => new DomainError('forbidden', message)
export const notFound = (message = 'Not found') => new DomainError('not_found', message)
export const conflict = (message: string) => new DomainError('conflict', message)
export const limitExceeded = (message: string, errors?: FieldError[]) =>
  new DomainError('limit_exceeded', message, errors ? { errors } : {})
export const unavailable = (message: string, retryAfterSeconds = 5) =>
  new DomainError('unavailable', message, { retryAfterSeconds })

/** A problem document: the shape of the Problem schema (schemas.ts). */
export type Problem = Static<typeof ProblemSchema>

/** Fastify's own error codes that are the client's fault, with the status they deserve. */
const FASTIFY_CLIENT_ERRORS: Record<string, number> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 413,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 415,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 400,
  FST_ERR_CTP_EMPTY_JSON_BODY: 400,
  FST_ERR_CTP_INVALID_JSON_BODY: 400,
  FST_ERR_CTP_INVALID_TYPE: 400,
  FST_ERR_VALIDATION: 400,
}

/**
 * A dependency (the database) could not be reached or stopped answering: the outcome of the operation is
 * unknown, and the caller gets 503 with Retry-After. The database layer wraps the failures it recognises by
 * the state of its connection (a pool that could not connect, a client whose connection died or was cut
 * after a timeout), which carry no code of their own; `cause` keeps the original.
 */
export class DependencyUnavailableError extends Error {
  override name = 'DependencyUnavailableError'
  constructor(
    readonly dependency: 'database',
    options: { cause: unknown },
  ) {
    super(`${dependency} unavailable`, options)
  }
}

/** Node's errno codes for a peer that cannot be reached or went away. */
const NETWORK_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
])

/**
 * PostgreSQL SQLSTATEs meaning "not now" rather than "wrong": class 08 (connection exception), 57P (operator
 * intervention: shutdown, crash, cannot connect now), 53 (insufficient resources: too many connections, out
 * of memory or disk), 57014 (statement cancelled by statement_timeout: a stalled server), and 40001 / 40P01
 * (serialization failure, deadlock: the transaction was rolled back and may simply be retried).
 */
function transientSqlState(code: string): boolean {
  return (
    /^[0-9A-Z]{5}$/.test(code) &&
    (code.startsWith('08') ||
      code.startsWith('57P') ||
      code.startsWith('53') ||
      code === '57014' ||
      code === '40001' ||
      code === '40P01')
  )
}

/** SQLite result codes (better-sqlite3 reports extended ones, e.g. SQLITE_IOERR_WRITE) for an unusable store. */
const SQLITE_UNAVAILABLE = new Set([
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_IOERR',
  'SQLITE_FULL',
  'SQLITE_CANTOPEN',
  'SQLITE_PROTOCOL',
  'SQLITE_NOMEM',
])

function unavailableCode(code: unknown): boolean {
  if (typeof code !== 'string') return false
  if (NETWORK_ERRNOS.has(code) || transientSqlState(code)) return true
  const primary = /^SQLITE_[A-Z]+/.exec(code)?.[0]
  return primary !== undefined && SQLITE_UNAVAILABLE.has(primary)
}

/**
 * Whether `error` means "a dependency is not reachable" (503) rather than "the request or the code is
 * wrong". Decided by error class and code only, never by message text; causes are followed, since drivers
 * and pools wrap the socket error that started it.
 */
export function isDependencyUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Object && depth < 8; depth++) {
    if (current instanceof DependencyUnavailableError) return true
    if (unavailableCode((current as { code?: unknown }).code)) return true
    current = (current as { cause?: unknown }).cause
  }
  return false
}

/** A foreign key violation: the row a write refers to (its owner) was deleted meanwhile. */
export function isForeignKeyViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY'
}

/** Node still uses the RFC 7231 names for these two. */
const RFC9110_TITLES: Record<number, string> = { 413: 'Content Too Large', 422: 'Unprocessable Content' }

function problem(
  request: FastifyRequest,
  status: number,
  detail: string | undefined,
  errors?: FieldError[],
): Problem {
  return {
    type: 'about:blank',
    title: RFC9110_TITLES[status] ?? STATUS_CODES[status] ?? 'Error',
    status,
    ...(detail ? { detail } : {}),
    instance: request.url.split('?')[0] ?? request.url,
    requestId: String(request.id),
    ...(errors?.length ? { errors } : {}),
  }
}

export function sendProblem(
  reply: FastifyReply,
  status: number,
  detail: string | undefined,
  errors?: FieldError[],
): FastifyReply {
  if (status === 401) reply.header('www-authenticate', 'Bearer')
  return reply
    .code(status)
    .type('application/problem+json')
    .send(problem(reply.request, status, detail, errors))
}

/** A body with 10,000 unknown fields has 10,000 errors; the answer lists the first few, not a 650 KB echo. */
const MAX_FIELD_ERRORS = 20

function validationErrors(error: FastifyError): FieldError[] {
  const context = error.validationContext ?? 'body'
  return (error.validation ?? []).slice(0, MAX_FIELD_ERRORS).map((issue) => {
    const params = issue.params as Record<string, unknown>
    const missing = typeof params.missingProperty === 'string' ? `/${params.missingProperty}` : ''
    return { path: `/${context}${issue.instancePath}${missing}`, message: issue.message ?? 'is invalid' }
  })
}

/**
 * Errors Fastify raises before routing, where no hook has run: a malformed %-escape in the path
 * (FST_ERR_BAD_URL, 400) or a path parameter over maxParamLength (FST_ERR_MAX_PARAM_LENGTH, 414).
 * Fastify's default answer is plain JSON without X-Request-Id; these leave as problem+json like the rest.
 */
export function frameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id)
  const status =
    error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400
  sendProblem(
    reply,
    status,
    status === 414 ? 'A path segment is longer than allowed' : 'The request URL is not validly encoded',
  )
}

/** Every error leaves as RFC 9457 problem+json; a 5xx never carries the error's own message. */
export function registerErrorHandling(
  app: FastifyInstance,
  notFoundLimit: preHandlerHookHandler,
  onDependencyError?: (dependency: 'database') => void,
): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof DomainError) {
      const status = STATUS_BY_KIND[error.kind]
      if (error.options.retryAfterSeconds !== undefined)
        reply.header('retry-after', String(error.options.retryAfterSeconds))
      if (status >= 500) request.log.warn({ err: error }, 'dependency unavailable')
      return sendProblem(reply, status, error.message, error.options.errors)
    }
    if (error.validation) {
      const errors = validationErrors(error)
      return sendProblem(
        reply,
        400,
        errors[0] ? `${errors[0].path} ${errors[0].message}` : 'Invalid request',
        errors,
      )
    }
    const mapped = error.code ? FASTIFY_CLIENT_ERRORS[error.code] : undefined
    if (mapped) return sendProblem(reply, mapped, error.message)
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return sendProblem(reply, error.statusCode, error.message)
    }
    if (isDependencyUnavailable(error)) {
      request.log.error({ err: error }, 'dependency unavailable')
      onDependencyError?.('database')
      reply.header('retry-after', '5')
      return sendProblem(reply, 503, 'A dependency of the service is unavailable; retry shortly')
    }
    // Whatever a write referred to (its owner, as a rule) was deleted by a concurrent request. Services turn
    // the cases they expect into 401/404; any other is still a conflict with the current state, not a bug.
    if (isForeignKeyViolation(error)) {
      request.log.warn({ err: error }, 'write refers to a row deleted meanwhile')
      return sendProblem(reply, 409, 'Something this request refers to was deleted meanwhile')
    }
    request.log.error({ err: error }, 'unhandled error')
    return sendProblem(reply, 500, 'An unexpected error occurred; it has been logged with this request id')
  })

  // Unknown URLs are rate limited like reads, so probing for routes costs the prober its budget.
  app.setNotFoundHandler({ preHandler: notFoundLimit }, (request, reply) =>
    sendProblem(reply, 404, `No route for ${request.method} ${request.url.split('?')[0]}`),
  )
}
