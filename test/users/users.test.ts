import { randomUUID } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  adminSession,
  bearer,
  describeEachBackend,
  expectProblem,
  login,
  type Session,
  signUp,
  useApp,
} from '../helpers.js'

describeEachBackend('users', (backend) => {
  const t = useApp(backend, { admin: true, users: ['alice', 'bob'] })
  // The last-admin test signs the bootstrap admin in again after its role round trip: a variable of its own.
  let admin: Session
  beforeAll(() => {
    admin = t.admin
  })

  const url = (id: string) => `/api/v1/users/${id}`

  describe('list', () => {
    it('is admin only', async () => {
      expectProblem(await t.app.inject({ url: '/api/v1/users', headers: t.users.alice.headers }), 403)
      expectProblem(await t.app.inject({ url: '/api/v1/users' }), 401)
    })

    it('paginates with total, page and pageSize', async () => {
      for (const name of ['pager1', 'pager2', 'pager3']) await signUp(t.app, name)
      const first = (
        await t.app.inject({ url: '/api/v1/users?page=1&pageSize=2', headers: admin.headers })
      ).json()
      const second = (
        await t.app.inject({ url: '/api/v1/users?page=2&pageSize=2', headers: admin.headers })
      ).json()
      expect(first.total).toBeGreaterThanOrEqual(6)
      expect(first).toMatchObject({ page: 1, pageSize: 2 })
      expect(first.items).toHaveLength(2)
      expect(second.items).toHaveLength(2)
      const ids = [...first.items, ...second.items].map((user: { id: string }) => user.id)
      expect(new Set(ids).size).toBe(4)
      expect(JSON.stringify(first)).not.toMatch(/password/i)
    })

    it.each(['page=0', 'pageSize=0', 'pageSize=101', 'page=abc', 'sort=name'])(
      'rejects %s with 400',
      async (query) => {
        expectProblem(await t.app.inject({ url: `/api/v1/users?${query}`, headers: admin.headers }), 400)
      },
    )
  })

  describe('get', () => {
    it('lets a user read themself and an admin read anyone', async () => {
      expect(
        (await t.app.inject({ url: url(t.users.alice.id), headers: t.users.alice.headers })).json().username,
      ).toBe('alice')
      expect(
        (await t.app.inject({ url: url(t.users.alice.id), headers: admin.headers })).json().username,
      ).toBe('alice')
    })

    it('forbids reading another user', async () => {
      expectProblem(await t.app.inject({ url: url(t.users.bob.id), headers: t.users.alice.headers }), 403)
    })

    it('answers 404 for an unknown id and 400 for a malformed one', async () => {
      expectProblem(await t.app.inject({ url: url(randomUUID()), headers: admin.headers }), 404)
      expectProblem(await t.app.inject({ url: url('not-a-uuid'), headers: admin.headers }), 400)
      expectProblem(await t.app.inject({ url: url("1' or '1'='1"), headers: admin.headers }), 400)
    })
  })

  describe('update', () => {
    it('changes your own email, keeping uniqueness', async () => {
      const response = await t.app.inject({
        method: 'PATCH',
        url: url(t.users.alice.id),
        headers: t.users.alice.headers,
        payload: { email: 'alice.new@example.com' },
      })
      expect(response.json().email).toBe('alice.new@example.com')
      // Email changes do not end sessions.
      expect(
        (await t.app.inject({ url: '/api/v1/auth/me', headers: t.users.alice.headers })).statusCode,
      ).toBe(200)
      const taken = await t.app.inject({
        method: 'PATCH',
        url: url(t.users.bob.id),
        headers: t.users.bob.headers,
        payload: { email: 'ALICE.NEW@example.com' },
      })
      expectProblem(taken, 409)
    })

    it('requires the current password to change your own password', async () => {
      const session = await signUp(t.app, 'pwchanger')
      const missing = await t.app.inject({
        method: 'PATCH',
        url: url(session.id),
        headers: session.headers,
        payload: { password: 'another-password' },
      })
      expect(expectProblem(missing, 400).errors?.[0]?.path).toBe('/body/currentPassword')
      const wrong = await t.app.inject({
        method: 'PATCH',
        url: url(session.id),
        headers: session.headers,
        payload: { password: 'another-password', currentPassword: 'not-it-at-all' },
      })
      expectProblem(wrong, 400)
      // The failed attempts changed nothing.
      expect((await t.app.inject({ url: '/api/v1/auth/me', headers: session.headers })).statusCode).toBe(200)
    })

    it('lets an admin reset a password without knowing it', async () => {
      const session = await signUp(t.app, 'forgetful')
      const reset = await t.app.inject({
        method: 'PATCH',
        url: url(session.id),
        headers: admin.headers,
        payload: { password: 'admin-chosen-password' },
      })
      expect(reset.statusCode).toBe(200)
      await login(t.app, 'forgetful', 'admin-chosen-password')
    })

    it('forbids a user from changing someone else or their own isActive', async () => {
      const other = await t.app.inject({
        method: 'PATCH',
        url: url(t.users.bob.id),
        headers: t.users.alice.headers,
        payload: { email: 'x@example.com' },
      })
      expectProblem(other, 403)
      const own = await t.app.inject({
        method: 'PATCH',
        url: url(t.users.alice.id),
        headers: t.users.alice.headers,
        payload: { isActive: false },
      })
      expectProblem(own, 403)
    })

    it('rejects unknown fields (no role change through PATCH) and empty bodies', async () => {
      const role = await t.app.inject({
        method: 'PATCH',
        url: url(t.users.alice.id),
        headers: t.users.alice.headers,
        payload: { role: 'admin' },
      })
      expectProblem(role, 400)
      const empty = await t.app.inject({
        method: 'PATCH',
        url: url(t.users.alice.id),
        headers: t.users.alice.headers,
        payload: {},
      })
      expectProblem(empty, 400)
    })

    it('lets an admin reactivate a user', async () => {
      const session = await signUp(t.app, 'napper')
      await t.app.inject({
        method: 'PATCH',
        url: url(session.id),
        headers: admin.headers,
        payload: { isActive: false },
      })
      const back = await t.app.inject({
        method: 'PATCH',
        url: url(session.id),
        headers: admin.headers,
        payload: { isActive: true },
      })
      expect(back.json().isActive).toBe(true)
      await login(t.app, 'napper', session.password)
    })
  })

  describe('roles', () => {
    it('is admin only and validates the role', async () => {
      const bySelf = await t.app.inject({
        method: 'PUT',
        url: `${url(t.users.alice.id)}/role`,
        headers: t.users.alice.headers,
        payload: { role: 'admin' },
      })
      expectProblem(bySelf, 403)
      const bogus = await t.app.inject({
        method: 'PUT',
        url: `${url(t.users.alice.id)}/role`,
        headers: admin.headers,
        payload: { role: 'root' },
      })
      expectProblem(bogus, 400)
      const missing = await t.app.inject({
        method: 'PUT',
        url: `${url(randomUUID())}/role`,
        headers: admin.headers,
        payload: { role: 'admin' },
      })
      expectProblem(missing, 404)
    })

    it('never leaves the service without an active admin', async () => {
      const demoteSelf = await t.app.inject({
        method: 'PUT',
        url: `${url(admin.id)}/role`,
        headers: admin.headers,
        payload: { role: 'user' },
      })
      expect(expectProblem(demoteSelf, 409).detail).toMatch(/last active admin/)
      const deactivate = await t.app.inject({
        method: 'PATCH',
        url: url(admin.id),
        headers: admin.headers,
        payload: { isActive: false },
      })
      expectProblem(deactivate, 409)
      const remove = await t.app.inject({ method: 'DELETE', url: url(admin.id), headers: admin.headers })
      expectProblem(remove, 409)

      // With a second admin, the first may step down, and then the second is the last one.
      const second = await signUp(t.app, 'second-admin')
      await t.app.inject({
        method: 'PUT',
        url: `${url(second.id)}/role`,
        headers: admin.headers,
        payload: { role: 'admin' },
      })
      const demoted = await t.app.inject({
        method: 'PUT',
        url: `${url(admin.id)}/role`,
        headers: admin.headers,
        payload: { role: 'user' },
      })
      expect(demoted.json().role).toBe('user')
      const secondTokens = await login(t.app, 'second-admin', second.password)
      const lastOne = await t.app.inject({
        method: 'PUT',
        url: `${url(second.id)}/role`,
        headers: bearer(secondTokens.access_token),
        payload: { role: 'user' },
      })
      expectProblem(lastOne, 409)
      // Restore the bootstrap admin for the other tests.
      await t.app.inject({
        method: 'PUT',
        url: `${url(admin.id)}/role`,
        headers: bearer(secondTokens.access_token),
        payload: { role: 'admin' },
      })
      admin = await adminSession(t.app)
    })
  })

  describe('delete', () => {
    it('forbids deleting someone else unless admin', async () => {
      expectProblem(
        await t.app.inject({ method: 'DELETE', url: url(t.users.bob.id), headers: t.users.alice.headers }),
        403,
      )
    })

    it('lets an admin delete a user, after which the id is unknown', async () => {
      const session = await signUp(t.app, 'removable')
      expect(
        (await t.app.inject({ method: 'DELETE', url: url(session.id), headers: admin.headers })).statusCode,
      ).toBe(204)
      expectProblem(await t.app.inject({ url: url(session.id), headers: admin.headers }), 404)
      expectProblem(
        await t.app.inject({ method: 'DELETE', url: url(session.id), headers: admin.headers }),
        404,
      )
      // The username is free again.
      await signUp(t.app, 'removable')
    })
  })
})
