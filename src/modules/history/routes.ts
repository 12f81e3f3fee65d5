import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '../../platform/schemas.js'
import { HistoryPage, HistoryQuery } from './schemas.js'
import type { HistoryService } from './service.js'

export const historyRoutes: FastifyPluginAsyncTypebox<{ history: HistoryService }> = async (
  app,
  { history },
) => {
  app.get(
    '/history',
    {
      schema: {
        operationId: 'history-list',
        summary: 'Your math calls, newest first (admin: everyone’s, filterable by userId)',
        tags: ['history'],
        security: [{ bearerAuth: [] }],
        querystring: HistoryQuery,
        response: { 200: HistoryPage, ...problemResponses(400, 401, 403, 429) },
      },
      onRequest: app.authenticate,
    },
    async (request) => history.list(request.user!, request.query),
  )
}
