import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import formatsModule from 'ajv-formats/dist/formats.js'
import { checkSync } from 'recheck'
import { beforeAll, describe, expect, it } from 'vitest'
import { EnvSchema } from '../../src/config.js'
import { DECIMAL_PATTERN } from '../../src/modules/math/operands.js'
import { validatorCompiler } from '../../src/platform/validation.js'
import { buildTestApp, describeEachBackend, expectProblem, type Session, signUp, useApp } from '../helpers.js'

/*
 * Class 4 of issue 10: a schema pattern that backtracks let one 40 kB operand hold the event loop for
 * 13 s. Every pattern the service validates with — found by walking the served OpenAPI document, the
 * shared schemas, the environment schema and every `pattern:` in the sources, never a hand-kept list —
 * goes through recheck, which proves a regex linear or finds the input that makes it super-linear. A new
 * unsafe pattern anywhere fails here. Ajv compiles patterns with the `u` flag; they are checked so.
 */

type Found = { pattern: string; where: string }

function patternsIn(node: unknown, where: string, found: Found[]): Found[] {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) patternsIn(item, `${where}/${i}`, found)
  } else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      // `pattern` as a keyword holds a string; a property *named* pattern holds a schema.
      if (key === 'pattern' && typeof value === 'string') found.push({ pattern: value, where })
      else patternsIn(value, `${where}/${key}`, found)
    }
  }
  return found
}

function formatsIn(node: unknown, found: Set<string>): Set<string> {
  if (Array.isArray(node)) for (const item of node) formatsIn(item, found)
  else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'format' && typeof value === 'string') found.add(value)
      else formatsIn(value, found)
    }
  }
  return found
}

/** `pattern: '…'` literals in the sources, so a schema on a route hidden from the document is seen too. */
function sourcePatterns(): Found[] {
  const found: Found[] = []
  const root = join(import.meta.dirname, '../../src')
  for (const file of readdirSync(root, { recursive: true }).map(String)) {
    if (!file.endsWith('.ts')) continue
    const text = readFileSync(join(root, file), 'utf8')
    for (const match of text.matchAll(/pattern: '((?:[^'\\\n]|\\.)*)'/g)) {
      // The source spells the pattern as a TS string literal: undo its escapes.
      found.push({ pattern: JSON.parse(`"${match[1]!.replaceAll('"', '\\"')}"`), where: `src/${file}` })
    }
  }
  return found
}

function verdict(pattern: string): { status: string; detail: string } {
  const result = checkSync(pattern, 'u', { randomSeed: 20_261_123, timeout: 20_000 })
  if (result.status === 'vulnerable') {
    return { status: 'vulnerable', detail: `${result.complexity.type}; attack ${result.attack.pattern}` }
  }
  return { status: result.status, detail: result.status === 'unknown' ? String(result.error.kind) : '' }
}

/** Ajv formats implemented as functions rather than one expression: reviewed by hand (their regexes are anchored fixed-width parts). */
const FUNCTION_FORMATS_REVIEWED = new Set(['date-time', 'date', 'time'])
/** Formats whose validation is no text check at all. */
const NO_CHECK_FORMATS = new Set(['binary'])

describe('every schema pattern is linear-time (recheck)', () => {
  const t = useApp({ name: 'sqlite' })
  let document: unknown

  beforeAll(async () => {
    document = (await t.app.inject({ url: '/openapi.json' })).json()
  }, 60_000)

  it('the analyser is able to fail: it flags the pattern that held the loop for 13 s', () => {
    const before = '^\\s*[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?\\s*$'
    expect(verdict(before).status).toBe('vulnerable')
  }, 60_000)

  it('finds the patterns of every module (document, shared schemas, environment, sources)', () => {
    const found = [
      ...patternsIn(document, '#', []),
      ...patternsIn(t.app.getSchemas(), 'shared', []),
      ...patternsIn(EnvSchema, 'env', []),
      ...sourcePatterns(),
    ]
    const distinct = new Set(found.map((entry) => entry.pattern))
    // Math operands, usernames, SKUs, non-blank text, file hashes, configuration values.
    expect(distinct.size).toBeGreaterThanOrEqual(8)
    expect(distinct).toContain(DECIMAL_PATTERN)
    const documented = found.filter((entry) => entry.where.startsWith('#/paths/')).map((entry) => entry.where)
    for (const path of ['math', 'auth', 'products', 'tasks', 'files']) {
      expect(
        documented.some((where) => where.includes(`/api/v1/${path}`)),
        path,
      ).toBe(true)
    }
  })

  it('every pattern is proven safe', () => {
    const found = [
      ...patternsIn(document, '#', []),
      ...patternsIn(t.app.getSchemas(), 'shared', []),
      ...patternsIn(EnvSchema, 'env', []),
      ...sourcePatterns(),
    ]
    const unsafe: string[] = []
    for (const pattern of new Set(found.map((entry) => entry.pattern))) {
      const { status, detail } = verdict(pattern)
      if (status !== 'safe') {
        const where = found.filter((entry) => entry.pattern === pattern).map((entry) => entry.where)
        unsafe.push(`${status}: /${pattern}/u (${detail}) at ${where.slice(0, 3).join(', ')}`)
      }
    }
    expect(unsafe).toEqual([])
  }, 240_000)

  it('every string format is a proven-safe expression, or a reviewed function', () => {
    const formats = (formatsModule as unknown as { fullFormats: Record<string, unknown> }).fullFormats
    const problems: string[] = []
    for (const name of formatsIn(document, new Set())) {
      if (NO_CHECK_FORMATS.has(name)) continue
      const format = formats[name]
      const expression =
        format instanceof RegExp
          ? format
          : (format as { validate?: unknown } | undefined)?.validate instanceof RegExp
            ? ((format as { validate: RegExp }).validate as RegExp)
            : undefined
      if (expression) {
        const { status, detail } = verdict(expression.source)
        if (status !== 'safe') problems.push(`${name}: ${status} ${detail}`)
      } else if (!FUNCTION_FORMATS_REVIEWED.has(name)) {
        problems.push(`${name}: implemented by a function nobody has reviewed`)
      }
    }
    expect(problems).toEqual([])
  }, 240_000)
})

