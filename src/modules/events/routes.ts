import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { requireAuthentication } from '../../platform/auth.js'
import type { OutboxStore } from '../../platform/events/outbox.js'
import { problemResponses, ref } from '../../platform/schemas.js'
import { EventsPage, EventsQuery } from './schemas.js'

export interface EventsRoutesOptions {
  outbox: OutboxStore
}

export const eventsRoutes: FastifyPluginAsyncTypebox<EventsRoutesOptions> = async (app, { outbox }) => {
  requireAuthentication(app)
  app.get(
    '/events',
    {
      schema: {
        operationId: 'events-list',
        description:
          'The transactional outbox: every change the service made, oldest first, keyset-paginated by event id (pass nextAfter as after). Admins only.',
        summary: 'Read the event log (admin), oldest first, keyset-paginated by event id',
        tags: ['events'],
        querystring: EventsQuery,
        response: { 200: ref(EventsPage), ...problemResponses(400, 401, 403, 429) },
      },
      onRequest: app.requireRole('admin'),
    },
    async (request) => {
      const { after, limit } = request.query
      const items = await outbox.list(after, limit)
      return { items, nextAfter: items.length === limit ? items[items.length - 1]!.id : null }
    },
  )
}
