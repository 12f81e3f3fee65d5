import { createHash, randomBytes, randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseIdempotencyKey } from '../../src/platform/idempotency.js'
import { directDb, lockHolder } from '../faults/support.js'
import {
  buildTestApp,
  describeEachBackend,
  expectProblem,
  postgresBackend,
  type Session,
  signUp,
  type TestApp,
  useApp,
} from '../helpers.js'

/*
 * Idempotency-Key on every POST that creates something (IETF httpapi draft): the same caller, key and
 * content within 24 hours gets the original status and body and creates nothing more — in sequence, at
 * the same moment, and across two instances; another content under the key is 422.
 */

const multipart = (content: string | Buffer, filename = 'notes.txt', boundary = `b${randomUUID()}`) => ({
  payload: Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: text/plain\r\n\r\n`,
    ),
    Buffer.from(content),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]),
  headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
})

describe('parseIdempotencyKey', () => {
  it('accepts a bare or a quoted (sf-string) key as the same key, and refuses malformed ones', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined()
    expect(parseIdempotencyKey('abc-123')).toBe('abc-123')
    expect(parseIdempotencyKey('"abc-123"')).toBe('abc-123')
    expect(parseIdempotencyKey('"a\\"b"')).toBe('a"b')
    expect(parseIdempotencyKey('x'.repeat(255))).toHaveLength(255)
    for (const bad of ['', '   ', 'x'.repeat(256), 'caf\u00e9', '"unterminated', '"a"b"', 'tab\there']) {
      expect(() => parseIdempotencyKey(bad), JSON.stringify(bad)).toThrow(/Idempotency-Key/)
    }
    expect(() => parseIdempotencyKey(['a', 'b'])).toThrow(/Idempotency-Key/)
  })
})

describeEachBackend('Idempotency-Key', (backend) => {
  const t = useApp(backend, { admin: 'after users', users: ['retrier', 'bystander'] })

  const count = async (sql: string, params: unknown[]) => {
    const db = await directDb(t)
    try {
      const [row] = await db.query<{ n: number }>(sql, params)
      return Number(row?.n)
    } finally {
      await db.close()
    }
  }

  /** Each creating POST: how to send it, with a key and a body variant, and how to count what it made. */
  const creators = () => {
    const marker = randomUUID()
    return [
      {
        name: 'POST /tasks',
        send: (key: string, variant = 0, who = t.users.retrier) =>
          t.app.inject({
            method: 'POST',
            url: '/api/v1/tasks',
            headers: { ...who.headers, 'idempotency-key': key },
            payload: { title: `${marker}`, priority: variant ? 'high' : 'low' },
          }),
        made: () => count('select count(*) as n from tasks where title = ?', [marker]),
      },
      {
        name: 'POST /products',
        send: (key: string, variant = 0) =>
          t.app.inject({
            method: 'POST',
            url: '/api/v1/products',
            headers: { ...t.admin.headers, 'idempotency-key': key },
            payload: {
              name: marker,
              price: 10 + variant,
              stock: 1,
              category: 'c',
              sku: `I-${marker.slice(0, 8)}`,
            },
          }),
        made: () => count('select count(*) as n from products where name = ?', [marker]),
      },
      {
        name: 'POST /auth/register',
        send: (key: string, variant = 0) =>
          t.app.inject({
            method: 'POST',
            url: '/api/v1/auth/register',
            headers: { 'idempotency-key': key },
            payload: {
              username: `u${marker.slice(0, 8)}`,
              email: `u${marker.slice(0, 8)}@example.com`,
              password: variant ? 'another-password-2' : 'a-password-1',
            },
          }),
        made: () => count('select count(*) as n from users where username = ?', [`u${marker.slice(0, 8)}`]),
      },
      {
        name: 'POST /files',
        send: (key: string, variant = 0, who = t.users.retrier) => {
          // A new boundary each time, as a retrying client draws: the same file is still the same request.
          const body = multipart(`${marker} ${variant}`)
          return t.app.inject({
            method: 'POST',
            url: '/api/v1/files',
            headers: { ...who.headers, ...body.headers, 'idempotency-key': key },
            payload: body.payload,
          })
        },
        made: () =>
          count('select count(*) as n from files where sha256 = ?', [
            createHash('sha256').update(`${marker} 0`).digest('hex'),
          ]),
      },
    ]
  }

  it('replays the original status and body for a retry, and creates nothing more', async () => {
    for (const creator of creators()) {
      const key = randomUUID()
      const first = await creator.send(key)
      expect(first.statusCode, `${creator.name}: ${first.body}`).toBe(201)
      expect(first.headers['idempotent-replayed']).toBeUndefined()
      for (let retry = 0; retry < 3; retry++) {
        const again = await creator.send(key)
        expect(again.statusCode, creator.name).toBe(201)
        expect(again.body, creator.name).toBe(first.body)
        expect(again.headers['idempotent-replayed']).toBe('true')
        if (first.headers.location) expect(again.headers.location).toBe(first.headers.location)
      }
      expect(await creator.made(), creator.name).toBe(1)
    }
  })

  it('refuses the same key with a different request with 422, and creates nothing', async () => {
    for (const creator of creators()) {
      const key = randomUUID()
      expect((await creator.send(key)).statusCode).toBe(201)
      const changed = await creator.send(key, 1)
      const problem = expectProblem(changed, 422)
      expect(problem.detail, creator.name).toMatch(/Idempotency-Key/)
      expect(await creator.made(), creator.name).toBe(1)
    }
  })

  it('treats reordered JSON fields and the quoted key form as the same request', async () => {
    const key = randomUUID()
    const title = `same ${randomUUID()}`
    const first = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { ...t.users.retrier.headers, 'content-type': 'application/json', 'idempotency-key': key },
      payload: `{"title":"${title}","priority":"high","description":"d"}`,
    })
    const reordered = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: {
        ...t.users.retrier.headers,
        'content-type': 'application/json',
        'idempotency-key': `"${key}"`,
      },
      payload: `{ "description": "d", "priority": "high", "title": "${title}" }`,
    })
    expect(first.statusCode).toBe(201)
    expect(reordered.statusCode).toBe(201)
    expect(reordered.body).toBe(first.body)
    expect(await count('select count(*) as n from tasks where title = ?', [title])).toBe(1)
  })

  it('keeps keys per caller: another user with the same key creates their own', async () => {
    const creator = creators()[0]!
    const key = randomUUID()
    const mine = await creator.send(key, 0, t.users.retrier)
    const theirs = await creator.send(key, 0, t.users.bystander)
    expect([mine.statusCode, theirs.statusCode]).toEqual([201, 201])
    expect(theirs.json().id).not.toBe(mine.json().id)
    expect(theirs.json().ownerId).toBe(t.users.bystander.id)
  })

  it('concurrent requests with one key: one creation, every answer the same', async () => {
    for (const creator of creators()) {
      const key = randomUUID()
      const responses = await Promise.all(Array.from({ length: 8 }, () => creator.send(key)))
      const statuses = responses.map((response) => response.statusCode)
      expect(
        statuses.every((status) => status === 201 || status === 409),
        `${creator.name}: ${statuses}`,
      ).toBe(true)
      const created = responses.filter((response) => response.statusCode === 201)
      expect(new Set(created.map((response) => response.body)).size, creator.name).toBe(1)
      expect(await creator.made(), creator.name).toBe(1)
    }
  })

  it('does not store failed requests: a retry after a 4xx runs again', async () => {
    const key = randomUUID()
    const sku = `FAIL-${randomUUID().slice(0, 8)}`
    const taken = await t.app.inject({
      method: 'POST',
      url: '/api/v1/products',
      headers: t.admin.headers,
      payload: { name: 'taken', price: 1, stock: 1, category: 'c', sku },
    })
    expect(taken.statusCode).toBe(201)
    const clash = { name: 'clash', price: 1, stock: 1, category: 'c', sku }
    const send = () =>
      t.app.inject({
        method: 'POST',
        url: '/api/v1/products',
        headers: { ...t.admin.headers, 'idempotency-key': key },
        payload: clash,
      })
    expectProblem(await send(), 409)
    await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/products/${taken.json().id}`,
      headers: t.admin.headers,
    })
    expect((await send()).statusCode).toBe(201)
  })

  it('forgets a key after 24 hours', async () => {
    const key = randomUUID()
    const title = `old ${randomUUID()}`
    const send = () =>
      t.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: { ...t.users.retrier.headers, 'idempotency-key': key },
        payload: { title },
      })
    expect((await send()).statusCode).toBe(201)
    const db = await directDb(t)
    try {
      await db.query('update idempotency_keys set created_at = ? where idem_key = ?', [
        new Date(Date.now() - 25 * 3600_000).toISOString(),
        key,
      ])
    } finally {
      await db.close()
    }
    const later = await send()
    expect(later.statusCode).toBe(201)
    expect(later.headers['idempotent-replayed']).toBeUndefined()
    expect(await count('select count(*) as n from tasks where title = ?', [title])).toBe(2)
  })

  it('refuses a malformed key with 400 before doing anything', async () => {
    for (const key of ['x'.repeat(256), '"', 'caf\u00e9']) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: { ...t.users.retrier.headers, 'idempotency-key': key },
        payload: { title: 'never' },
      })
      expectProblem(response, 400)
    }
    expect(await count("select count(*) as n from tasks where title = 'never'", [])).toBe(0)
  })

  it('documents the header on every creating POST of the OpenAPI document', async () => {
    const document = (await t.app.inject({ url: '/openapi.json' })).json()
    for (const path of ['/api/v1/tasks', '/api/v1/products', '/api/v1/files', '/api/v1/auth/register']) {
      const parameters = document.paths[path].post.parameters as { in: string; name: string }[]
      expect(
        parameters.some((parameter) => parameter.in === 'header' && parameter.name === 'idempotency-key'),
        path,
      ).toBe(true)
      expect(Object.keys(document.paths[path].post.responses)).toEqual(
        expect.arrayContaining(['201', '409', '422']),
      )
    }
  })
})