describe('length is checked before pattern', () => {
  it('an over-long string gets its maxLength error and never meets the pattern', () => {
    const validate = validatorCompiler({
      schema: {
        type: 'object',
        properties: { code: { type: 'string', maxLength: 10, pattern: '^[0-9]+$' } },
      },
      method: 'POST',
      url: '/x',
      httpPart: 'body',
    }) as ((data: unknown) => boolean) & { errors?: { keyword: string }[] }
    expect(validate({ code: 'x'.repeat(11) })).toBe(false)
    // Were the pattern run, it would fail too and add its own error.
    expect(validate.errors?.map((error) => error.keyword)).toEqual(['maxLength'])
    expect(validate({ code: 'x'.repeat(10) })).toBe(false)
    expect(validate.errors?.map((error) => error.keyword)).toEqual(['pattern'])
    expect(validate({ code: '0123456789' })).toBe(true)
  })

  it('the pattern is still documented as a pattern in /openapi.json', async () => {
    const t = await buildTestApp({ name: 'sqlite' })
    try {
      const text = (await t.app.inject({ url: '/openapi.json' })).body
      expect(text).toContain('"pattern"')
      expect(text).not.toContain('x-length-gated-pattern')
    } finally {
      await t.close()
    }
  })
})

describeEachBackend('hostile input: patterns and budgets', (backend) => {
  const t = useApp(backend, { env: { RATE_LIMIT_READ: '6', RATE_LIMIT_WRITE: '6' } })
  let users = 0
  /** Each test spends a budget of its own. */
  const freshUser = (): Promise<Session> => signUp(t.app, `budget_user_${++users}`)

  it('the issue probe: a 40 kB and a 60 kB operand shaped to backtrack are refused at once', async () => {
    const user = await freshUser()
    for (const length of [40_000, 60_000]) {
      const operand = `${'1'.repeat(length)}x`
      const started = performance.now()
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/math/power',
        headers: { ...user.headers, 'content-type': 'application/json' },
        payload: JSON.stringify({ base: operand, exponent: 2 }),
      })
      expect(performance.now() - started).toBeLessThan(500)
      expectProblem(response, 400)
    }
  })

  it('requests that fail parsing or validation spend the write budget like any other', async () => {
    const user = await freshUser()
    const statuses: number[] = []
    const attempts = [
      { payload: '{"title":', type: 'application/json' }, // malformed JSON
      { payload: '{}', type: 'application/json' }, // missing title
      { payload: JSON.stringify({ title: 'x'.repeat(300) }), type: 'application/json' }, // too long
      { payload: 'title=x', type: 'text/plain' }, // wrong content type
      { payload: JSON.stringify({ title: 'ok', extra: 1 }), type: 'application/json' },
      { payload: JSON.stringify({ title: 'ok', priority: 'urgent' }), type: 'application/json' },
      { payload: '{}', type: 'application/json' },
      { payload: '{}', type: 'application/json' },
    ]
    for (const { payload, type } of attempts) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: { ...user.headers, 'content-type': type },
        payload,
      })
      statuses.push(response.statusCode)
    }
    // Six attempts of the budget are answered for what they are; the rest are 429.
    expect(statuses.slice(0, 6).every((status) => status === 400 || status === 415)).toBe(true)
    expect(statuses.slice(6)).toEqual([429, 429])
    // The budget is spent: even a valid write is refused now.
    const valid = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { ...user.headers, 'content-type': 'application/json' },
      payload: { title: 'valid' },
    })
    expectProblem(valid, 429)
  })

  it('invalid queries spend the read budget; invalid math operands do too', async () => {
    const user = await freshUser()
    const statuses: number[] = []
    for (const url of [
      '/api/v1/tasks?pageSize=0',
      '/api/v1/tasks?unknown=1',
      '/api/v1/math/power?base=0x10&exponent=2',
      `/api/v1/math/power?base=${'1'.repeat(5000)}x&exponent=2`,
      '/api/v1/math/fibonacci/-1',
      '/api/v1/history?limit=1000',
      '/api/v1/tasks',
    ]) {
      statuses.push((await t.app.inject({ url, headers: user.headers })).statusCode)
    }
    expect(statuses.slice(0, 6).every((status) => status === 400)).toBe(true)
    expect(statuses[6]).toBe(429)
  })

  it('login attempts with invalid bodies spend the auth budget', async () => {
    const limited = await buildTestApp(backend, { RATE_LIMIT_AUTH: '2' })
    try {
      const statuses: number[] = []
      for (let i = 0; i < 12; i++) {
        const response = await limited.app.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          headers: { 'content-type': 'application/json' },
          payload: { username: 'someone' }, // no password: a 400
        })
        statuses.push(response.statusCode)
      }
      expect(statuses.slice(0, 2)).toEqual([400, 400])
      expect(statuses.slice(2).every((status) => status === 429)).toBe(true)
    } finally {
      await limited.close()
    }
  })
})
