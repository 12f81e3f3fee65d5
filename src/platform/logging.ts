import { type FastifyReply, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify'
import pino from 'pino'

/**
 * Fastify's own request logging writes two lines per request ("incoming request", "request completed"),
 * each through the redaction paths below. One line per request says the same, at half the cost:
 * method, URL, client address, status, time, and the caller's user id once authenticated. Failures
 * are logged as Fastify logs them.
 */
export class AccessLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (error) {
      reply.log.error(
        { req: request, res: reply, err: error, responseTime: reply.elapsedTime },
        'request errored',
      )
      return
    }
    reply.log.info(
      { req: request, res: reply, responseTime: reply.elapsedTime, userId: request.user?.id },
      'request completed',
    )
  }
}

/** A URL is logged in full up to this length: a 10,000-digit operand need not fill the log. */
const URL_LOG_MAX = 512

const CENSORED = '[redacted]'
/** Never written to a log, wherever they appear in the first two levels of a logged object. */
const SECRET_KEYS = [
  'password',
  'currentPassword',
  'refresh_token',
  'access_token',
  'authorization',
  'cookie',
]

/** Object literals and JSON: not class instances (a request, a reply, an error), which serializers shape. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

/** `object` with its secret keys censored: itself when it holds none (the common case: no copy). */
function censorOwn(object: Record<string, unknown>): Record<string, unknown> {
  let censored: Record<string, unknown> | undefined
  for (const key of SECRET_KEYS) {
    if (Object.hasOwn(object, key)) {
      censored ??= { ...object }
      censored[key] = CENSORED
    }
  }
  return censored ?? object
}

/**
 * What pino's `redact` option did with the paths req.headers.authorization, req.headers.cookie and
 * *.password (and the other secret keys), and a little more: secret keys are censored at the top level,
 * one level down, and in a `headers` object one level down. pino's redact clones each logged value and
 * re-parses every path on every line (5% of a cached math call's CPU for the access-log line alone);
 * this looks at a handful of own properties and copies only what it censors.
 */
export function censorSecrets(object: Record<string, unknown>): Record<string, unknown> {
  let result = censorOwn(object)
  for (const key in result) {
    const value = result[key]
    if (!isPlainObject(value)) continue
    let inner = censorOwn(value)
    const headers = inner.headers
    if (isPlainObject(headers)) {
      const censoredHeaders = censorOwn(headers)
      if (censoredHeaders !== headers) inner = { ...inner, headers: censoredHeaders }
    }
    if (inner !== value) {
      if (result === object) result = { ...object }
      result[key] = inner
    }
  }
  return result
}

/** Log lines are written to stdout in blocks of this many bytes, or after LOG_FLUSH_MS, whichever is first. */
const LOG_BLOCK_BYTES = 4096
const LOG_FLUSH_MS = 250

/**
 * pino for the service: JSON lines on stdout (or `stream`), secrets censored, one line per request.
 * stdout is written in blocks (LOG_BLOCK_BYTES, or every LOG_FLUSH_MS): a write per line costs a
 * system call and a thread-pool round trip per request whenever the service is not saturated. What is
 * buffered is written on exit; a process killed outright loses at most the last LOG_FLUSH_MS of lines.
 */
export function loggerOptions(
  level: string,
  stream?: { write(line: string): void },
): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    stream:
      stream ??
      pino.destination({ dest: 1, sync: false, minLength: LOG_BLOCK_BYTES, periodicFlush: LOG_FLUSH_MS }),
    formatters: { log: censorSecrets },
    serializers: {
      req: (request: FastifyRequest) => ({
        method: request.method,
        url: request.url.length > URL_LOG_MAX ? `${request.url.slice(0, URL_LOG_MAX)}…` : request.url,
        remoteAddress: request.ip,
      }),
    },
  }
}
