import { createHmac } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import { Type } from 'typebox'
import type { Database, Executor } from './db-schema.js'
import { badRequest, conflict, DomainError } from './errors.js'
import { requestContext } from './request-context.js'

/*
 * Idempotency-Key (IETF httpapi draft "The Idempotency-Key HTTP Header Field") on the POSTs that create
 * something. The response to the first request is stored in the same transaction as what it created, so a
 * retry of a request whose answer was lost (a 503 at commit, a 502 from a balancer whose instance died)
 * gets that answer again and creates nothing. The same caller, key and content within 24 hours replays the
 * original status and body; another content under the key is 422. Two requests with one key meet on the
 * table's primary key inside their transactions: the second waits for the first to commit, then replays it.
 */

export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60_000

/** A key is an sf-string per the draft (`"…"`); the bare form most clients send means the same key. */
const BARE_KEY = /^[\x20-\x7e]{1,255}$/
const QUOTED_KEY = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x22\x5c]){1,255})"$/

/** Documents the header on every creating route (and bounds it before anything else reads it). */
export const IdempotencyKeyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 512,
      pattern: '^[\\x20-\\x7e]+$',
      description:
        'Makes a retry safe: the same key with the same request within 24 hours returns the original ' +
        'status and body and creates nothing more; with a different request it is 422, and a request ' +
        'racing one with the same key waits for it. 1–255 printable ASCII characters, bare or as a ' +
        'quoted string (a UUID is a good key). Keys are per caller.',
    }),
  ),
})

