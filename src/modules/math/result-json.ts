import type { FastifySerializerCompiler } from 'fastify'
import { MathResult } from './schemas.js'

/** Fields in the schema's order, which is the order fast-json-stringify wrote them in. */
const FIELDS = Object.keys(MathResult.properties) as (keyof MathResult)[]

/** What the engine produces for `result`: an integer, or a double's shortest round-trip spelling. */
const DECIMAL = /^-?\d+(?:\.\d+)?(?:e[+-]\d+)?$/

/** Past this length a result is not scanned: it is always an engine integer (doubles are short). */
const SCAN_MAX = 64

/** From this many digits the body is assembled as bytes (bench/serialise.ts: equal cost at 100,000). */
const BUFFER_MIN = 16_384

/**
 * A math result as JSON without anything walking the digits to escape them: fast-json-stringify and
 * JSON.stringify scan every character, and Node then writes a multi-megabyte string to the socket
 * through a slow encoding path (bench/serialise.ts: 350–600 ms of event loop for 5–8 million digits).
 * A decimal needs no escaping, so the digits are placed between the quotes as they are: for a long
 * result, straight into the response's one buffer (a single copy, 3–30 ms at that size); for a short
 * one, into a string. Every other field is small and goes through JSON.stringify. Long results are
 * integers from the engine (or from the cache it filled); a short one is checked, so a double or
 * anything unexpected is escaped the ordinary way.
 */
export function mathResultJson(body: MathResult): string | Buffer {
  const result = body.result
  const long = typeof result === 'string' && result.length >= BUFFER_MIN
  let json = '{'
  let digitsAt = -1
  for (const field of FIELDS) {
    const value = body[field]
    if (value === undefined) continue
    if (json.length > 1) json += ','
    json += `"${field}":`
    if (field === 'result' && long) {
      json += '"'
      digitsAt = json.length
      json += '"'
    } else if (
      field === 'result' &&
      typeof value === 'string' &&
      (value.length > SCAN_MAX || DECIMAL.test(value))
    ) {
      json += `"${value}"`
    } else {
      json += JSON.stringify(value)
    }
  }
  json += '}'
  if (digitsAt < 0) return json
  // The digits are ASCII, one byte each; the text around them is written as UTF-8 (an input may not be).
  const head = json.slice(0, digitsAt)
  const tail = json.slice(digitsAt)
  const headBytes = Buffer.byteLength(head)
  const bytes = Buffer.allocUnsafe(headBytes + result.length + Buffer.byteLength(tail))
  bytes.write(head, 0, 'utf8')
  bytes.write(result, headBytes, 'latin1')
  bytes.write(tail, headBytes + result.length, 'utf8')
  return bytes
}

/**
 * The math routes' serializers: mathResultJson for 200; other statuses (problem documents, built by the
 * error handler with exactly the Problem schema's fields, in its order) as JSON.stringify writes them.
 */
export const mathSerializerCompiler: FastifySerializerCompiler<unknown> = ({ httpStatus }) =>
  httpStatus === '200'
    ? (mathResultJson as (data: unknown) => string)
    : (data: unknown) => JSON.stringify(data)
