import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '../../platform/schemas.js'
import { mathSerializerCompiler } from './result-json.js'
import { MathResult, NBody, NParams, PowerBody, PowerQuery } from './schemas.js'
import type { MathService } from './service.js'

export const mathRoutes: FastifyPluginAsyncTypebox<{ math: MathService }> = async (app, { math }) => {
  // Results of millions of digits must not be walked by a generic serializer (result-json.ts).
  app.setSerializerCompiler(mathSerializerCompiler)
  const common = {
    tags: ['math'],
    security: [{ bearerAuth: [] }],
    response: { 200: MathResult, ...problemResponses(400, 401, 422, 429, 503) },
  }
  const onRequest = app.authenticate

  app.get(
    '/math/fibonacci/:n',
    {
      schema: {
        ...common,
        operationId: 'math-fibonacci-get',
        summary: 'Fibonacci number F(n), exact',
        params: NParams,
      },
      onRequest,
    },
    (request) => math.fibonacci(request.user!, request.params.n),
  )
  app.post(
    '/math/fibonacci',
    {
      schema: {
        ...common,
        operationId: 'math-fibonacci',
        summary: 'Fibonacci number F(n), exact',
        body: NBody,
      },
      onRequest,
    },
    (request) => math.fibonacci(request.user!, request.body.n),
  )
  app.get(
    '/math/factorial/:n',
    {
      schema: {
        ...common,
        operationId: 'math-factorial-get',
        summary: 'Factorial n!, exact',
        params: NParams,
      },
      onRequest,
    },
    (request) => math.factorial(request.user!, request.params.n),
  )
  app.post(
    '/math/factorial',
    {
      schema: { ...common, operationId: 'math-factorial', summary: 'Factorial n!, exact', body: NBody },
      onRequest,
    },
    (request) => math.factorial(request.user!, request.body.n),
  )
  app.get(
    '/math/power',
    {
      schema: {
        ...common,
        operationId: 'math-power-get',
        summary: 'base^exponent: exact for integers (optionally mod modulus), IEEE double otherwise',
        querystring: PowerQuery,
      },
      onRequest,
    },
    (request) => math.power(request.user!, request.query.base, request.query.exponent, request.query.modulus),
  )
  app.post(
    '/math/power',
    {
      schema: {
        ...common,
        operationId: 'math-power',
        summary: 'base^exponent: exact for integers (optionally mod modulus), IEEE double otherwise',
        body: PowerBody,
      },
      onRequest,
    },
    (request) => math.power(request.user!, request.body.base, request.body.exponent, request.body.modulus),
  )
}
