import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problemResponses } from '../../platform/schemas.js'
import { jsonNumberText, keepJsonNumberText } from '../../platform/validation.js'
import { type Operand, parseOperandNumber, parseOperandText } from './operands.js'
import { MathResult, NBody, NParams, PowerBody, PowerQuery } from './schemas.js'
import type { MathService } from './service.js'

/** Three operands of at most ~10,000 characters each fit with room to spare. */
export const MATH_BODY_LIMIT_BYTES = 65_536

/** An operand from a JSON body: a number (read from its source text) or a decimal string. */
function fromBody(body: Record<string, number | string | undefined>, name: string): Operand {
  const value = body[name]
  const source = { name, path: `/body/${name}` }
  return typeof value === 'number'
    ? parseOperandNumber(value, jsonNumberText(body, name), source)
    : parseOperandText(value as string, source)
}

const fromText = (text: string, name: string, part: 'querystring' | 'params') =>
  parseOperandText(text, { name, path: `/${part}/${name}` })

export const mathRoutes: FastifyPluginAsyncTypebox<{ math: MathService }> = async (app, { math }) => {
  // Numbers in these bodies are read from their source text, so none is rounded before it is judged.
  keepJsonNumberText(app)
  const common = {
    tags: ['math'],
    security: [{ bearerAuth: [] }],
    response: { 200: MathResult, ...problemResponses(400, 401, 413, 422, 429, 503) },
  }
  const onRequest = app.authenticate
  const bodyLimit = MATH_BODY_LIMIT_BYTES

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
    (request) => math.fibonacci(request.user!, fromText(request.params.n, 'n', 'params')),
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
      bodyLimit,
    },
    (request) => math.fibonacci(request.user!, fromBody(request.body, 'n')),
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
    (request) => math.factorial(request.user!, fromText(request.params.n, 'n', 'params')),
  )
  app.post(
    '/math/factorial',
    {
      schema: { ...common, operationId: 'math-factorial', summary: 'Factorial n!, exact', body: NBody },
      onRequest,
      bodyLimit,
    },
    (request) => math.factorial(request.user!, fromBody(request.body, 'n')),
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
    (request) => {
      const { base, exponent, modulus } = request.query
      return math.power(request.user!, {
        base: fromText(base, 'base', 'querystring'),
        exponent: fromText(exponent, 'exponent', 'querystring'),
        modulus: modulus === undefined ? undefined : fromText(modulus, 'modulus', 'querystring'),
      })
    },
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
      bodyLimit,
    },
    (request) => {
      const { body } = request
      return math.power(request.user!, {
        base: fromBody(body, 'base'),
        exponent: fromBody(body, 'exponent'),
        modulus: body.modulus === undefined ? undefined : fromBody(body, 'modulus'),
      })
    },
  )
}
