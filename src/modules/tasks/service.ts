import type { AuthUser } from '../../platform/auth.js'
import { badRequest, notFound } from '../../platform/errors.js'
import { uuidv7 } from '../../platform/ids.js'
import { listingScope, ownerScope } from '../../platform/ownership.js'
import { type Page, paginate } from '../../platform/pages.js'
import type { Actor, Writes } from '../../platform/transactions.js'
import type { TasksRepository } from './repository.js'
import type { Task, TaskCreate, TaskStatistics, TasksListQuery, TaskUpdate } from './schemas.js'

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
  writes: Writes
  tasks: TasksRepository
}

export function createTasksService({ writes, tasks }: TasksServiceDeps) {
  // Someone else's task answers exactly like a missing one, so ids cannot be probed for existence.
  const noSuchTask = () => notFound('No such task')

  /** Every writable field, with the defaults standing in for what `input` omits (create and replace). */
  function writableFields(input: TaskCreate) {
    return {
      title: input.title,
      description: input.description ?? DEFAULTS.description,
      priority: input.priority ?? DEFAULTS.priority,
      status: input.status ?? DEFAULTS.status,
      dueDate: normaliseDueDate(input.dueDate ?? DEFAULTS.dueDate),
    }
  }

  return {
    async list(actor: AuthUser, query: TasksListQuery): Promise<Page<Task>> {
      const ownerId = listingScope(actor, query.ownerId, 'tasks')
      const filter = {
        ...(ownerId !== undefined ? { ownerId } : {}),
        ...(query.priority ? { priority: query.priority } : {}),
        ...(query.status ? { status: query.status } : {}),
        ...(query.search ? { search: query.search } : {}),
      }
      return paginate(query, (window) =>
        tasks.list(filter, { by: query.sortBy, order: query.sortOrder }, window),
      )
    },

    /** The caller owns what they create, admin or not. */
    async create(actor: Actor, input: TaskCreate): Promise<Task> {
      const now = new Date().toISOString()
      const row = {
        id: uuidv7(),
        ownerId: actor.id,
        ...writableFields(input),
        createdAt: now,
        updatedAt: now,
      }
      return writes.withEvent(
        actor,
        (trx) => tasks.insert(row, trx),
        (task) => ({ type: 'task.created', data: { taskId: task.id, ownerId: task.ownerId } }),
        { receipt: (task) => task },
      )
    },

    async get(actor: AuthUser, id: string): Promise<Task> {
      const task = await tasks.findById(id, ownerScope(actor))
      if (!task) throw noSuchTask()
      return task
    },

    /** PUT: every writable field is set; omitted optional ones go back to their defaults. */
    async replace(actor: Actor, id: string, input: TaskCreate): Promise<Task> {
      const updatedAt = new Date().toISOString()
      const fields = ['title', 'description', 'priority', 'status', 'dueDate']
      const task = await writes.withEvent(
        actor,
        (trx) => tasks.update(id, { ...writableFields(input), updatedAt }, ownerScope(actor), trx),
        () => ({ type: 'task.updated', data: { taskId: id, fields } }),
      )
      if (!task) throw noSuchTask()
      return task
    },

    /** PATCH: only the fields present change; null clears description or dueDate. */
    async update(actor: Actor, id: string, changes: TaskUpdate): Promise<Task> {
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
      const task = await writes.withEvent(
        actor,
        (trx) => tasks.update(id, patch, ownerScope(actor), trx),
        () => ({ type: 'task.updated', data: { taskId: id, fields } }),
      )
      if (!task) throw noSuchTask()
      return task
    },

    async delete(actor: Actor, id: string): Promise<void> {
      const deleted = await writes.withEvent(
        actor,
        (trx) => tasks.delete(id, ownerScope(actor), trx),
        () => ({ type: 'task.deleted', data: { taskId: id } }),
      )
      if (!deleted) throw noSuchTask()
    },

    /** Overdue: due before now and not completed. */
    async statistics(actor: AuthUser, ownerId?: string): Promise<TaskStatistics> {
      const counts = await tasks.counts(listingScope(actor, ownerId, 'tasks'), new Date().toISOString())
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
