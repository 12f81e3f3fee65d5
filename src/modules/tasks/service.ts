import type { Kysely } from 'kysely'
import type { AuthUser } from '../../platform/auth.js'
import type { Database, TaskPriority, TaskStatus } from '../../platform/db-schema.js'
import { badRequest, forbidden, notFound } from '../../platform/errors.js'
import { appendEvent, type EventType } from '../../platform/events/outbox.js'
import { uuidv7 } from '../../platform/ids.js'
import type { Transact, WriteOptions } from '../../platform/transactions.js'
import type { SortOrder, Task, TaskSortKey, TasksRepository } from './repository.js'

export interface TaskInput {
  title: string
  description?: string | null
  priority?: TaskPriority
  status?: TaskStatus
  dueDate?: string | null
}

export type TaskChanges = Partial<TaskInput>

export interface TaskListQuery {
  page: number
  pageSize: number
  priority?: TaskPriority
  status?: TaskStatus
  search?: string
  sortBy: TaskSortKey
  sortOrder: SortOrder
  ownerId?: string
}

export interface TaskStatistics {
  total: number
  byStatus: Record<TaskStatus, number>
  byPriority: Record<TaskPriority, number>
  overdue: number
}

const DEFAULTS = { description: null, priority: 'medium', status: 'pending', dueDate: null } as const

/**
 * Stored as `Date#toISOString()` text, which compares correctly as a string on SQLite. The schema's
 * date-time format still lets through values with no such instant (a leap second) or, after shifting to
 * UTC, outside years 1–9999, where that text no longer sorts and PostgreSQL rejects year 0.
 */
function normaliseDueDate(value: string | null): string | null {
  if (value === null) return null
  const time = Date.parse(value)
  const iso = Number.isNaN(time) ? '' : new Date(time).toISOString()
  if (!/^(?!0000)\d{4}-/.test(iso)) {
    throw badRequest('dueDate is not a representable date-time', [
      { path: '/body/dueDate', message: 'must be a real instant between the years 1 and 9999' },
    ])
  }
  return iso
}

export interface TasksServiceDeps {
  transact: Transact
  tasks: TasksRepository
}

export function createTasksService({ transact, tasks }: TasksServiceDeps) {
  /**
   * The write and its event in one transaction, which also confirms the caller still exists (so a task is
   * never created for an account deleted meanwhile); no task (missing or someone else's) means no event.
   */
  function withEvent<T extends Task | boolean | undefined>(
    type: EventType,
    data: { taskId: string } & Record<string, unknown>,
    write: (trx: Kysely<Database>) => Promise<T>,
    options: WriteOptions<T> = {},
  ): Promise<T> {
    return transact(async (trx) => {
      const result = await write(trx)
      if (result) await appendEvent(trx, { type, data })
      return result
    }, options)
  }

  /** The owner whose tasks a single-task operation may touch; undefined lets an admin reach any task. */
  const scopeOf = (actor: AuthUser) => (actor.role === 'admin' ? undefined : actor.id)

  /** Whose tasks a listing covers: an admin's choice (all when absent), otherwise always the caller's own. */
  function ownerFilter(actor: AuthUser, requested: string | undefined): string | undefined {
    if (actor.role === 'admin') return requested
    if (requested !== undefined && requested !== actor.id) {
      throw forbidden('Only an admin may read another user’s tasks')
    }
    return actor.id
  }

  // Someone else's task answers exactly like a missing one, so ids cannot be probed for existence.
  const noSuchTask = () => notFound('No such task')

  /** Every writable field, with the defaults standing in for what `input` omits (create and replace). */
  function writableFields(input: TaskInput) {
    return {
      title: input.title,
      description: input.description ?? DEFAULTS.description,
      priority: input.priority ?? DEFAULTS.priority,
      status: input.status ?? DEFAULTS.status,
      dueDate: normaliseDueDate(input.dueDate ?? DEFAULTS.dueDate),
    }
  }

  return {
    async list(actor: AuthUser, query: TaskListQuery): Promise<{ items: Task[]; total: number }> {
      const ownerId = ownerFilter(actor, query.ownerId)
      return tasks.list(
        {
          ...(ownerId !== undefined ? { ownerId } : {}),
          ...(query.priority ? { priority: query.priority } : {}),
          ...(query.status ? { status: query.status } : {}),
          ...(query.search ? { search: query.search } : {}),
        },
        { by: query.sortBy, order: query.sortOrder },
        (query.page - 1) * query.pageSize,
        query.pageSize,
      )
    },

    /** The caller owns what they create, admin or not. */
    async create(actor: AuthUser, input: TaskInput): Promise<Task> {
      const now = new Date().toISOString()
      const row = {
        id: uuidv7(),
        ownerId: actor.id,
        ...writableFields(input),
        createdAt: now,
        updatedAt: now,
      }
      return withEvent(
        'task.created',
        { taskId: row.id, ownerId: actor.id },
        (trx) => tasks.insert(row, trx),
        {
          receipt: (task) => task,
        },
      )
    },

    async get(actor: AuthUser, id: string): Promise<Task> {
      const task = await tasks.findById(id, scopeOf(actor))
      if (!task) throw noSuchTask()
      return task
    },

    /** PUT: every writable field is set; omitted optional ones go back to their defaults. */
    async replace(actor: AuthUser, id: string, input: TaskInput): Promise<Task> {
      const updatedAt = new Date().toISOString()
      const fields = ['title', 'description', 'priority', 'status', 'dueDate']
      const task = await withEvent('task.updated', { taskId: id, fields }, (trx) =>
        tasks.update(id, { ...writableFields(input), updatedAt }, scopeOf(actor), trx),
      )
      if (!task) throw noSuchTask()
      return task
    },

    /** PATCH: only the fields present change; null clears description or dueDate. */
    async update(actor: AuthUser, id: string, changes: TaskChanges): Promise<Task> {
      const patch = {
        ...(changes.title !== undefined ? { title: changes.title } : {}),
        ...(changes.description !== undefined ? { description: changes.description } : {}),
        ...(changes.priority !== undefined ? { priority: changes.priority } : {}),
        ...(changes.status !== undefined ? { status: changes.status } : {}),
        ...(changes.dueDate !== undefined ? { dueDate: normaliseDueDate(changes.dueDate) } : {}),
        updatedAt: new Date().toISOString(),
      }
      const fields = Object.keys(changes).filter(
        (field) => (changes as Record<string, unknown>)[field] !== undefined,
      )
      const task = await withEvent('task.updated', { taskId: id, fields }, (trx) =>
        tasks.update(id, patch, scopeOf(actor), trx),
      )
      if (!task) throw noSuchTask()
      return task
    },

    async delete(actor: AuthUser, id: string): Promise<void> {
      const deleted = await withEvent('task.deleted', { taskId: id }, (trx) =>
        tasks.delete(id, scopeOf(actor), trx),
      )
      if (!deleted) throw noSuchTask()
    },

    /** Overdue: due before now and not completed. */
    async statistics(actor: AuthUser, ownerId?: string): Promise<TaskStatistics> {
      const counts = await tasks.counts(ownerFilter(actor, ownerId), new Date().toISOString())
      return {
        total: counts.total,
        byStatus: { pending: counts.pending, in_progress: counts.inProgress, completed: counts.completed },
        byPriority: { low: counts.low, medium: counts.medium, high: counts.high },
        overdue: counts.overdue,
      }
    },
  }
}

export type TasksService = ReturnType<typeof createTasksService>
