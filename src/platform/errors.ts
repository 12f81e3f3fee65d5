import { STATUS_CODES } from 'node:http'
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  preHandlerHookHandler,
} from 'fastify'

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

export interface Problem {
  type: string
  title: string
  status: number
  detail?: string
  instance: string
  requestId: string
  errors?: FieldError[]
}

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

/** Errors from the database driver that mean "the database is not reachable", not "the query is wrong". */
function isDependencyDown(error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  const message = error instanceof Error ? error.message : ''
  return (
    (typeof code === 'string' &&
      [
        'ECONNREFUSED',
        'ECONNRESET',
        'ETIMEDOUT',
        'EPIPE',
        'ENOTFOUND',
        'EHOSTUNREACH',
        '57P01',
        '57P03',
        '53300',
        'SQLITE_BUSY',
      ].includes(code)) ||
    /timeout exceeded when trying to connect|Connection terminated|connection timeout|Query read timeout/i.test(
      message,
    )
  )
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
export function registerErrorHandling(app: FastifyInstance, notFoundLimit: preHandlerHookHandler): void {
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
    if (isDependencyDown(error)) {
      request.log.error({ err: error }, 'dependency unavailable')
      reply.header('retry-after', '5')
      return sendProblem(reply, 503, 'A dependency of the service is unavailable; retry shortly')
    }
    request.log.error({ err: error }, 'unhandled error')
    return sendProblem(reply, 500, 'An unexpected error occurred; it has been logged with this request id')
  })

  // Unknown URLs are rate limited like reads, so probing for routes costs the prober its budget.
  app.setNotFoundHandler({ preHandler: notFoundLimit }, (request, reply) =>
    sendProblem(reply, 404, `No route for ${request.method} ${request.url.split('?')[0]}`),
  )
}
