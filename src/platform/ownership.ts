import type { AuthUser } from './auth.js'
import { forbidden } from './errors.js'

/**
 * Whose rows an operation may touch: one owner's id, or undefined for every owner's. Repositories add
 * `where ownerId = scope` when it is defined, so someone else's row answers exactly like a missing one and
 * ids cannot be probed for existence.
 */
export type OwnerScope = string | undefined

/** The caller's reach over single rows: an admin reaches every owner's, anyone else only their own. */
export function ownerScope(actor: AuthUser): OwnerScope {
  return actor.role === 'admin' ? undefined : actor.id
}

/**
 * Whose rows a listing covers: an admin's choice (every owner's when none is asked for); anyone else
 * always their own, and asking for another owner's is refused with 403.
 */
export function listingScope(
  actor: AuthUser,
  requestedOwnerId: string | undefined,
  what: string,
): OwnerScope {
  if (actor.role === 'admin') return requestedOwnerId
  if (requestedOwnerId !== undefined && requestedOwnerId !== actor.id) {
    throw forbidden(`Only an admin may read another user’s ${what}`)
  }
  return actor.id
}

/**
 * For rows whose existence is no secret (a user's own account): someone else's is refused with 403
 * rather than answered like a missing one.
 */
export function assertInScope(actor: AuthUser, ownerId: string, message: string): void {
  const scope = ownerScope(actor)
  if (scope !== undefined && scope !== ownerId) throw forbidden(message)
}
