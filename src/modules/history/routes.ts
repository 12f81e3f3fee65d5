import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { currentUser, requireAuthentication } from '../../platform/auth.js'
import { problemResponses, ref } from '../../platform/schemas.js'
import { HistoryPage, HistoryQuery } from './schemas.js'
import type { HistoryService } from './service.js'

export const historyRoutes: FastifyPluginAsyncTypebox<{ history: HistoryService }> = async (
  app,
  { history },
) => {
  requireAuthentication(app)
  app.get(
    '/history',
    {
      schema: {
        operationId: 'history-list',
        description:
          'Your recorded math calls, newest first, with cursor pagination (nextCursor). Admins see everyone’s and may filter by userId; long operands are stored as a digest.',
        summary: 'Your math calls, newest first (admin: everyone’s, filterable by userId)',
        tags: ['history'],
        querystring: HistoryQuery,
        response: { 200: ref(HistoryPage), ...problemResponses(400, 401, 403, 429) },
      },
    },
    async (request) => history.list(currentUser(request), request.query),
  )
}
