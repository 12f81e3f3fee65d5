import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import { expect, it } from 'vitest'
import { bearer, describeEachBackend, login, type Session, signUp, type TestApp, useApp } from '../helpers.js'
import { directDb, lockHolder } from './support.js'

/*
 * A request is authorised when it arrives; its write happens later. Whatever happens to its caller in
 * between (deleted, deactivated, demoted — by another request, or by another instance whose invalidation
 * has not arrived) the request is answered 401 or 404, never 500, and nobody else's request is affected.
 *
 * The interleaving is forced, not hoped for: the caller's row is changed behind the service's back, through
 * a connection of the test's own, after the service has cached the caller's token state. The service still
 * accepts the token (as an instance that missed the invalidation would), and its write meets the change
 * inside its transaction. On PostgreSQL a second variant holds a lock that stops the service's writes in
 * flight, deletes the user, then lets them go.
 */

const UPLOAD = (content: string) => ({
  payload: `--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n${content}\r\n--b--\r\n`,
  headers: { 'content-type': 'multipart/form-data; boundary=b' },
})

function notServerError(response: LightMyRequestResponse, what: string): number {
  if (response.statusCode >= 500) throw new Error(`${what}: ${response.statusCode} ${response.body}`)
  return response.statusCode
}

async function metricSum(t: TestApp, name: string): Promise<number> {
  const text = (await t.app.inject({ url: '/metrics' })).body
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
}

