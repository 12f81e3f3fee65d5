import type {
  Expression,
  ExpressionBuilder,
  Insertable,
  Kysely,
  Selectable,
  SqlBool,
  Updateable,
} from 'kysely'
import { type Database, type Executor, type TasksTable, toIso } from '../../platform/db-schema.js'
import type { OwnerScope } from '../../platform/ownership.js'
import { type Counted, countTotal, type PageWindow, readWindow } from '../../platform/pages.js'
import { containsText } from '../../platform/sql.js'
import type { Task, TasksListQuery } from './schemas.js'

/**
 * The listing's filters, with the owner already resolved by the service (every owner's when absent). The
 * search is plain text to find in the title or description; LIKE wildcards in it match only themselves.
 */
export type TaskFilter = Pick<TasksListQuery, 'priority' | 'status' | 'search' | 'ownerId'>

export interface TaskSort {
  by: TasksListQuery['sortBy']
  order: TasksListQuery['sortOrder']
}

export interface TaskCounts {
  total: number
  pending: number
  inProgress: number
  completed: number
  low: number
  medium: number
  high: number
  overdue: number
}

function toTask(row: Selectable<TasksTable>): Task {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    priority: row.priority,
    status: row.status,
    dueDate: row.dueDate === null ? null : toIso(row.dueDate),
    ownerId: row.ownerId,
    createdAt: toIso(row.createdAt),
    updatedAt: toIso(row.updatedAt),
  }
}

type TasksExpressions = ExpressionBuilder<Database, 'tasks'>

function matching(filter: TaskFilter) {
  return (eb: TasksExpressions) => {
    const conditions: Expression<SqlBool>[] = []
    if (filter.ownerId !== undefined) conditions.push(eb('ownerId', '=', filter.ownerId))
    if (filter.priority !== undefined) conditions.push(eb('priority', '=', filter.priority))
    if (filter.status !== undefined) conditions.push(eb('status', '=', filter.status))
    if (filter.search) {
      conditions.push(
        eb.or([containsText('title', filter.search), containsText('description', filter.search)]),
      )
    }
    return eb.and(conditions)
  }
}

/** Semantic order, not alphabetical (which would put high before low before medium). */
const priorityRank = (eb: TasksExpressions) =>
  eb
    .case('priority')
    .when('low')
    .then(eb.lit(1))
    .when('medium')
    .then(eb.lit(2))
    .when('high')
    .then(eb.lit(3))
    .end()

/** 1 for each row where `condition` holds; the literals keep PostgreSQL from typing the sum as text. */
const countWhere = (eb: TasksExpressions, condition: Expression<SqlBool>) =>
  eb.fn.coalesce(
    eb.fn.sum<number>(eb.case().when(condition).then(eb.lit(1)).else(eb.lit(0)).end()),
    eb.lit(0),
  )

export function createTasksRepository(db: Kysely<Database>) {
  return {
    async insert(task: Insertable<TasksTable>, executor: Executor = db): Promise<Task> {
      return toTask(await executor.insertInto('tasks').values(task).returningAll().executeTakeFirstOrThrow())
    },

    /** The task, if it exists and (when `ownerId` is given) belongs to that owner. */
    async findById(id: string, ownerId: OwnerScope): Promise<Task | undefined> {
      let query = db.selectFrom('tasks').selectAll().where('id', '=', id)
      if (ownerId !== undefined) query = query.where('ownerId', '=', ownerId)
      const row = await query.executeTakeFirst()
      return row && toTask(row)
    },

    async list(filter: TaskFilter, sort: TaskSort, window: PageWindow): Promise<Counted<Task>> {
      const tasks = db.selectFrom('tasks').where(matching(filter))
      let rows = tasks.selectAll()
      if (sort.by === 'priority') rows = rows.orderBy(priorityRank, sort.order)
      else if (sort.by === 'dueDate')
        rows = rows.orderBy('dueDate', (ob) => (sort.order === 'asc' ? ob.asc() : ob.desc()).nullsLast())
      else rows = rows.orderBy('createdAt', sort.order)
      return readWindow(rows.orderBy('id', sort.order), tasks.select(countTotal), window, toTask)
    },

    /** Changes the task when it exists and (when `ownerId` is given) belongs to that owner, in one statement. */
    async update(
      id: string,
      patch: Updateable<TasksTable>,
      ownerId: OwnerScope,
      executor: Executor = db,
    ): Promise<Task | undefined> {
      let query = executor.updateTable('tasks').set(patch).where('id', '=', id)
      if (ownerId !== undefined) query = query.where('ownerId', '=', ownerId)
      const row = await query.returningAll().executeTakeFirst()
      return row && toTask(row)
    },

    async delete(id: string, ownerId: OwnerScope, executor: Executor = db): Promise<boolean> {
      let query = executor.deleteFrom('tasks').where('id', '=', id)
      if (ownerId !== undefined) query = query.where('ownerId', '=', ownerId)
      const result = await query.executeTakeFirst()
      return Number(result.numDeletedRows) > 0
    },

    /** Every count in one pass over the owner's (or all) tasks; `now` is an ISO string, comparable on both databases. */
    async counts(ownerId: OwnerScope, now: string): Promise<TaskCounts> {
      let query = db
        .selectFrom('tasks')
        .select((eb) => [
          eb.fn.countAll<number>().as('total'),
          countWhere(eb, eb('status', '=', 'pending')).as('pending'),
          countWhere(eb, eb('status', '=', 'in_progress')).as('inProgress'),
          countWhere(eb, eb('status', '=', 'completed')).as('completed'),
          countWhere(eb, eb('priority', '=', 'low')).as('low'),
          countWhere(eb, eb('priority', '=', 'medium')).as('medium'),
          countWhere(eb, eb('priority', '=', 'high')).as('high'),
          countWhere(eb, eb.and([eb('dueDate', '<', now), eb('status', '!=', 'completed')])).as('overdue'),
        ])
      if (ownerId !== undefined) query = query.where('ownerId', '=', ownerId)
      const row = await query.executeTakeFirstOrThrow()
      return {
        total: Number(row.total),
        pending: Number(row.pending),
        inProgress: Number(row.inProgress),
        completed: Number(row.completed),
        low: Number(row.low),
        medium: Number(row.medium),
        high: Number(row.high),
        overdue: Number(row.overdue),
      }
    },
  }
}

export type TasksRepository = ReturnType<typeof createTasksRepository>
