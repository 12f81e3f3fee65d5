import type { Insertable, Kysely, Selectable } from 'kysely'
import type { Database, EventsTable, Executor, Role } from '../db-schema.js'
import { toIso } from '../db-schema.js'
import { uuidv7 } from '../ids.js'
import { requestContext } from '../request-context.js'
import { deleteOldestBefore } from '../retention.js'

export type EventType =
  | 'user.registered'
  | 'user.updated'
  | 'user.role_changed'
  | 'user.deleted'
  | 'auth.login'
  | 'auth.refresh'
  | 'auth.logout'
  | 'math.computed'
  | 'product.created'
  | 'product.updated'
  | 'product.deleted'
  | 'task.created'
  | 'task.updated'
  | 'task.deleted'
  | 'file.uploaded'
  | 'file.deleted'

/** The event as consumers see it (the message value on the stream). */
export interface OutboxEvent {
  id: string
  type: string
  occurredAt: string
  actor: { userId: string | null; role: Role | null }
  requestId: string | null
  data: Record<string, unknown>
}

export interface StoredEvent extends OutboxEvent {
  publishedAt: string | null
}

export interface NewEvent {
  type: EventType
  /** Who caused it: the caller, or null for the service itself (start-up, CLI). */
  actor: { id: string; role: Role | null } | null
  data: Record<string, unknown>
}

const NOBODY = { userId: null, role: null } as const

/**
 * The row for `event`, stamped now with the current request's id. Called synchronously where the change
 * is decided, so a row written later (the history group commit) still carries its own request's id.
 */
export function eventRow(event: NewEvent): Insertable<EventsTable> {
  const context = requestContext()
  const actor = event.actor ? { userId: event.actor.id, role: event.actor.role } : NOBODY
  return {
    id: uuidv7(),
    type: event.type,
    occurredAt: new Date().toISOString(),
    actorUserId: actor.userId,
    actorRole: actor.role,
    requestId: context?.requestId ?? null,
    data: JSON.stringify(event.data),
  }
}

/** Writes the event in the caller's transaction: it commits, or rolls back, with the change it describes. */
export async function appendEvent(executor: Executor, event: NewEvent): Promise<void> {
  await executor.insertInto('events').values(eventRow(event)).execute()
}

function toEvent(row: Selectable<EventsTable>): StoredEvent {
  return {
    id: row.id,
    type: row.type,
    occurredAt: toIso(row.occurredAt),
    actor: { userId: row.actorUserId, role: row.actorRole },
    requestId: row.requestId,
    data: JSON.parse(row.data) as Record<string, unknown>,
    publishedAt: row.publishedAt === null ? null : toIso(row.publishedAt),
  }
}

/** Queries over the outbox table, for the relay, the admin listing and the metrics. */
export function createOutboxStore(db: Kysely<Database>) {
  return {
    /** Every event after `after` (an id), oldest first. */
    async list(after: string | undefined, limit: number): Promise<StoredEvent[]> {
      let query = db.selectFrom('events').selectAll().orderBy('id').limit(limit)
      if (after !== undefined) query = query.where('id', '>', after)
      return (await query.execute()).map(toEvent)
    },

    async pending(limit: number, executor: Executor = db): Promise<StoredEvent[]> {
      const rows = await executor
        .selectFrom('events')
        .selectAll()
        .where('publishedAt', 'is', null)
        .orderBy('id')
        .limit(limit)
        .execute()
      return rows.map(toEvent)
    },

    async markPublished(ids: string[], executor: Executor = db): Promise<void> {
      await executor
        .updateTable('events')
        .set({ publishedAt: new Date().toISOString() })
        .where('id', 'in', ids)
        .execute()
    },

    async countFailure(ids: string[], executor: Executor = db): Promise<void> {
      await executor
        .updateTable('events')
        .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
        .where('id', 'in', ids)
        .execute()
    },

    /** Removes delivered events published before `cutoff`; pending ones are never pruned. */
    async prune(cutoff: string): Promise<number> {
      const result = await db
        .deleteFrom('events')
        .where('publishedAt', 'is not', null)
        .where('publishedAt', '<', cutoff)
        .executeTakeFirst()
      return Number(result.numDeletedRows)
    },

    /**
     * Without a broker nothing is ever delivered: events older than the retention (id below `beforeId`,
     * delivered or not) go, up to `limit` of the oldest per call.
     */
    deleteBefore(beforeId: string, limit: number): Promise<number> {
      return deleteOldestBefore(db, 'events', beforeId, limit)
    },

    /** How many wait, and since when: one pass over the pending end of the index. */
    async backlog(): Promise<{ pending: number; oldest: string | null }> {
      const row = await db
        .selectFrom('events')
        .where('publishedAt', 'is', null)
        .select((eb) => [eb.fn.countAll<number>().as('pending'), eb.fn.min('occurredAt').as('oldest')])
        .executeTakeFirstOrThrow()
      return { pending: Number(row.pending), oldest: row.oldest === null ? null : toIso(row.oldest) }
    },
  }
}

export type OutboxStore = ReturnType<typeof createOutboxStore>
