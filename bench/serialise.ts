/**
 * What sending a huge math result costs the event loop: the synchronous part of reply.send() (serialise,
 * measure, write) for Fastify's default serializer compiled from the MathResult schema (fast-json-stringify,
 * what the service used), the service's mathResultJson, and two alternatives (JSON around the digits as
 * Buffers; plain JSON.stringify). Real HTTP over loopback, the body read and discarded by a client.
 * Run: npx tsx bench/serialise.ts   (about 1 minute)
 */
import Fastify from 'fastify'
import { mathResultJson, mathSerializerCompiler } from '../src/modules/math/result-json.js'
import { MathResult } from '../src/modules/math/schemas.js'
import { machineLine } from './load.js'

const SIZES = [209, 100_000, 1_000_000, 5_565_709, 8_450_981]
const REPEAT = 15

/** A flat one-byte string of `digits` decimal digits, as the engine hands them over. */
function digitsOf(digits: number): string {
  let text = ''
  while (text.length < digits) text += String(Math.random()).slice(2, 12)
  return Buffer.from(text.slice(0, digits), 'latin1').toString('latin1')
}

const bodies = new Map(
  SIZES.map((size) => [
    size,
    {
      operation: 'fibonacci' as const,
      input: { n: 1000 },
      result: digitsOf(size),
      exact: true,
      digits: size,
      cached: true,
      computeMs: 1234.5,
    },
  ]),
)

const blocked = new Map<string, number[]>()
const record = (variant: string, size: number, ms: number) => {
  const key = `${variant}|${size}`
  blocked.set(key, [...(blocked.get(key) ?? []), ms])
}

const app = Fastify({ logger: false })
const timedSend =
  (variant: string) => (request: { params: unknown }, reply: { send(payload: unknown): unknown }) => {
    const size = Number((request.params as { size: string }).size)
    const body = bodies.get(size)!
    const t0 = performance.now()
    const payload =
      variant === 'buffers'
        ? (() => {
            const head = JSON.stringify({ ...body, result: '' })
            const at = head.indexOf('"result":"') + 10
            return Buffer.concat([
              Buffer.from(head.slice(0, at)),
              Buffer.from(body.result, 'latin1'),
              Buffer.from(head.slice(at)),
            ])
          })()
        : variant === 'JSON.stringify'
          ? JSON.stringify(body)
          : body
    reply.send(payload)
    record(variant, size, performance.now() - t0)
  }
const schema = { response: { 200: MathResult } }
app.get('/fast-json-stringify/:size', { schema }, timedSend('fast-json-stringify (before)') as never)
app.register(async (scope) => {
  scope.setSerializerCompiler(mathSerializerCompiler)
  scope.get('/ours/:size', { schema }, timedSend('mathResultJson (now)') as never)
})
app.get('/buffers/:size', timedSend('buffers') as never)
app.get('/stringify/:size', timedSend('JSON.stringify') as never)
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`

// The response bodies agree byte for byte.
for (const size of SIZES.slice(0, 2)) {
  const texts = await Promise.all(
    ['fast-json-stringify', 'ours', 'buffers', 'stringify'].map(async (path) =>
      (await fetch(`${base}/${path}/${size}`)).text(),
    ),
  )
  if (new Set(texts).size !== 1)
    throw new Error(`bodies differ at ${size} digits: ${texts.map((t) => t.slice(0, 120)).join('\n')}`)
  if (texts[0] !== String(mathResultJson(bodies.get(size)!))) throw new Error('mathResultJson differs')
}
blocked.clear()

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
for (let round = 0; round < REPEAT; round++) {
  for (const size of SIZES) {
    for (const path of ['fast-json-stringify', 'ours', 'buffers', 'stringify']) {
      await (await fetch(`${base}/${path}/${size}`)).arrayBuffer()
    }
  }
}
await app.close()

const scan = new Map(
  SIZES.map((size) => {
    const result = bodies.get(size)!.result
    const t0 = performance.now()
    for (let i = 0; i < 5; i++) /^\d+$/.test(result)
    return [size, (performance.now() - t0) / 5]
  }),
)

console.log(
  `\n${machineLine()}; event loop blocked by reply.send() of one math result, median of ${REPEAT}, ms\n`,
)
const variants = ['fast-json-stringify (before)', 'mathResultJson (now)', 'buffers', 'JSON.stringify']
console.log(`| digits | ${variants.join(' | ')} | a /^\\d+$/ scan alone |`)
console.log(`|---:|${variants.map(() => '---:').join('|')}|---:|`)
for (const size of SIZES) {
  const cells = variants.map((variant) => median(blocked.get(`${variant}|${size}`)!).toFixed(3))
  console.log(`| ${size.toLocaleString('en')} | ${cells.join(' | ')} | ${scan.get(size)!.toFixed(3)} |`)
}
