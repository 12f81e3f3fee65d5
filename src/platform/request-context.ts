import { AsyncLocalStorage } from 'node:async_hooks'
import type { Role } from './db-schema.js'

export interface RequestActor {
  userId: string | null
  role: Role | null
}

export interface RequestContext {
  readonly requestId: string
  /** The client's address (after TRUST_PROXY): who an anonymous request is charged to. */
  readonly clientAddress?: string
  /** Set once the request has authenticated; mutated in place so later hooks and handlers see it. */
  actor?: RequestActor
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

export function bindActor(user: { id: string; role: Role }): void {
  const context = storage.getStore()
  if (context) context.actor = { userId: user.id, role: user.role }
}
