import { type FastifyReply, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify'

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

/** pino for the service: JSON lines on stdout (or `stream`), secrets redacted, one line per request. */
export function loggerOptions(
  level: string,
  stream?: { write(line: string): void },
): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    ...(stream ? { stream } : {}),
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        '*.password',
        '*.currentPassword',
        '*.refresh_token',
        '*.access_token',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req: (request: FastifyRequest) => ({
        method: request.method,
        url: request.url.length > URL_LOG_MAX ? `${request.url.slice(0, URL_LOG_MAX)}…` : request.url,
        remoteAddress: request.ip,
      }),
    },
  }
}