describeEachBackend('a caller changed between the auth check and the write', (backend) => {
  const t = useApp(backend, { admin: true })

  /** A user with a task and a file, whose token state the service has cached. */
  async function victim(name: string) {
    const session = await signUp(t.app, `${name}${randomUUID().slice(0, 6)}`)
    const task = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: session.headers,
      payload: { title: 'mine' },
    })
    const file = await t.app.inject({
      method: 'POST',
      url: '/api/v1/files',
      ...UPLOAD('hello'),
      headers: { ...session.headers, ...UPLOAD('hello').headers },
    })
    expect([task.statusCode, file.statusCode]).toEqual([201, 201])
    expect((await t.app.inject({ url: '/api/v1/auth/me', headers: session.headers })).statusCode).toBe(200)
    return { session, taskId: task.json().id as string, fileId: file.json().id as string }
  }

  /** Every write a plain user can make, each answered without a 5xx; returns the statuses. */
  async function everyWrite(session: Session, taskId: string, fileId: string) {
    const h = session.headers
    const json = { ...h, 'content-type': 'application/json' }
    const calls: [string, () => Promise<LightMyRequestResponse>][] = [
      [
        'POST /tasks',
        () => t.app.inject({ method: 'POST', url: '/api/v1/tasks', headers: h, payload: { title: 'x' } }),
      ],
      [
        'POST /tasks (idempotent)',
        () =>
          t.app.inject({
            method: 'POST',
            url: '/api/v1/tasks',
            headers: { ...h, 'idempotency-key': randomUUID() },
            payload: { title: 'x' },
          }),
      ],
      [
        'PATCH /tasks/{id}',
        () =>
          t.app.inject({
            method: 'PATCH',
            url: `/api/v1/tasks/${taskId}`,
            headers: json,
            payload: { status: 'completed' },
          }),
      ],
      [
        'PUT /tasks/{id}',
        () =>
          t.app.inject({
            method: 'PUT',
            url: `/api/v1/tasks/${taskId}`,
            headers: json,
            payload: { title: 'y' },
          }),
      ],
      [
        'DELETE /tasks/{id}',
        () => t.app.inject({ method: 'DELETE', url: `/api/v1/tasks/${taskId}`, headers: h }),
      ],
      [
        'POST /files',
        () =>
          t.app.inject({
            method: 'POST',
            url: '/api/v1/files',
            payload: UPLOAD('again').payload,
            headers: { ...h, ...UPLOAD('').headers },
          }),
      ],
      [
        'DELETE /files/{id}',
        () => t.app.inject({ method: 'DELETE', url: `/api/v1/files/${fileId}`, headers: h }),
      ],
      ['GET /math/fibonacci/{n}', () => t.app.inject({ url: '/api/v1/math/fibonacci/321', headers: h })],
      [
        'POST /math/factorial',
        () => t.app.inject({ method: 'POST', url: '/api/v1/math/factorial', headers: h, payload: { n: 30 } }),
      ],
      [
        'GET /math/fibonacci/{n} (refused: over the limit)',
        () => t.app.inject({ url: '/api/v1/math/fibonacci/999999999999', headers: h }),
      ],
      [
        'PATCH /users/{id}',
        () =>
          t.app.inject({
            method: 'PATCH',
            url: `/api/v1/users/${session.id}`,
            headers: json,
            payload: { email: `${randomUUID()}@example.com` },
          }),
      ],
      [
        'DELETE /users/{id}',
        () => t.app.inject({ method: 'DELETE', url: `/api/v1/users/${session.id}`, headers: h }),
      ],
    ]
    const statuses: Record<string, number> = {}
    for (const [what, call] of calls) statuses[what] = notServerError(await call(), what)
    return statuses
  }

  it('deleted: every write is 401 (never 500), and nothing is written for them', async () => {
    const { session, taskId, fileId } = await victim('gone')
    const db = await directDb(t)
    try {
      await db.query('delete from users where id = ?', [session.id])
      const statuses = await everyWrite(session, taskId, fileId)
      // The file went with its owner, and is looked up before the write: it is simply not there.
      for (const [what, status] of Object.entries(statuses))
        expect.soft(status, what).toBe(what === 'DELETE /files/{id}' ? 404 : 401)
      const [row] = await db.query<{ n: number }>('select count(*) as n from tasks where owner_id = ?', [
        session.id,
      ])
      expect(Number(row?.n)).toBe(0)
      const [history] = await db.query<{ n: number }>(
        'select count(*) as n from math_history where user_id = ?',
        [session.id],
      )
      expect(Number(history?.n)).toBe(0)
    } finally {
      await db.close()
    }
  })

  it('deactivated, or with a changed token version: every write is 401', async () => {
    for (const change of ['is_active = ?', 'token_version = token_version + ?']) {
      const { session, taskId, fileId } = await victim('changed')
      const db = await directDb(t)
      try {
        await db.query(`update users set ${change} where id = ?`, [
          change.startsWith('is_active') ? 0 : 1,
          session.id,
        ])
      } finally {
        await db.close()
      }
      const statuses = await everyWrite(session, taskId, fileId)
      // Math calls do not write as the caller (their history row only needs the user to exist).
      for (const [what, status] of Object.entries(statuses))
        if (!what.includes('/math/')) expect.soft(status, `${change}: ${what}`).toBe(401)
    }
  })

  it('an admin deleted or demoted meanwhile: every admin write is 401', async () => {
    for (const change of ['delete from users where id = ?', "update users set role = 'user' where id = ?"]) {
      const other = await signUp(t.app, `boss${randomUUID().slice(0, 6)}`)
      const promoted = await t.app.inject({
        method: 'PUT',
        url: `/api/v1/users/${other.id}/role`,
        headers: t.admin.headers,
        payload: { role: 'admin' },
      })
      expect(promoted.statusCode).toBe(200)
      const boss = {
        ...other,
        headers: bearer((await login(t.app, other.username, other.password)).access_token),
      }
      const created = await t.app.inject({
        method: 'POST',
        url: '/api/v1/products',
        headers: boss.headers,
        payload: { name: 'p', price: 1, stock: 1, category: 'c', sku: `S-${randomUUID().slice(0, 8)}` },
      })
      expect(created.statusCode).toBe(201)
      const productId = created.json().id as string
      const db = await directDb(t)
      try {
        await db.query(change, [boss.id])
      } finally {
        await db.close()
      }
      const h = boss.headers
      const writes: [string, () => Promise<LightMyRequestResponse>][] = [
        [
          'POST /products',
          () =>
            t.app.inject({
              method: 'POST',
              url: '/api/v1/products',
              headers: h,
              payload: { name: 'q', price: 1, stock: 1, category: 'c', sku: `S-${randomUUID().slice(0, 8)}` },
            }),
        ],
        [
          'PATCH /products/{id}',
          () =>
            t.app.inject({
              method: 'PATCH',
              url: `/api/v1/products/${productId}`,
              headers: h,
              payload: { stock: 9 },
            }),
        ],
        [
          'DELETE /products/{id}',
          () => t.app.inject({ method: 'DELETE', url: `/api/v1/products/${productId}`, headers: h }),
        ],
        [
          'PUT /users/{id}/role',
          () =>
            t.app.inject({
              method: 'PUT',
              url: `/api/v1/users/${t.admin.id}/role`,
              headers: h,
              payload: { role: 'user' },
            }),
        ],
        [
          'PATCH /users/{id} isActive',
          () =>
            t.app.inject({
              method: 'PATCH',
              url: `/api/v1/users/${t.admin.id}`,
              headers: h,
              payload: { isActive: false },
            }),
        ],
        [
          'DELETE /users/{id}',
          () => t.app.inject({ method: 'DELETE', url: `/api/v1/users/${t.admin.id}`, headers: h }),
        ],
      ]
      for (const [what, call] of writes)
        expect.soft(notServerError(await call(), what), `${change}: ${what}`).toBe(401)
    }
    // The real admin was never touched.
    const me = await t.app.inject({ url: '/api/v1/auth/me', headers: t.admin.headers })
    expect(me.json()).toMatchObject({ role: 'admin', isActive: true })
  })

  it('one user deleted meanwhile fails only their own math calls, not the others in the same group commit', async () => {
    const gone = await victim('mathgone')
    const bystander = await signUp(t.app, `bystander${randomUUID().slice(0, 6)}`)
    expect((await t.app.inject({ url: '/api/v1/auth/me', headers: bystander.headers })).statusCode).toBe(200)
    const db = await directDb(t)
    try {
      await db.query('delete from users where id = ?', [gone.session.id])
    } finally {
      await db.close()
    }
    const batchesBefore = await metricSum(t, 'history_batch_size_count')
    // Interleaved and fired together: they land in the same group commit (checked below).
    const calls = Array.from({ length: 40 }, (_, i) => {
      const who = i % 2 === 0 ? bystander : gone.session
      return t.app.inject({ url: `/api/v1/math/fibonacci/${500 + i}`, headers: who.headers })
    })
    const responses = await Promise.all(calls)
    const batches = (await metricSum(t, 'history_batch_size_count')) - batchesBefore
    expect(batches).toBeLessThan(40)
    for (const [i, response] of responses.entries())
      expect(response.statusCode, `call ${i}: ${response.body}`).toBe(i % 2 === 0 ? 200 : 401)
    const page = await t.app.inject({ url: '/api/v1/history?limit=100', headers: bystander.headers })
    expect(page.json().items).toHaveLength(20)
  })

  it('deleting yourself while your own writes run: each write is 201 or 401, never 500', async () => {
    const me = await signUp(t.app, `selfdel${randomUUID().slice(0, 6)}`)
    const writes = Array.from({ length: 20 }, (_, i) =>
      i === 10
        ? t.app.inject({ method: 'DELETE', url: `/api/v1/users/${me.id}`, headers: me.headers })
        : i % 2 === 0
          ? t.app.inject({
              method: 'POST',
              url: '/api/v1/tasks',
              headers: me.headers,
              payload: { title: `t${i}` },
            })
          : t.app.inject({ url: `/api/v1/math/factorial/${i + 50}`, headers: me.headers }),
    )
    const statuses = (await Promise.all(writes)).map((response, i) => notServerError(response, `write ${i}`))
    expect(statuses[10]).toBe(204)
    for (const status of statuses) expect([200, 201, 204, 401]).toContain(status)
  })

  it.runIf(backend.name === 'postgres+redis')(
    'PostgreSQL, writes held in flight: the user deleted while they wait; the others commit',
    async () => {
      const gone = await signUp(t.app, `inflight${randomUUID().slice(0, 6)}`)
      const bystander = await signUp(t.app, `stander${randomUUID().slice(0, 6)}`)
      const holder = await lockHolder(t)
      try {
        // Their rows' foreign-key checks and their callers' share locks now wait on this transaction.
        await holder.query('select id from users where id = ? for update', [gone.id])
        const math = Array.from({ length: 10 }, (_, i) =>
          t.app.inject({
            url: `/api/v1/math/fibonacci/${700 + i}`,
            headers: (i % 2 ? gone : bystander).headers,
          }),
        )
        const task = t.app.inject({
          method: 'POST',
          url: '/api/v1/tasks',
          headers: gone.headers,
          payload: { title: 'late' },
        })
        await holder.waitForWaiters(2)
        await holder.query('delete from users where id = ?', [gone.id])
        await holder.commit()
        const responses = await Promise.all(math)
        for (const [i, response] of responses.entries())
          expect(response.statusCode, `math ${i}: ${response.body}`).toBe(i % 2 ? 401 : 200)
        expect((await task).statusCode).toBe(401)
      } finally {
        await holder.close()
      }
    },
  )

  it.runIf(backend.name === 'postgres+redis')(
    'PostgreSQL, your own deletion queued before your task creations: it wins, they are 401',
    async () => {
      const me = await signUp(t.app, `queued${randomUUID().slice(0, 6)}`)
      const holder = await lockHolder(t)
      let deletion: Promise<LightMyRequestResponse> | undefined
      let creations: Promise<LightMyRequestResponse>[] = []
      try {
        await holder.query('select id from users where id = ? for update', [me.id])
        deletion = t.app.inject({ method: 'DELETE', url: `/api/v1/users/${me.id}`, headers: me.headers })
        await holder.waitForWaiters(1)
        creations = Array.from({ length: 5 }, (_, i) =>
          t.app.inject({
            method: 'POST',
            url: '/api/v1/tasks',
            headers: me.headers,
            payload: { title: `c${i}` },
          }),
        )
        await holder.waitForWaiters(6)
        await holder.commit()
      } finally {
        await holder.close()
      }
      expect((await deletion!).statusCode).toBe(204)
      for (const creation of creations) expect((await creation).statusCode).toBe(401)
    },
  )
})
