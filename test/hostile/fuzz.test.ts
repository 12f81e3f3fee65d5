import fc from 'fast-check'
import { beforeAll, expect, it } from 'vitest'
import { describeEachBackend, register, type Session, useApp } from '../helpers.js'
import {
  type Hints,
  HOSTILE_STRINGS,
  hostileValue,
  type JsonSchema,
  multipart,
  mutatedObject,
  validValue,
} from './arbitraries.js'
import { contractChecker, inline, type OpenApiDocument, type Operation, operationsOf } from './contract.js'

/*
 * Property: whatever path params, query string and body a client sends to any documented operation,
 * as admin, as a user or anonymously, the answer keeps the contract (see contract.ts). Runs are
 * reproducible: a fixed seed (HOSTILE_SEED overrides it), and fast-check prints seed and counterexample
 * on failure.
 */
const SEED = Number(process.env.HOSTILE_SEED ?? 20_261_123)
const RUNS = Number(process.env.HOSTILE_RUNS ?? 100)
/** Endpoints that hash a password (argon2) on valid input cost ~50 ms per run. */
const SLOW_OPERATIONS = new Set(['auth-register', 'auth-login', 'auth-token', 'users-update'])

type Persona = 'admin' | 'user' | 'anonymous' | 'forged'

const NONE_TOKEN = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
  '{"sub":"00000000-0000-4000-8000-000000000000","role":"admin","exp":9999999999}',
).toString('base64url')}.`

/** Authorization headers a forger would try. */
const FORGED_AUTHORIZATION = [
  'Bearer',
  'Bearer ',
  'Bearer x.y.z',
  `Bearer ${NONE_TOKEN}`,
  'Bearer null',
  "Bearer ' OR 1=1 --",
  `Bearer ${'a'.repeat(8000)}`,
  'Basic cm9vdDpyb290LXBhc3N3b3JkLTEyMw==',
  'bearer',
  'Token abc',
  'Bearer a b c',
]

/** Valid math inputs stay small: legitimate heavy computations are the benchmark's business, not this one's. */
const smallNumberLike = (min: number, max: number) =>
  fc.oneof(
    fc.integer({ min, max }),
    fc.integer({ min, max }).map(String),
    fc.double({ min: -4, max: 4, noNaN: true }).map((value) => value),
  )

describeEachBackend('hostile input: every operation in /openapi.json', (backend) => {
  const runs = backend.name === 'sqlite' ? RUNS : Math.max(10, Math.floor(RUNS / 3))
  const t = useApp(backend, {
    admin: true,
    users: ['fuzz_user'],
    env: {
      // Bounds on legitimate work, so that a valid but large input stays cheap.
      MATH_MAX_FIBONACCI_N: '20000',
      MATH_MAX_FACTORIAL_N: '5000',
      MATH_MAX_RESULT_DIGITS: '50000',
      MAX_UPLOAD_BYTES: '65536',
    },
  })
  let document: OpenApiDocument
  let check: ReturnType<typeof contractChecker>
  const sessions = {} as Record<Exclude<Persona, 'anonymous'>, Session>
  const ids = {
    users: [] as string[],
    victims: [] as string[],
    products: [] as string[],
    tasks: [] as string[],
    files: [] as string[],
  }

  beforeAll(async () => {
    const served: OpenApiDocument = (await t.app.inject({ url: '/openapi.json' })).json()
    // Request bodies are references to named schemas: inlined, so inputs are generated from their shapes.
    document = {
      ...served,
      paths: inline(served.paths, served.components?.schemas ?? {}) as OpenApiDocument['paths'],
    }
    check = contractChecker(document)
    sessions.admin = t.admin
    sessions.user = t.users.fuzz_user
    for (const name of ['victim_a', 'victim_b', 'victim_c'])
      ids.victims.push((await register(t.app, name)).id)
    ids.users.push(sessions.admin.id, sessions.user.id, ...ids.victims)
    for (let i = 0; i < 3; i++) {
      const product = await t.app.inject({
        method: 'POST',
        url: '/api/v1/products',
        headers: sessions.admin.headers,
        payload: { name: `Seed ${i}`, price: 9.99, stock: 3, category: 'seed', sku: `SEED-${i}` },
      })
      ids.products.push(product.json().id)
      for (const persona of ['user', 'admin'] as const) {
        const task = await t.app.inject({
          method: 'POST',
          url: '/api/v1/tasks',
          headers: sessions[persona].headers,
          payload: { title: `seed ${i}` },
        })
        ids.tasks.push(task.json().id)
      }
      const upload = await t.app.inject({
        method: 'POST',
        url: '/api/v1/files',
        headers: {
          ...sessions.user.headers,
          ...multipart('file', `seed-${i}.txt`, Buffer.from(`seed ${i}\n`)).headers,
        },
        payload: multipart('file', `seed-${i}.txt`, Buffer.from(`seed ${i}\n`)).body,
      })
      ids.files.push(upload.json().id)
    }
  })

  /** Known ids, so that valid requests also reach the 2xx paths; users only ever mutate victims. */
  function idPool(operation: Operation): string[] {
    if (operation.path.startsWith('/api/v1/users/'))
      return operation.method === 'GET' ? ids.users : ids.victims
    if (operation.path.startsWith('/api/v1/products/')) return ids.products
    if (operation.path.startsWith('/api/v1/tasks/')) return ids.tasks
    if (operation.path.startsWith('/api/v1/files/')) return ids.files
    return []
  }

  function hintsFor(operation: Operation): Hints {
    const pool = idPool(operation)
    return {
      n: fc.integer({ min: 0, max: 300 }),
      base: smallNumberLike(-30, 30),
      exponent: smallNumberLike(-3, 30),
      modulus: fc.oneof(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10_000 }).map(String)),
      ...(pool.length > 0 ? { id: fc.oneof(fc.uuid(), fc.constantFrom(...pool)) } : {}),
      userId: fc.oneof(fc.uuid(), fc.constantFrom(...ids.users)),
      ownerId: fc.oneof(fc.uuid(), fc.constantFrom(...ids.users)),
    }
  }

  it('documents every route it serves, and the checker is not vacuous', () => {
    expect(operationsOf(document).length).toBeGreaterThanOrEqual(40)
    const [taskGet] = operationsOf(document).filter((operation) => operation.id === 'tasks-get')
    expect(taskGet).toBeDefined()
    const ok = {
      statusCode: 404,
      headers: { 'x-request-id': 'r1', 'content-type': 'application/problem+json' },
    }
    const problem = { type: 'about:blank', title: 'Not Found', status: 404, instance: '/x', requestId: 'r1' }
    expect(check(taskGet, { ...ok, body: JSON.stringify(problem) })).toEqual([])
    expect(
      check(taskGet, { ...ok, statusCode: 500, body: JSON.stringify({ ...problem, status: 500 }) }),
    ).toContain('status 500')
    expect(check(taskGet, { ...ok, body: JSON.stringify({ ...problem, requestId: 'other' }) })).toContain(
      'problem requestId ≠ X-Request-Id',
    )
    expect(
      check(taskGet, {
        ...ok,
        headers: { 'x-request-id': 'r1', 'content-type': 'application/json' },
        body: '{}',
      }),
    ).not.toEqual([])
    expect(
      check(taskGet, {
        statusCode: 200,
        headers: { 'x-request-id': 'r1', 'content-type': 'application/json' },
        body: '{"id":"not-a-uuid"}',
      }).join(),
    ).toMatch(/breaks its schema/)
  })

  it('fuzzes each documented operation', { timeout: 240_000 }, async () => {
    const operations = operationsOf(document)
    const failures: string[] = []
    const statuses = new Map<string, Map<number, number>>()
    for (const operation of operations) {
      const seen = new Map<number, number>()
      statuses.set(`${operation.method} ${operation.path}`, seen)
      const numRuns = SLOW_OPERATIONS.has(operation.id) ? Math.max(5, Math.floor(runs / 3)) : runs
      const details = fc.check(
        fc.asyncProperty(requestFor(operation, hintsFor(operation)), async (request) => {
          const response = await t.app.inject(toInject(request, sessions))
          seen.set(response.statusCode, (seen.get(response.statusCode) ?? 0) + 1)
          const violations = check(operation, response)
          if (violations.length > 0)
            throw new Error(
              `${violations.join('; ')}\n→ ${response.statusCode} ${response.body.slice(0, 500)}`,
            )
        }),
        { seed: SEED, numRuns, endOnFailure: true },
      )
      const result = await details
      if (result.failed)
        failures.push(
          `${operation.method} ${operation.path} (seed ${result.seed}, path ${result.counterexamplePath}):\n` +
            `  input ${JSON.stringify(result.counterexample?.[0])?.slice(0, 600)}\n  ${String(result.errorInstance).slice(0, 800)}`,
        )
    }
    if (process.env.HOSTILE_VERBOSE)
      for (const [name, seen] of statuses) console.log(name, JSON.stringify(Object.fromEntries(seen)))
    expect(failures, failures.join('\n\n')).toEqual([])
    // The valid half of the inputs must get through: most operations answered a 2xx at least once.
    const succeeded = [...statuses.values()].filter((seen) => [...seen.keys()].some((status) => status < 300))
    expect(succeeded.length).toBeGreaterThanOrEqual(Math.floor(operations.length * (runs >= 50 ? 0.75 : 0.5)))
  })
})

interface FuzzRequest {
  persona: Persona
  forged?: string
  method: string
  url: string
  contentType?: string
  body?: string | Buffer
  extraHeaders?: Record<string, string>
}

function toInject(request: FuzzRequest, sessions: Record<'admin' | 'user', Session>) {
  const headers: Record<string, string> = { ...request.extraHeaders }
  if (request.persona === 'admin' || request.persona === 'user')
    Object.assign(headers, sessions[request.persona].headers)
  if (request.persona === 'forged') headers.authorization = request.forged ?? 'Bearer'
  if (request.contentType) headers['content-type'] = request.contentType
  return {
    method: request.method as 'GET',
    url: request.url,
    headers,
    ...(request.body !== undefined ? { payload: request.body } : {}),
  }
}

/** Lone surrogates have no UTF-8 form; they go as U+FFFD, like a browser would send them. */
function encode(text: string): string {
  try {
    return encodeURIComponent(text)
  } catch {
    return encodeURIComponent(text.replace(/[\ud800-\udfff]/g, '\ufffd'))
  }
}

/** Query and path values are text: objects go as JSON, arrays as repeated keys. */
function asText(value: unknown): string {
  if (typeof value === 'string') return value
  if (value === undefined) return ''
  if (typeof value === 'object' && value !== null) return JSON.stringify(value)
  return String(value)
}

function queryString(values: unknown): string {
  if (values === null || typeof values !== 'object' || Array.isArray(values))
    return values === undefined ? '' : `?${encode(asText(values))}`
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
    if (Array.isArray(value)) for (const item of value) search.append(key, asText(item))
    else if (value !== undefined) search.append(key, asText(value))
  }
  const text = search.toString()
  return text ? `?${text}` : ''
}

function parametersSchema(operation: Operation, place: 'path' | 'query'): JsonSchema | undefined {
  const parameters = (operation.spec.parameters ?? []).filter((parameter) => parameter.in === place)
  if (parameters.length === 0) return undefined
  return {
    type: 'object',
    properties: Object.fromEntries(parameters.map((parameter) => [parameter.name, parameter.schema])),
    required: parameters.filter((parameter) => parameter.required || place === 'path').map((p) => p.name),
  }
}

const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex')

function requestFor(operation: Operation, hints: Hints): fc.Arbitrary<FuzzRequest> {
  const pathSchema = parametersSchema(operation, 'path')
  const querySchema = parametersSchema(operation, 'query')
  const content = operation.spec.requestBody?.content ?? {}
  const [mediaType] = Object.keys(content)
  const bodySchema = mediaType ? content[mediaType]?.schema : undefined

  const either = (schema: JsonSchema | undefined) =>
    schema
      ? fc.oneof(
          { weight: 2, arbitrary: validValue(schema, hints) },
          { weight: 3, arbitrary: mutatedObject(schema, hints) },
        )
      : fc.constant(undefined)

  const path = pathSchema
    ? fc.oneof(
        { weight: 4, arbitrary: either(pathSchema) },
        // Raw (unencoded) traversal and separators in a path segment.
        {
          weight: 1,
          arbitrary: fc
            .constantFrom(
              '..',
              '../..',
              '%2e%2e%2f',
              '..%2f..%2fetc%2fpasswd',
              '.',
              '%00',
              '%',
              '%E0%A4%A',
              ';a=b',
            )
            .map((raw) => ({ raw })),
        },
      )
    : fc.constant(undefined)

  let body: fc.Arbitrary<{ contentType?: string; body?: string | Buffer }>
  if (mediaType === 'multipart/form-data') {
    body = fc
      .tuple(
        fc.constantFrom('file', 'file', 'other', ''),
        fc.oneof(
          fc.constantFrom('notes.txt', 'a.png', ...HOSTILE_STRINGS.slice(0, 40)),
          fc.string({ unit: 'binary', maxLength: 60 }),
        ),
        fc.oneof(
          fc.string({ maxLength: 200 }).map((text) => Buffer.from(text)),
          fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
          fc.constant(PNG),
          fc.constant(Buffer.from('<html><script>alert(1)</script></html>')),
        ),
        fc.boolean(),
      )
      .map(([field, filename, bytes, wellFormed]) => {
        const form = multipart(field, filename, bytes)
        return wellFormed
          ? { contentType: form.headers['content-type'], body: form.body }
          : {
              contentType: form.headers['content-type'],
              body: form.body.subarray(0, Math.floor(form.body.length / 2)),
            }
      })
  } else if (mediaType === 'application/x-www-form-urlencoded' && bodySchema) {
    body = either(bodySchema).map((value) => ({
      contentType: mediaType,
      body: queryString(value).replace(/^\?/, ''),
    }))
  } else if (bodySchema) {
    body = fc.oneof(
      {
        weight: 8,
        arbitrary: either(bodySchema).map((value) => ({
          contentType: 'application/json',
          body: value === undefined ? undefined : JSON.stringify(value),
        })),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          { contentType: 'application/json', body: '' },
          { contentType: 'application/json', body: '{"a":' },
          { contentType: 'application/json', body: 'null' },
          { contentType: 'application/json', body: '"text"' },
          { contentType: 'text/plain', body: 'hello' },
          { contentType: 'application/xml', body: '<a/>' },
          { contentType: 'application/json; charset=latin1', body: '{}' },
          { contentType: 'application/x-www-form-urlencoded', body: 'a=1&b=2' },
        ),
      },
    )
  } else {
    // No body documented: sometimes send one anyway.
    body = fc.oneof(
      { weight: 5, arbitrary: fc.constant({}) },
      {
        weight: 1,
        arbitrary: hostileValue.map((value) => ({
          contentType: 'application/json',
          body: JSON.stringify(value) ?? 'null',
        })),
      },
    )
  }

  return fc
    .record({
      persona: fc.constantFrom<Persona>('admin', 'user', 'user', 'anonymous', 'forged'),
      forged: fc.constantFrom(...FORGED_AUTHORIZATION),
      path,
      query: either(querySchema),
      body,
    })
    .map(({ persona, forged, path: params, query, body: sent }) => {
      let url = operation.path
      const raw = (params as { raw?: unknown } | undefined)?.raw
      if (typeof raw === 'string') url = url.replace(/\{[^}]+\}/, raw)
      else {
        const values = (params ?? {}) as Record<string, unknown>
        url = url.replace(/\{([^}]+)\}/g, (_, name: string) => encode(asText(values[name])))
      }
      return {
        persona,
        ...(persona === 'forged' ? { forged } : {}),
        method: operation.method,
        url: url + queryString(query),
        ...(sent.contentType ? { contentType: sent.contentType } : {}),
        ...(sent.body !== undefined ? { body: sent.body } : {}),
      }
    })
}