/** The key a request carries, normalised; undefined when it carries none; 400 when it is malformed. */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined
  const invalid = () =>
    badRequest('Idempotency-Key must be 1–255 printable ASCII characters, sent once', [
      { path: '/headers/idempotency-key', message: 'must be 1–255 printable ASCII characters' },
    ])
  if (Array.isArray(header)) throw invalid()
  const text = header.trim()
  const quoted = QUOTED_KEY.exec(text)
  const key = quoted ? (quoted[1] as string).replace(/\\(["\\])/g, '$1') : text
  if (!BARE_KEY.test(key) || (!quoted && text.startsWith('"'))) throw invalid()
  return key
}

/** Object keys sorted at every level: one spelling per JSON value, so reordered fields are the same request. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([name, item]) => `${JSON.stringify(name)}:${canonicalJson(item)}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/** The transaction found the key already used (committed by another request): roll back and replay that. */
class IdempotencyKeyTaken extends Error {
  override name = 'IdempotencyKeyTaken'
}

interface StoredResponse {
  fingerprint: string
  status: number
  body: string | null
}

/**
 * Inside the transaction that creates what the request's key names: takes the key, before anything else is
 * written (a concurrent request with the key waits here), and returns what stores the response body. Nothing
 * to do for a request without a key. A key older than the window is taken over.
 */
export async function claimIdempotencyKey(
  trx: Executor,
): Promise<{ complete(body: unknown): Promise<void> } | undefined> {
  const pending = requestContext()?.idempotency
  if (!pending) return undefined
  if (pending.fingerprint === undefined) throw new Error('idempotency: the request was not fingerprinted')
  const now = new Date()
  const cutoff = new Date(now.getTime() - IDEMPOTENCY_WINDOW_MS).toISOString()
  const claimed = await trx
    .insertInto('idempotencyKeys')
    .values({
      scope: pending.scope,
      idemKey: pending.key,
      fingerprint: pending.fingerprint,
      status: pending.status,
      body: null,
      createdAt: now.toISOString(),
    })
    .onConflict((oc) =>
      oc
        .columns(['scope', 'idemKey'])
        .doUpdateSet((eb) => ({
          fingerprint: eb.ref('excluded.fingerprint'),
          status: eb.ref('excluded.status'),
          body: null,
          createdAt: eb.ref('excluded.createdAt'),
        }))
        .where('idempotencyKeys.createdAt', '<', cutoff),
    )
    .returning('scope')
    .executeTakeFirst()
  if (!claimed) throw new IdempotencyKeyTaken()
  return {
    async complete(body: unknown) {
      await trx
        .updateTable('idempotencyKeys')
        .set({ body: JSON.stringify(body) })
        .where('scope', '=', pending.scope)
        .where('idemKey', '=', pending.key)
        .execute()
      pending.stored = true
    },
  }
}

/** How a creating route answers: its success status, and headers derived from the body (Location). */
export interface IdempotentRoute<T> {
  status: number
  headers?: (body: T, request: FastifyRequest) => Record<string, string>
  /**
   * For a body the handler streams (an upload): what identifies its content, read from the request when a
   * stored response exists for the key. The handler sets it itself, with `fingerprintStreamed`, otherwise.
   */
  fingerprintStreamed?: (request: FastifyRequest) => Promise<string[]>
}

export interface IdempotencyOptions {
  db: Kysely<Database>
  /** Keys the content fingerprints (HMAC), so stored fingerprints reveal nothing of what was sent. */
  secret: string
  log: { error(obj: object, msg: string): void }
}

export function createIdempotency({ db, secret, log }: IdempotencyOptions) {
  const hmacKey = createHmac('sha256', secret).update('idempotency-key fingerprint v1').digest()
  const fingerprintOf = (request: FastifyRequest, parts: string[]) =>
    createHmac('sha256', hmacKey)
      .update([request.method, request.routeOptions.url ?? '', ...parts].join('\n'))
      .digest('hex')

  async function lookup(scope: string, key: string): Promise<StoredResponse | undefined> {
    const cutoff = new Date(Date.now() - IDEMPOTENCY_WINDOW_MS).toISOString()
    return db
      .selectFrom('idempotencyKeys')
      .select(['fingerprint', 'status', 'body'])
      .where('scope', '=', scope)
      .where('idemKey', '=', key)
      .where('createdAt', '>=', cutoff)
      .executeTakeFirst()
  }

  function send<T>(reply: FastifyReply, route: IdempotentRoute<T>, status: number, body: T): FastifyReply {
    reply.code(status)
    for (const [name, value] of Object.entries(route.headers?.(body, reply.request) ?? {}))
      reply.header(name, value)
    return reply.send(body)
  }

  function replay<T>(
    reply: FastifyReply,
    route: IdempotentRoute<T>,
    stored: StoredResponse,
    fingerprint: string,
  ): FastifyReply {
    if (stored.fingerprint !== fingerprint) {
      throw new DomainError(
        'unprocessable',
        'This Idempotency-Key was already used for a different request; use a new key for a new request',
        { errors: [{ path: '/headers/idempotency-key', message: 'already used with a different request' }] },
      )
    }
    if (stored.body === null) throw conflict('A request with this Idempotency-Key is still in progress')
    reply.header('idempotent-replayed', 'true')
    // Through the route's own serializer, as the original was: the same bytes again.
    return send(reply, route, stored.status, JSON.parse(stored.body) as T)
  }

  return {
    /**
     * Answers a creating request: with the stored response when its key was used before, otherwise by
     * running `create`, whose transaction stores the response (`transact` with a receipt).
     */
    async respond<T>(
      request: FastifyRequest,
      reply: FastifyReply,
      route: IdempotentRoute<T>,
      create: () => Promise<T>,
    ): Promise<FastifyReply> {
      const key = parseIdempotencyKey(request.headers['idempotency-key'])
      const context = requestContext()
      if (key === undefined || !context) return send(reply, route, route.status, await create())
      const scope = request.user?.id ?? 'anonymous'
      const streamed = route.fingerprintStreamed !== undefined
      const fingerprint = streamed ? undefined : fingerprintOf(request, [canonicalJson(request.body)])
      const earlier = await lookup(scope, key)
      if (earlier) {
        const own = fingerprint ?? fingerprintOf(request, await route.fingerprintStreamed!(request))
        return replay(reply, route, earlier, own)
      }
      const pending = { scope, key, fingerprint, status: route.status, stored: false }
      context.idempotency = pending
      try {
        const result = await create()
        if (!pending.stored)
          log.error(
            { route: request.routeOptions.url },
            'idempotency: the creating transaction stored no response',
          )
        return send(reply, route, route.status, result)
      } catch (error) {
        if (!(error instanceof IdempotencyKeyTaken)) throw error
        const winner = await lookup(scope, key)
        if (!winner) throw conflict('A request with this Idempotency-Key is still in progress; retry shortly')
        return replay(reply, route, winner, pending.fingerprint as string)
      } finally {
        context.idempotency = undefined
      }
    },

    /** For a streamed body, once it has been read: what identifies its content (file name, digest). */
    fingerprintStreamed(request: FastifyRequest, parts: string[]): void {
      const pending = requestContext()?.idempotency
      if (pending) pending.fingerprint = fingerprintOf(request, parts)
    },

    /** Forgets responses past the window; hourly. */
    async prune(now = new Date()): Promise<number> {
      const cutoff = new Date(now.getTime() - IDEMPOTENCY_WINDOW_MS).toISOString()
      const result = await db.deleteFrom('idempotencyKeys').where('createdAt', '<', cutoff).executeTakeFirst()
      return Number(result.numDeletedRows)
    },
  }
}

export type Idempotency = ReturnType<typeof createIdempotency>
