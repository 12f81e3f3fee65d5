import type { Kysely, Transaction } from 'kysely'
import type { AuthUser } from './auth.js'
import type { Dialect } from './database.js'
import { type Database, toBool } from './db-schema.js'
import { unauthorized } from './errors.js'
import { appendEvent, type EventType } from './events/outbox.js'
import { claimIdempotencyKey } from './idempotency.js'

/**
 * Who a write is done for: the authenticated caller (with the token version their token was verified
 * against, which the write re-checks), or null for the service itself (start-up, CLI, sign-up).
 */
export type Actor = AuthUser & { tokenVersion?: number }

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
async function confirmCaller(
  trx: Transaction<Database>,
  dialect: Dialect,
  actor: Actor | null,
  lock: CallerLock = 'share',
): Promise<void> {
  if (!actor || actor.tokenVersion === undefined) return
  let query = trx.selectFrom('users').select(['role', 'isActive', 'tokenVersion']).where('id', '=', actor.id)
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

/** What a write records about itself in the outbox, decided from what it wrote. */
export interface EventOf {
  type: EventType
  data: Record<string, unknown>
}

/**
 * Every write transaction of the service goes through here: the caller confirmed under lock, the
 * Idempotency-Key taken and answered, and the event written in the same transaction as the change.
 */
export function createWrites(db: Kysely<Database>, dialect: Dialect) {
  function transact<T>(
    actor: Actor | null,
    work: (trx: Transaction<Database>) => Promise<T>,
    options: WriteOptions<T> = {},
  ): Promise<T> {
    return db.transaction().execute(async (trx) => {
      if (options.callerLock !== false)
        await confirmCaller(trx, dialect, actor, options.callerLock ?? 'share')
      const claim = options.receipt ? await claimIdempotencyKey(trx) : undefined
      const result = await work(trx)
      if (claim && options.receipt) await claim.complete(options.receipt(result))
      return result
    })
  }

  /**
   * A write and its event, committed or rolled back together. A write that finds nothing to change
   * (resolves to undefined or false: a missing row, someone else's) records no event.
   */
  function withEvent<T>(
    actor: Actor | null,
    write: (trx: Transaction<Database>) => Promise<T>,
    event: (result: NonNullable<T>) => EventOf,
    options: WriteOptions<T> = {},
  ): Promise<T> {
    return transact(
      actor,
      async (trx) => {
        const result = await write(trx)
        if (result !== undefined && result !== null && result !== false) {
          await appendEvent(trx, { ...event(result as NonNullable<T>), actor })
        }
        return result
      },
      options,
    )
  }

  return {
    transact,
    withEvent,
    /** `confirmCaller` for work that locks the caller's row itself (callerLock: false), then confirms it. */
    confirmCaller: (trx: Transaction<Database>, actor: Actor | null, lock: CallerLock = 'share') =>
      confirmCaller(trx, dialect, actor, lock),
  }
}

export type Writes = ReturnType<typeof createWrites>
