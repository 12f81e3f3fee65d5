import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import helmet, { type HelmetOptions } from 'helmet'

/**
 * The headers helmet sets, worked out once: runs helmet's middleware against a response that only records
 * what it is told. Valid because the configuration has no per-request parts (no CSP nonces, no directive
 * functions), so every response gets the same headers.
 */
export function securityHeaders(options: HelmetOptions): [name: string, value: string][] {
  const headers = new Map<string, [string, string]>()
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers.set(name.toLowerCase(), [name, String(value)])
    },
    removeHeader(name: string) {
      headers.delete(name.toLowerCase())
    },
  }
  let failure: unknown
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    failure = error
  })
  if (failure) throw failure
  return [...headers.values()]
}

/**
 * What a JSON API response needs (OWASP REST Security Cheat Sheet): never stored by a browser or a
 * shared cache (a route with a reason to differ sets its own Cache-Control), never sniffed into HTML,
 * never framed, and should a browser render one anyway, nothing may load into it. HSTS as on documents.
 * Helmet's other headers govern what a rendered page may do, so they cost every API response about 400
 * bytes for nothing.
 */
export const API_SECURITY_HEADERS: readonly [name: string, value: string][] = [
  ['cache-control', 'no-store'],
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
  ['strict-transport-security', 'max-age=31536000; includeSubDomains'],
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
]

/**
 * Helmet's full document set on everything a browser renders (the web UI, /docs, their assets, unknown
 * paths), and the API set on responses under `apiPrefixes` (the JSON API, health, metrics, the OpenAPI
 * document). Worked out once, and chosen per request by a prefix test. Replaces @fastify/helmet, which
 * builds helmet's middleware again (re-parsing the CSP directives) on every request.
 */
export function registerSecurityHeaders(
  app: FastifyInstance,
  documentOptions: HelmetOptions,
  apiPrefixes: readonly string[],
): void {
  const documentHeaders = securityHeaders(documentOptions)
  app.addHook('onRequest', (request, reply, done) => {
    const url = request.url
    const headers = apiPrefixes.some((prefix) => url.startsWith(prefix))
      ? API_SECURITY_HEADERS
      : documentHeaders
    // On the raw response, as @fastify/helmet did, so responses sent around Fastify's reply get them too.
    for (const [name, value] of headers) reply.raw.setHeader(name, value)
    done()
  })
}
