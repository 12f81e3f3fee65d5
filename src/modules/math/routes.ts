import { Readable } from 'node:stream'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { currentUser, requireAuthentication } from '../../platform/auth.js'
import { problemResponses, ref } from '../../platform/schemas.js'
import { jsonNumberText, keepJsonNumberText } from '../../platform/validation.js'
import { type Operand, parseOperandNumber, parseOperandText } from './operands.js'
import { mathSerializerCompiler } from './result-json.js'
import { MathResult, NBody, NParams, PowerBody, PowerQuery } from './schemas.js'
import type { MathAnswer, MathService } from './service.js'

/** Three operands of at most ~10,000 characters each fit with room to spare. */
const MATH_BODY_LIMIT_BYTES = 65_536

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

/**
 * Results longer than this leave as a stream of CHUNK_CHARS pieces, one per turn of the event loop:
 * serialising a 2-million-digit result in one piece held the loop for 40–150 ms on the CI machine.
 */
const STREAM_ABOVE_CHARS = 65_536
const CHUNK_CHARS = 65_536

/**
 * The same JSON document the response schema would produce, written piece by piece. Only exact results
 * are this long, and their text is digits and a sign: no character needs escaping, and one character is
 * one byte. A result held as bytes (engine/entry.ts) goes to the socket as it is, without a copy: writing
 * a buffer does not hold the event loop (the kernel takes what fits, libuv the rest as the socket drains).
 */
function send(reply: FastifyReply, answer: MathAnswer): MathResult | FastifyReply {
  const { operation, input, result, exact, digits, cached, computeMs } = answer
  if (typeof result === 'string' && (result.length <= STREAM_ABOVE_CHARS || !exact))
    return { ...answer, result }
  const head = Buffer.from(`${JSON.stringify({ operation, input }).slice(0, -1)},"result":"`)
  const tail = Buffer.from(`",${JSON.stringify({ exact, digits, cached, computeMs }).slice(1)}`)
  async function* pieces() {
    yield head
    if (typeof result !== 'string') yield result
    else
      for (let at = 0; at < result.length; at += CHUNK_CHARS) {
        yield Buffer.from(result.slice(at, at + CHUNK_CHARS), 'latin1')
        await nextTurn()
      }
    yield tail
  }
  return reply
    .type('application/json; charset=utf-8')
    .header('content-length', head.length + result.length + tail.length)
    .send(Readable.from(pieces(), { objectMode: false }))
}

export const mathRoutes: FastifyPluginAsyncTypebox<{ math: MathService }> = async (app, { math }) => {
  requireAuthentication(app)
  // Numbers in these bodies are read from their source text, so none is rounded before it is judged.
  keepJsonNumberText(app)
  // Results of millions of digits must not be walked by a generic serializer (result-json.ts).
  app.setSerializerCompiler(mathSerializerCompiler)
  const common = {
    tags: ['math'],
    response: { 200: ref(MathResult), ...problemResponses(400, 401, 413, 422, 429, 503) },
  }
  const bodyLimit = MATH_BODY_LIMIT_BYTES

  app.get(
    '/math/fibonacci/:n',
    {
      schema: {
        ...common,
        operationId: 'math-fibonacci-get',
        description:
          'F(n) with n in the path, computed exactly whatever its size, within the service limits (422 beyond them). Results are cached and every call is recorded in your history.',
        summary: 'Fibonacci number F(n), exact',
        params: NParams,
      },
    },
    async (request, reply) =>
      send(reply, await math.fibonacci(currentUser(request), fromText(request.params.n, 'n', 'params'))),
  )
  app.post(
    '/math/fibonacci',
    {
      schema: {
        ...common,
        operationId: 'math-fibonacci',
        description:
          'F(n) with n in a JSON body (a number, or a decimal string for integers beyond 2^53 − 1), computed exactly, within the service limits (422 beyond them).',
        summary: 'Fibonacci number F(n), exact',
        body: ref(NBody),
      },
      bodyLimit,
    },
    async (request, reply) =>
      send(reply, await math.fibonacci(currentUser(request), fromBody(request.body, 'n'))),
  )
  app.get(
    '/math/factorial/:n',
    {
      schema: {
        ...common,
        operationId: 'math-factorial-get',
        description:
          'n! with n in the path, computed exactly, within the service limits (422 beyond them). Results are cached and every call is recorded in your history.',
        summary: 'Factorial n!, exact',
        params: NParams,
      },
    },
    async (request, reply) =>
      send(reply, await math.factorial(currentUser(request), fromText(request.params.n, 'n', 'params'))),
  )
  app.post(
    '/math/factorial',
    {
      schema: {
        ...common,
        operationId: 'math-factorial',
        description:
          'n! with n in a JSON body (a number or a decimal string), computed exactly, within the service limits (422 beyond them).',
        summary: 'Factorial n!, exact',
        body: ref(NBody),
      },
      bodyLimit,
    },
    async (request, reply) =>
      send(reply, await math.factorial(currentUser(request), fromBody(request.body, 'n'))),
  )
  app.get(
    '/math/power',
    {
      schema: {
        ...common,
        operationId: 'math-power-get',
        description:
          'base^exponent with operands in the query string. Integers give an exact result (optionally reduced mod modulus); any non-integer operand gives an IEEE double. Beyond the service limits: 422.',
        summary: 'base^exponent: exact for integers (optionally mod modulus), IEEE double otherwise',
        querystring: PowerQuery,
      },
    },
    async (request, reply) => {
      const { base, exponent, modulus } = request.query
      const answer = await math.power(currentUser(request), {
        base: fromText(base, 'base', 'querystring'),
        exponent: fromText(exponent, 'exponent', 'querystring'),
        modulus: modulus === undefined ? undefined : fromText(modulus, 'modulus', 'querystring'),
      })
      return send(reply, answer)
    },
  )
  app.post(
    '/math/power',
    {
      schema: {
        ...common,
        operationId: 'math-power',
        description:
          'base^exponent with operands in a JSON body (numbers, or decimal strings for large integers). Integers give an exact result (optionally reduced mod modulus); any non-integer operand gives an IEEE double.',
        summary: 'base^exponent: exact for integers (optionally mod modulus), IEEE double otherwise',
        body: ref(PowerBody),
      },
      bodyLimit,
    },
    async (request, reply) => {
      const { body } = request
      const answer = await math.power(currentUser(request), {
        base: fromBody(body, 'base'),
        exponent: fromBody(body, 'exponent'),
        modulus: body.modulus === undefined ? undefined : fromBody(body, 'modulus'),
      })
      return send(reply, answer)
    },
  )
}
