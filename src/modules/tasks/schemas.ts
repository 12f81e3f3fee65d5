import { type Static, Type } from 'typebox'
import { named, PageOf, PageQuery, Timestamp, Uuid } from '../../platform/schemas.js'

export const Title = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: '\\S',
  description: 'Title, 1–200 characters, not only whitespace',
})
export const Description = Type.Union([Type.String({ maxLength: 5000 }), Type.Null()], {
  description: 'Free text, at most 5000 characters; null for none',
})
export const Priority = Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')], {
  description: 'Priority: low, medium or high',
})
export const Status = Type.Union(
  [Type.Literal('pending'), Type.Literal('in_progress'), Type.Literal('completed')],
  { description: 'Status: pending, in_progress or completed' },
)
export const DueDate = Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
  description: 'When the task is due: an ISO-8601 date-time with a time zone, or null for no due date',
})

export const Task = named(
  'Task',
  Type.Object(
    {
      id: Uuid,
      title: Title,
      description: Description,
      priority: Priority,
      status: Status,
      dueDate: Type.Union([Timestamp, Type.Null()], { description: 'When the task is due (UTC), or null' }),
      ownerId: Type.String({ format: 'uuid', description: 'The user who owns the task' }),
      createdAt: Timestamp,
      updatedAt: Timestamp,
    },
    { description: 'A task' },
  ),
  {
    id: '0192d4e2-8f44-7a02-b9d3-1e2f3a4b5c6d',
    title: 'Write the quarterly report',
    description: 'Figures from the finance sheet',
    priority: 'high',
    status: 'in_progress',
    dueDate: '2026-02-01T17:00:00.000Z',
    ownerId: '0192d4e2-7c3a-7b1e-9f00-3c5a1b2d4e6f',
    createdAt: '2026-01-15T09:50:00.000Z',
    updatedAt: '2026-01-20T08:05:00.000Z',
  },
)

export type Task = Static<typeof Task>

/** POST and PUT: PUT replaces every writable field, so what it omits takes the same defaults as on create. */
export const TaskCreate = named(
  'TaskInput',
  Type.Object(
    {
      title: Title,
      description: Type.Optional(Description),
      priority: Type.Optional(Type.Union(Priority.anyOf, { description: 'Priority; medium when omitted' })),
      status: Type.Optional(Type.Union(Status.anyOf, { description: 'Status; pending when omitted' })),
      dueDate: Type.Optional(DueDate),
    },
    { additionalProperties: false, description: 'A task’s writable fields' },
  ),
  { title: 'Write the quarterly report', priority: 'high', dueDate: '2026-02-01T17:00:00Z' },
)
export type TaskCreate = Static<typeof TaskCreate>

export const TaskUpdate = named(
  'TaskPatch',
  Type.Object(
    {
      title: Type.Optional(Title),
      description: Type.Optional(Description),
      priority: Type.Optional(Priority),
      status: Type.Optional(Status),
      dueDate: Type.Optional(DueDate),
    },
    { additionalProperties: false, minProperties: 1, description: 'Fields to change; null clears a field' },
  ),
  { status: 'completed', dueDate: null },
)
export type TaskUpdate = Static<typeof TaskUpdate>

const OwnerFilter = Type.String({
  format: 'uuid',
  description: 'Admin only: one owner’s tasks (anyone else may pass only their own id)',
})

export const TasksListQuery = Type.Object(
  {
    ...PageQuery.properties,
    priority: Type.Optional(Priority),
    status: Type.Optional(Status),
    search: Type.Optional(
      Type.String({
        maxLength: 200,
        description: 'Case-insensitive text to find in the title or description, taken literally',
      }),
    ),
    sortBy: Type.Union([Type.Literal('createdAt'), Type.Literal('dueDate'), Type.Literal('priority')], {
      default: 'createdAt',
      description: 'Sort key; priority sorts low < medium < high; tasks without a due date come last',
    }),
    sortOrder: Type.Union([Type.Literal('asc'), Type.Literal('desc')], {
      default: 'desc',
      description: 'Sort direction',
    }),
    ownerId: Type.Optional(OwnerFilter),
  },
  { additionalProperties: false },
)
export type TasksListQuery = Static<typeof TasksListQuery>

export const TasksPage = PageOf(Task, 'Tasks', 'in the requested order', Task.examples[0])
export type TasksPage = Static<typeof TasksPage>

export const TaskStatisticsQuery = Type.Object(
  { ownerId: Type.Optional(OwnerFilter) },
  { additionalProperties: false },
)

const count = (description: string) => Type.Integer({ minimum: 0, description })

export const TaskStatistics = named(
  'TaskStatistics',
  Type.Object(
    {
      total: count('Number of tasks'),
      byStatus: Type.Object(
        {
          pending: count('Tasks pending'),
          in_progress: count('Tasks in progress'),
          completed: count('Tasks completed'),
        },
        { description: 'Tasks per status' },
      ),
      byPriority: Type.Object(
        {
          low: count('Low-priority tasks'),
          medium: count('Medium-priority tasks'),
          high: count('High-priority tasks'),
        },
        { description: 'Tasks per priority' },
      ),
      overdue: count('Tasks not completed whose due date has passed'),
    },
    { description: 'Counts of tasks' },
  ),
  {
    total: 7,
    byStatus: { pending: 3, in_progress: 2, completed: 2 },
    byPriority: { low: 1, medium: 4, high: 2 },
    overdue: 1,
  },
)
export type TaskStatistics = Static<typeof TaskStatistics>
