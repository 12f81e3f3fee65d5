import { AsyncLocalStorage } from 'node:async_hooks'
import type { Role } from './db-schema.js'

export interface RequestActor {
  userId: string | null
  role: Role | null
  /** The token version the caller's access token was verified against (write transactions re-check it). */
  tokenVersion?: number
}

/** An Idempotency-Key this request carries, waiting for the transaction that creates what it names. */
export interface PendingIdempotency {
  /** Whose key it is: the caller's user id, or `anonymous`. */
  readonly scope: string
  readonly key: string
  /** Identifies the request's content; set late for a streamed body, once it has been read. */
  fingerprint: string | undefined
  /** Status of the success response, stored with its body. */
  readonly status: number
  /** Set by the transaction that stored the response. */
  stored: boolean
}

export interface RequestContext {
  readonly requestId: string
  /** The client's address (after TRUST_PROXY): who an anonymous request is charged to. */
  readonly clientAddress?: string
  /** Set once the request has authenticated; mutated in place so later hooks and handlers see it. */
  actor?: RequestActor
  idempotency?: PendingIdempotency
}

const storage = new AsyncLocalStorage<RequestContext>()

/**
 * What every write needs to say who and which request caused it (the outbox), without threading a
 * request through each service signature.
 */
export function runWithRequestContext(context: RequestContext, next: () => void): void {
  storage.run(context, next)
}

export function requestContext(): RequestContext | undefined {
  return storage.getStore()
}

/**
 * Who the current request is charged to for shared resources (the Redis cache budget): its user, else its
 * client address; outside a request, the service itself.
 */
export function currentCaller(): string {
  const context = storage.getStore()
  if (context?.actor?.userId) return `user:${context.actor.userId}`
  if (context?.clientAddress) return `ip:${context.clientAddress}`
  return 'service'
}

export function bindActor(user: { id: string; role: Role; tokenVersion?: number }): void {
  const context = storage.getStore()
  if (context)
    context.actor = {
      userId: user.id,
      role: user.role,
      ...(user.tokenVersion !== undefined ? { tokenVersion: user.tokenVersion } : {}),
    }
}