describe.runIf(postgresBackend)('Idempotency-Key across two instances (PostgreSQL + Redis)', () => {
  let one: TestApp
  let two: TestApp
  let user: Session

  beforeAll(async () => {
    const env = {
      JWT_SECRET: randomBytes(48).toString('base64url'),
      REDIS_KEY_PREFIX: `idem-${randomUUID()}:`,
    }
    one = await buildTestApp(postgresBackend!, env)
    two = await buildTestApp(postgresBackend!, { ...env, DATABASE_URL: one.config.databaseUrl })
    user = await signUp(one.app, 'twoplaces')
  })
  afterAll(async () => {
    await two?.app.close()
    await one?.close()
  })

  const send = (t: TestApp, key: string, title: string) =>
    t.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { ...user.headers, 'idempotency-key': key },
      payload: { title },
    })

  it('a retry through the other instance replays', async () => {
    const key = randomUUID()
    const first = await send(one, key, 'across')
    const again = await send(two, key, 'across')
    expect([first.statusCode, again.statusCode]).toEqual([201, 201])
    expect(again.body).toBe(first.body)
  })

  it('the second of two racing requests waits for the first (held in flight), then replays it', async () => {
    const key = randomUUID()
    const title = `raced ${randomUUID()}`
    const holder = await lockHolder(one)
    let first: Promise<LightMyRequestResponse>
    let second: Promise<LightMyRequestResponse>
    try {
      // The first request takes the key, then waits here to write its task.
      await holder.query('lock table tasks in exclusive mode')
      first = send(one, key, title)
      await holder.waitForWaiters(1)
      // The second, on the other instance, waits on the key the first holds (so: 2 waiting, transitively).
      second = send(two, key, title)
      await holder.waitForWaiters(2)
      await holder.commit()
    } finally {
      await holder.close()
    }
    const [a, b] = [await first!, await second!]
    expect([a.statusCode, b.statusCode]).toEqual([201, 201])
    expect(b.body).toBe(a.body)
    expect(b.headers['idempotent-replayed']).toBe('true')
    const db = await directDb(one)
    try {
      const [row] = await db.query<{ n: number }>('select count(*)::int as n from tasks where title = ?', [
        title,
      ])
      expect(row?.n).toBe(1)
    } finally {
      await db.close()
    }
  })
})
