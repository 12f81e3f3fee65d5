import type { Kysely, Transaction } from 'kysely'
import type { Dialect } from './database.js'
import { type Database, toBool } from './db-schema.js'
import { unauthorized } from './errors.js'
import { claimIdempotencyKey } from './idempotency.js'
import { requestContext } from './request-context.js'

/**
 * How a write transaction holds the caller's user row until it commits (PostgreSQL; SQLite runs one write
 * transaction at a time anyway):
 * - 'share': deleting, deactivating or re-roling the caller waits for this write, or this write sees it;
 * - 'update': the same, and the caller's other writes wait too (a check over all their rows, the file quota);
 * - 'held': the transaction already locked the row itself; read it without locking again.
 */
export type CallerLock = 'share' | 'update' | 'held'

/**
 * The caller's access token was checked when the request arrived; this checks, inside the transaction that
 * writes and under the caller's row lock, that they still exist with the state the token was checked
 * against (active, same role, same token version). A write racing the caller's deletion, deactivation,
 * demotion or password change therefore either commits before it or is refused with 401, never half-done
 * and never a 500. No-op outside an authenticated request (start-up, CLI, sign-up, login).
 */
export async function confirmCaller(
  trx: Transaction<Database>,
  dialect: Dialect,
  lock: CallerLock = 'share',
): Promise<void> {
  const actor = requestContext()?.actor
  if (!actor?.userId || actor.tokenVersion === undefined) return
  let query = trx
    .selectFrom('users')
    .select(['role', 'isActive', 'tokenVersion'])
    .where('id', '=', actor.userId)
  if (dialect === 'postgres' && lock !== 'held')
    query = lock === 'update' ? query.forUpdate() : query.forShare()
  const row = await query.executeTakeFirst()
  if (!row) throw unauthorized('This account no longer exists')
  if (!toBool(row.isActive) || row.role !== actor.role || row.tokenVersion !== actor.tokenVersion) {
    throw unauthorized('Access token is no longer valid')
  }
}

export interface WriteOptions<T> {
  /** How the caller's row is held (default 'share'); false when the work checks the caller itself. */
  callerLock?: CallerLock | false
  /**
   * This transaction creates what the request's Idempotency-Key names: the key is taken before `work` runs,
   * and this response body stored with it before the commit.
   */
  receipt?: (result: T) => unknown
}

/** Write transactions of a request: caller confirmed under lock, idempotency key taken and answered. */
export function createTransactor(db: Kysely<Database>, dialect: Dialect) {
  return function transact<T>(
    work: (trx: Transaction<Database>) => Promise<T>,
    options: WriteOptions<T> = {},
  ): Promise<T> {
    return db.transaction().execute(async (trx) => {
      if (options.callerLock !== false) await confirmCaller(trx, dialect, options.callerLock ?? 'share')
      const claim = options.receipt ? await claimIdempotencyKey(trx) : undefined
      const result = await work(trx)
      if (claim && options.receipt) await claim.complete(options.receipt(result))
      return result
    })
  }
}

export type Transact = ReturnType<typeof createTransactor>
