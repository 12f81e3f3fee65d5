import { AsyncLocalStorage } from 'node:async_hooks'

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
  /**
   * The authenticated caller's id, set in place once known: only to charge shared resources (the Redis
   * cache budget). Who a write is done for is passed explicitly as its actor, never read from here.
   */
  userId?: string
  idempotency?: PendingIdempotency
}

const storage = new AsyncLocalStorage<RequestContext>()

/**
 * Request metadata that deep layers need without being business data: the request id events carry, the
 * client address and user id shared budgets are charged to, and the pending Idempotency-Key.
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
  if (context?.userId) return `user:${context.userId}`
  if (context?.clientAddress) return `ip:${context.clientAddress}`
  return 'service'
}

/** Records who the current request is charged to, once authentication has named them. */
export function bindCaller(userId: string): void {
  const context = storage.getStore()
  if (context) context.userId = userId
}
