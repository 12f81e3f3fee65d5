import { createHash } from 'node:crypto'
import type { Insertable } from 'kysely'
import type { AuthUser } from '../../platform/auth.js'
import type { EventsTable, MathHistoryTable } from '../../platform/db-schema.js'
import { badRequest, isForeignKeyViolation, unauthorized } from '../../platform/errors.js'
import { eventRow } from '../../platform/events/outbox.js'
import { GroupCommit } from '../../platform/group-commit.js'
import { uuidv7 } from '../../platform/ids.js'
import { listingScope } from '../../platform/ownership.js'
import type { MathOperation } from '../math/operation.js'
import type { MathResult } from '../math/schemas.js'
import type { HistoryRepository } from './repository.js'
import type { HistoryPage, HistoryQuery, OperandDigest, StoredInput } from './schemas.js'

/** One math call, as the math service reports it. */
export interface MathCallRecord {
  /** Whose call it was: the history row's owner and the event's actor. */
  actor: AuthUser
  operation: MathOperation
  input: MathResult['input']
  /**
   * The full decimal result (a big one as bytes, one per character); absent when the call was refused.
   * Only its preview is stored.
   */
  result?: string | Buffer
  digits?: number
  exact?: boolean
  cached: boolean
  computeMs?: number
  status: number
}

const PREVIEW_WHOLE_MAX = 64
const PREVIEW_EDGE = 24

/** The whole result when short, otherwise its first and last digits around an ellipsis. */
function previewOf(result: string | Buffer): string {
  if (typeof result !== 'string') {
    if (result.length <= PREVIEW_WHOLE_MAX) return result.toString('latin1')
    const end = result.length
    return `${result.toString('latin1', 0, PREVIEW_EDGE)}…${result.toString('latin1', end - PREVIEW_EDGE, end)}`
  }
  if (result.length <= PREVIEW_WHOLE_MAX) return result
  return `${result.slice(0, PREVIEW_EDGE)}…${result.slice(-PREVIEW_EDGE)}`
}

/**
 * The input as stored in a history row and its event: an operand longer than PREVIEW_WHOLE_MAX characters
 * (only big integers, which arrive as decimal strings) becomes an OperandDigest, so a row plus its event
 * stays within ~1 KiB whatever the caller sent.
 */
function storedInput(input: MathResult['input']): StoredInput {
  const stored: StoredInput = {}
  for (const [name, value] of Object.entries(input)) {
    stored[name] =
      typeof value === 'string' && value.length > PREVIEW_WHOLE_MAX
        ? ({
            preview: previewOf(value),
            digits: value.length - (value.startsWith('-') ? 1 : 0),
            sha256: createHash('sha256').update(value).digest('hex'),
          } satisfies OperandDigest)
        : value
  }
  return stored
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8')
  if (!UUID.test(id))
    throw badRequest('cursor is not one this service issued', [
      { path: '/querystring/cursor', message: 'invalid cursor' },
    ])
  return id
}

const encodeCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url')

/**
 * Group commit, with up to `writers` batches in flight at once. One writer suits SQLite (one
 * connection, a synchronous driver); on PostgreSQL a single batch in flight caps throughput at one
 * batch per round trip, so several writers share the pool. A record joins a batch still forming if
 * there is one, else starts a batch on an idle writer, else waits for the next batch of a busy one.
 */
function createWriters(
  repository: HistoryRepository,
  writers: number,
  onBatch?: (size: number) => void,
  log?: HistoryServiceOptions['log'],
) {
  type Row = { history: Insertable<MathHistoryTable>; event: Insertable<EventsTable> }
  const pool = Array.from({ length: Math.max(1, writers) }, () => {
    const writer = {
      forming: false,
      inFlight: false,
      // Each call's history row travels with its math.computed event: one batch, one transaction, both tables.
      commit: new GroupCommit<Row>(
        async (rows) => {
          writer.forming = false
          writer.inFlight = true
          try {
            await repository.insertMany(
              rows.map((row) => row.history),
              rows.map((row) => row.event),
            )
          } finally {
            writer.inFlight = false
          }
        },
        500,
        onBatch,
        {
          // A row that fails on its own (its user was deleted meanwhile) is isolated by the group commit:
          // the other callers' rows commit, and only its caller hears about it.
          onRowFailed: (error, row) =>
            log?.warn(
              { err: error, historyId: row.history.id, userId: row.history.userId },
              'history record dropped: it failed on its own (its caller is told)',
            ),
        },
      ),
    }
    return writer
  })
  let next = 0
  return {
    add(row: Row): Promise<void> {
      const writer =
        pool.find((candidate) => candidate.forming) ??
        pool.find((candidate) => !candidate.inFlight) ??
        pool[next++ % pool.length]!
      writer.forming = true
      return writer.commit.add(row)
    },
    flush: () => Promise.all(pool.map((writer) => writer.commit.flush())).then(() => undefined),
  }
}

export interface HistoryServiceOptions {
  /** Batches allowed in flight at once (default 1). */
  writers?: number
  /** Where a record that failed on its own is reported. */
  log?: { warn(obj: object, msg: string): void }
}

export function createHistoryService(
  repository: HistoryRepository,
  onBatch?: (size: number) => void,
  options: HistoryServiceOptions = {},
) {
  const writer = createWriters(repository, options.writers ?? 1, onBatch, options.log)

  return {
    /** Resolves once the record has committed; 401 when the caller's account was deleted meanwhile. */
    record(call: MathCallRecord): Promise<void> {
      const id = uuidv7()
      const input = storedInput(call.input)
      const committed = writer.add({
        history: {
          id,
          userId: call.actor.id,
          operation: call.operation,
          input: JSON.stringify(input),
          resultPreview: call.result === undefined ? null : previewOf(call.result),
          digits: call.digits ?? null,
          exact: call.exact === undefined ? null : call.exact ? 1 : 0,
          cached: call.cached ? 1 : 0,
          computeMs: call.computeMs ?? null,
          status: call.status,
          createdAt: new Date().toISOString(),
        },
        // Built now, not at write time: it must carry this request's id.
        event: eventRow({
          type: 'math.computed',
          actor: call.actor,
          data: {
            historyId: id,
            operation: call.operation,
            input,
            digits: call.digits ?? null,
            cached: call.cached,
            status: call.status,
          },
        }),
      })
      return committed.catch((error: unknown) => {
        if (isForeignKeyViolation(error)) throw unauthorized('This account no longer exists')
        throw error
      })
    },

    /** Own entries; an admin sees everyone's and may narrow to one user. */
    async list(actor: AuthUser, query: HistoryQuery): Promise<HistoryPage> {
      const userId = listingScope(actor, query.userId, 'history')
      // One more than the page: whether it exists decides nextCursor.
      const items = await repository.list(
        {
          ...(userId ? { userId } : {}),
          ...(query.operation ? { operation: query.operation } : {}),
          ...(query.cursor ? { beforeId: decodeCursor(query.cursor) } : {}),
        },
        query.limit + 1,
      )
      const page = items.slice(0, query.limit)
      const last = page.at(-1)
      return { items: page, nextCursor: items.length > query.limit && last ? encodeCursor(last.id) : null }
    },

    /** Writes out everything recorded so far; called on shutdown before the database closes. */
    flush: () => writer.flush(),
  }
}

export type HistoryService = ReturnType<typeof createHistoryService>
