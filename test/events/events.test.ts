import type { InjectOptions } from 'fastify'
import { describe, expect, it } from 'vitest'
import { describeEachBackend, expectProblem, signUp, useApp } from '../helpers.js'
import { allEvents, type EventItem } from './support.js'

async function fileForm(text: string) {
  const form = new FormData()
  form.append('file', new Blob([text], { type: 'text/plain' }), 'note.txt')
  const response = new Response(form)
  return {
    payload: Buffer.from(await response.arrayBuffer()),
    contentType: response.headers.get('content-type')!,
  }
}

describeEachBackend('events (outbox)', (backend) => {
  const t = useApp(backend, { admin: true, users: ['alice'] })

  /** Runs one request and returns its response with the events its request id wrote. */
  async function eventsOf(request: InjectOptions) {
    const response = await t.app.inject(request)
    const requestId = response.headers['x-request-id'] as string
    const events = (await allEvents(t.app, t.admin)).filter((event) => event.requestId === requestId)
    return { response, events, requestId }
  }

  async function expectOne(
    request: InjectOptions,
    status: number,
    type: string,
    actor: { userId: string | null; role: string | null },
  ) {
    const { response, events, requestId } = await eventsOf(request)
    expect(response.statusCode, response.body).toBe(status)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ type, actor, requestId })
    return { response, event: events[0]! }
  }

  it('register, login, refresh and logout each write one event for the account', async () => {
    const registered = await expectOne(
      {
        method: 'POST',
        url: '/api/v1/auth/register',
        payload: { username: 'bob', email: 'bob@example.com', password: 'bob-password' },
      },
      201,
      'user.registered',
      { userId: expect.any(String), role: 'user' },
    )
    const bobId = registered.response.json().id
    expect(registered.event.actor.userId).toBe(bobId)
    const login = await expectOne(
      { method: 'POST', url: '/api/v1/auth/login', payload: { username: 'bob', password: 'bob-password' } },
      200,
      'auth.login',
      { userId: bobId, role: 'user' },
    )
    const refreshed = await expectOne(
      {
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refresh_token: login.response.json().refresh_token },
      },
      200,
      'auth.refresh',
      { userId: bobId, role: 'user' },
    )
    await expectOne(
      {
        method: 'POST',
        url: '/api/v1/auth/logout',
        payload: { refresh_token: refreshed.response.json().refresh_token },
      },
      204,
      'auth.logout',
      { userId: bobId, role: null },
    )
    // Nothing in any event's data is a secret.
    const text = JSON.stringify(await allEvents(t.app, t.admin))
    expect(text).not.toContain('bob-password')
    expect(text).not.toContain(login.response.json().refresh_token)
  })

  it('failed operations write no event', async () => {
    const duplicate = await eventsOf({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { username: 'alice', email: 'other@example.com', password: 'whatever-123' },
    })
    expectProblem(duplicate.response, 409)
    expect(duplicate.events).toEqual([])
    const badLogin = await eventsOf({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'alice', password: 'wrong-password' },
    })
    expectProblem(badLogin.response, 401)
    expect(badLogin.events).toEqual([])
    const malformed = await eventsOf({
      method: 'POST',
      url: '/api/v1/math/power',
      headers: t.users.alice.headers,
      payload: { base: 2.5, exponent: 2, modulus: 7 },
    })
    expectProblem(malformed.response, 400)
    expect(malformed.events).toEqual([])
    const missingTask = await eventsOf({
      method: 'DELETE',
      url: '/api/v1/tasks/01890000-0000-7000-8000-000000000000',
      headers: t.users.alice.headers,
    })
    expectProblem(missingTask.response, 404)
    expect(missingTask.events).toEqual([])
  })

  it('math calls, refused ones included, each write one math.computed event without the result', async () => {
    const actor = { userId: t.users.alice.id, role: 'user' }
    const computed = await expectOne(
      { url: '/api/v1/math/fibonacci/90', headers: t.users.alice.headers },
      200,
      'math.computed',
      actor,
    )
    expect(computed.event.data).toMatchObject({ operation: 'fibonacci', input: { n: 90 }, status: 200 })
    expect(JSON.stringify(computed.event.data)).not.toContain(computed.response.json().result)
    const refused = await expectOne(
      { url: '/api/v1/math/fibonacci/999999999', headers: t.users.alice.headers },
      422,
      'math.computed',
      actor,
    )
    expect(refused.event.data).toMatchObject({ operation: 'fibonacci', status: 422, digits: null })
    // Many concurrent calls share history batches; each still gets its own event with its own request id.
    const many = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        eventsOf({ url: `/api/v1/math/factorial/${i}`, headers: t.users.alice.headers }),
      ),
    )
    for (const { response, events } of many) {
      expect(response.statusCode).toBe(200)
      expect(events.map((event) => event.type)).toEqual(['math.computed'])
    }
  })

  it('product, task, file and user changes each write one event', async () => {
    const adminActor = { userId: t.admin.id, role: 'admin' }
    const aliceActor = { userId: t.users.alice.id, role: 'user' }
    const product = await expectOne(
      {
        method: 'POST',
        url: '/api/v1/products',
        headers: t.admin.headers,
        payload: { name: 'Widget', price: 1.5, stock: 3, category: 'tools', sku: 'EVT-1' },
      },
      201,
      'product.created',
      adminActor,
    )
    const productId = product.response.json().id
    const patched = await expectOne(
      {
        method: 'PATCH',
        url: `/api/v1/products/${productId}`,
        headers: t.admin.headers,
        payload: { stock: 4 },
      },
      200,
      'product.updated',
      adminActor,
    )
    expect(patched.event.data).toEqual({ productId, fields: ['stock'] })
    const conflicting = await eventsOf({
      method: 'POST',
      url: '/api/v1/products',
      headers: t.admin.headers,
      payload: { name: 'Other', price: 1, stock: 1, category: 'tools', sku: 'EVT-1' },
    })
    expectProblem(conflicting.response, 409)
    expect(conflicting.events).toEqual([])
    await expectOne(
      { method: 'DELETE', url: `/api/v1/products/${productId}`, headers: t.admin.headers },
      204,
      'product.deleted',
      adminActor,
    )

    const task = await expectOne(
      {
        method: 'POST',
        url: '/api/v1/tasks',
        headers: t.users.alice.headers,
        payload: { title: 'Write events' },
      },
      201,
      'task.created',
      aliceActor,
    )
    const taskId = task.response.json().id
    const taskPatch = await expectOne(
      {
        method: 'PATCH',
        url: `/api/v1/tasks/${taskId}`,
        headers: t.users.alice.headers,
        payload: { status: 'completed' },
      },
      200,
      'task.updated',
      aliceActor,
    )
    expect(taskPatch.event.data).toEqual({ taskId, fields: ['status'] })
    await expectOne(
      { method: 'DELETE', url: `/api/v1/tasks/${taskId}`, headers: t.users.alice.headers },
      204,
      'task.deleted',
      aliceActor,
    )

    const body = await fileForm('hello events')
    const file = await expectOne(
      {
        method: 'POST',
        url: '/api/v1/files',
        headers: { ...t.users.alice.headers, 'content-type': body.contentType },
        payload: body.payload,
      },
      201,
      'file.uploaded',
      aliceActor,
    )
    const fileId = file.response.json().id
    await expectOne(
      { method: 'DELETE', url: `/api/v1/files/${fileId}`, headers: t.users.alice.headers },
      204,
      'file.deleted',
      aliceActor,
    )

    const carol = await signUp(t.app, 'carol')
    const updated = await expectOne(
      {
        method: 'PATCH',
        url: `/api/v1/users/${carol.id}`,
        headers: carol.headers,
        payload: { email: 'carol2@example.com' },
      },
      200,
      'user.updated',
      { userId: carol.id, role: 'user' },
    )
    expect(updated.event.data).toEqual({ userId: carol.id, fields: ['email'] })
    const promoted = await expectOne(
      {
        method: 'PUT',
        url: `/api/v1/users/${carol.id}/role`,
        headers: t.admin.headers,
        payload: { role: 'admin' },
      },
      200,
      'user.role_changed',
      adminActor,
    )
    expect(promoted.event.data).toEqual({ userId: carol.id, from: 'user', to: 'admin' })
    await expectOne(
      { method: 'DELETE', url: `/api/v1/users/${carol.id}`, headers: t.admin.headers },
      204,
      'user.deleted',
      adminActor,
    )
  })

  describe('GET /events', () => {
    it('is for admins only', async () => {
      expectProblem(await t.app.inject({ url: '/api/v1/events' }), 401)
      expectProblem(await t.app.inject({ url: '/api/v1/events', headers: t.users.alice.headers }), 403)
    })

    it('pages by id without gaps or repeats, and validates its query', async () => {
      const everything = await allEvents(t.app, t.admin)
      expect(everything.length).toBeGreaterThan(5)
      const ids = everything.map((event) => event.id)
      expect([...ids].sort()).toEqual(ids)
      const paged: string[] = []
      let after: string | null = null
      do {
        const query: string = after ? `?limit=2&after=${after}` : '?limit=2'
        const page = (await t.app.inject({ url: `/api/v1/events${query}`, headers: t.admin.headers })).json()
        expect(page.items.length).toBeLessThanOrEqual(2)
        paged.push(...page.items.map((event: EventItem) => event.id))
        after = page.nextAfter
      } while (after)
      expect(paged).toEqual(ids.slice(0, paged.length))
      expect(paged.length).toBeGreaterThanOrEqual(ids.length)
      // Without a sink nothing is delivered: the embedded default keeps events in the table.
      expect(everything.every((event) => event.publishedAt === null)).toBe(true)
      expectProblem(await t.app.inject({ url: '/api/v1/events?limit=501', headers: t.admin.headers }), 400)
      expectProblem(await t.app.inject({ url: '/api/v1/events?after=nope', headers: t.admin.headers }), 400)
    })

    it('reports the backlog in /metrics', async () => {
      const metrics = (await t.app.inject({ url: '/metrics' })).body
      expect(metrics).toMatch(/^events_pending [1-9]\d*$/m)
      expect(metrics).toMatch(/^events_relay_lag_seconds \d/m)
      expect(metrics).toMatch(/^events_published_total 0$/m)
      expect(metrics).toMatch(/^events_publish_failures_total 0$/m)
      expect(metrics).toMatch(/^db_pool_connections\{state="total"\} \d+$/m)
      expect(metrics).toMatch(/^db_pool_connections\{state="waiting"\} \d+$/m)
    })
  })
})
