import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { currentUser, requireAuthentication } from '../../platform/auth.js'
import { type Idempotency, IdempotencyKeyHeaders } from '../../platform/idempotency.js'
import { IdParams, problemResponses, ref } from '../../platform/schemas.js'
import {
  Task,
  TaskCreate,
  TaskStatistics,
  TaskStatisticsQuery,
  TasksListQuery,
  TasksPage,
  TaskUpdate,
} from './schemas.js'
import type { TasksService } from './service.js'

export interface TasksRoutesOptions {
  tasks: TasksService
  idempotency: Idempotency
}

export const tasksRoutes: FastifyPluginAsyncTypebox<TasksRoutesOptions> = async (
  app,
  { tasks, idempotency },
) => {
  requireAuthentication(app)
  const tags = ['tasks']

  app.get(
    '/tasks',
    {
      schema: {
        operationId: 'tasks-list',
        description:
          'Your tasks, filtered by status, priority and text, sorted by createdAt, dueDate or priority, page by page. Admins see everyone’s, or one owner’s with ownerId.',
        summary: 'List your tasks, filtered, searched and sorted (admin: everyone’s, or one owner’s)',
        tags,
        querystring: TasksListQuery,
        response: { 200: ref(TasksPage), ...problemResponses(400, 401, 403, 429) },
      },
    },
    async (request) => tasks.list(currentUser(request), request.query),
  )

  app.post(
    '/tasks',
    {
      schema: {
        operationId: 'tasks-create',
        description:
          'Creates a task owned by the caller; priority defaults to medium and status to pending. Accepts an Idempotency-Key header.',
        summary: 'Create a task owned by you',
        tags,
        headers: IdempotencyKeyHeaders,
        body: ref(TaskCreate),
        response: { 201: ref(Task), ...problemResponses(400, 401, 409, 422, 429, 503) },
      },
    },
    async (request, reply) =>
      idempotency.respond(request, reply, { status: 201 }, () =>
        tasks.create(currentUser(request), request.body),
      ),
  )

  // Declared before /tasks/:id so the literal path is never read as an id.
  app.get(
    '/tasks/statistics',
    {
      schema: {
        operationId: 'tasks-statistics',
        description:
          'Counts of your tasks by status and by priority, and how many are overdue (not completed, due date passed). Admins count everyone’s, or one owner’s with ownerId.',
        summary:
          'Count your tasks by status and priority, and how many are overdue (admin: all, or one owner’s)',
        tags,
        querystring: TaskStatisticsQuery,
        response: { 200: ref(TaskStatistics), ...problemResponses(400, 401, 403, 429) },
      },
    },
    async (request) => tasks.statistics(currentUser(request), request.query.ownerId),
  )

  app.get(
    '/tasks/:id',
    {
      schema: {
        operationId: 'tasks-get',
        description: 'One task by id, for its owner or an admin; anyone else gets 404.',
        summary: 'Get a task (owner or admin)',
        tags,
        params: IdParams,
        response: { 200: ref(Task), ...problemResponses(400, 401, 404, 429) },
      },
    },
    async (request) => tasks.get(currentUser(request), request.params.id),
  )

  app.put(
    '/tasks/:id',
    {
      schema: {
        operationId: 'tasks-replace',
        description:
          'Replaces the task’s writable fields: omitted optional ones return to their defaults (description and dueDate null, priority medium, status pending).',
        summary: 'Replace a task’s writable fields; omitted optional ones return to their defaults',
        tags,
        params: IdParams,
        body: ref(TaskCreate),
        response: { 200: ref(Task), ...problemResponses(400, 401, 404, 429) },
      },
    },
    async (request) => tasks.replace(currentUser(request), request.params.id, request.body),
  )

  app.patch(
    '/tasks/:id',
    {
      schema: {
        operationId: 'tasks-update',
        description: 'Changes the given fields and keeps the others; null clears description or dueDate.',
        summary: 'Change some of a task’s fields (owner or admin)',
        tags,
        params: IdParams,
        body: ref(TaskUpdate),
        response: { 200: ref(Task), ...problemResponses(400, 401, 404, 429) },
      },
    },
    async (request) => tasks.update(currentUser(request), request.params.id, request.body),
  )

  app.delete(
    '/tasks/:id',
    {
      schema: {
        operationId: 'tasks-delete',
        description: 'Deletes a task, for its owner or an admin.',
        summary: 'Delete a task (owner or admin)',
        tags,
        params: IdParams,
        response: {
          204: { type: 'null', description: 'Deleted' },
          ...problemResponses(400, 401, 404, 429),
        },
      },
    },
    async (request, reply) => {
      await tasks.delete(currentUser(request), request.params.id)
      return reply.code(204).send(null)
    },
  )
}
