import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import { expect, it } from 'vitest'
import { bearer, describeEachBackend, login, signUp, useApp } from '../helpers.js'
import { directDb } from './support.js'

/*
 * An admin reaches other users' tasks, files and accounts, and every product. An admin demoted or
 * deactivated after the token was checked (by another instance, whose invalidation has not arrived here)
 * still gets past authentication, so each write must re-check, in its own transaction, the role and state
 * the request was admitted with: none of these writes may use the admin reach it no longer has, and none
 * leaves an event behind. The existing "deleted meanwhile" suite covers the admin's own-scope writes; this
 * one covers the writes on someone else's rows, including PUT /products and a keyed POST /products.
 */

const UPLOAD =
  '--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n'

describeEachBackend('an admin changed meanwhile loses their reach over other users’ rows', (backend) => {
  const t = useApp(backend, { admin: true })

  async function eventCount(): Promise<number> {
    const db = await directDb(t)
    try {
      const [row] = await db.query<{ n: number }>('select count(*) as n from events')
      return Number(row?.n)
    } finally {
      await db.close()
    }
  }

  for (const [what, change] of [
    ['demoted', "update users set role = 'user' where id = ?"],
    ['deactivated', 'update users set is_active = ? where id = ?'],
  ] as const) {
    it(`${what}: every write on someone else's rows is 401 and changes nothing`, async () => {
      const alice = await signUp(t.app, `alice${randomUUID().slice(0, 6)}`)
      const task = await t.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: alice.headers,
        payload: { title: 'mine' },
      })
      const file = await t.app.inject({
        method: 'POST',
        url: '/api/v1/files',
        headers: { ...alice.headers, 'content-type': 'multipart/form-data; boundary=b' },
        payload: UPLOAD,
      })
      const product = await t.app.inject({
        method: 'POST',
        url: '/api/v1/products',
        headers: t.admin.headers,
        payload: { name: 'p', price: 1, stock: 1, category: 'c', sku: `S-${randomUUID().slice(0, 8)}` },
      })
      expect([task.statusCode, file.statusCode, product.statusCode]).toEqual([201, 201, 201])
      const taskId = task.json().id as string
      const fileId = file.json().id as string
      const productId = product.json().id as string

      const other = await signUp(t.app, `boss${randomUUID().slice(0, 6)}`)
      const promoted = await t.app.inject({
        method: 'PUT',
        url: `/api/v1/users/${other.id}/role`,
        headers: t.admin.headers,
        payload: { role: 'admin' },
      })
      expect(promoted.statusCode).toBe(200)
      const h = bearer((await login(t.app, other.username, other.password)).access_token)
      // Admitted once as an admin, so this instance holds the admin state for the token.
      expect((await t.app.inject({ url: `/api/v1/users/${alice.id}`, headers: h })).statusCode).toBe(200)

      const db = await directDb(t)
      try {
        const sqliteFalse = backend.name === 'sqlite' ? 0 : false
        await db.query(change, what === 'demoted' ? [other.id] : [sqliteFalse, other.id])
      } finally {
        await db.close()
      }
      const before = await eventCount()

      const json = { ...h, 'content-type': 'application/json' }
      const sku = `S-${randomUUID().slice(0, 8)}`
      const writes: [string, () => Promise<LightMyRequestResponse>][] = [
        [
          'PATCH /tasks/{alice’s}',
          () =>
            t.app.inject({
              method: 'PATCH',
              url: `/api/v1/tasks/${taskId}`,
              headers: json,
              payload: { title: 'taken' },
            }),
        ],
        [
          'PUT /tasks/{alice’s}',
          () =>
            t.app.inject({
              method: 'PUT',
              url: `/api/v1/tasks/${taskId}`,
              headers: json,
              payload: { title: 'x' },
            }),
        ],
        [
          'DELETE /tasks/{alice’s}',
          () => t.app.inject({ method: 'DELETE', url: `/api/v1/tasks/${taskId}`, headers: h }),
        ],
        [
          'DELETE /files/{alice’s}',
          () => t.app.inject({ method: 'DELETE', url: `/api/v1/files/${fileId}`, headers: h }),
        ],
        [
          'PATCH /users/{alice} email',
          () =>
            t.app.inject({
              method: 'PATCH',
              url: `/api/v1/users/${alice.id}`,
              headers: json,
              payload: { email: `${randomUUID()}@example.com` },
            }),
        ],
        [
          'PUT /products/{id}',
          () =>
            t.app.inject({
              method: 'PUT',
              url: `/api/v1/products/${productId}`,
              headers: json,
              payload: { name: 'taken', price: 2, stock: 2, category: 'c', sku },
            }),
        ],
        [
          'POST /products (Idempotency-Key)',
          () =>
            t.app.inject({
              method: 'POST',
              url: '/api/v1/products',
              headers: { ...json, 'idempotency-key': randomUUID() },
              payload: { name: 'q', price: 1, stock: 1, category: 'c', sku },
            }),
        ],
      ]
      for (const [name, call] of writes) {
        const response = await call()
        expect.soft(response.statusCode, `${name}: ${response.body}`).toBe(401)
      }

      expect(await eventCount()).toBe(before)
      const aliceTask = await t.app.inject({ url: `/api/v1/tasks/${taskId}`, headers: alice.headers })
      expect(aliceTask.json()).toMatchObject({ title: 'mine' })
      const aliceFile = await t.app.inject({ url: `/api/v1/files/${fileId}/content`, headers: alice.headers })
      expect(aliceFile.body).toBe('hello')
      const me = await t.app.inject({ url: '/api/v1/auth/me', headers: alice.headers })
      expect(me.json().email).toBe(`${alice.username}@example.com`)
      const stillThere = await t.app.inject({ url: `/api/v1/products/${productId}` })
      expect(stillThere.json()).toMatchObject({ name: 'p', price: 1 })
      const search = await t.app.inject({ url: `/api/v1/products/search?q=${encodeURIComponent(sku)}` })
      expect(search.json().total).toBe(0)
    })
  }
})
