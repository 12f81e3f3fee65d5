import type { FastifyInstance } from 'fastify'
import { afterAll, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import {
  ADMIN,
  adminSession,
  bearer,
  describeEachBackend,
  expectProblem,
  login,
  type Session,
  signUp,
  useApp,
} from '../helpers.js'

/*
 * What the service does on its own account (the bootstrapped admin at start-up) is recorded with no actor
 * and no request id, even though the same code path records the caller when a request makes it: the
 * actor is passed explicitly, never taken from wherever the code happens to run.
 */

interface EventItem {
  type: string
  actor: { userId: string | null; role: string | null }
  requestId: string | null
  data: Record<string, unknown>
}

async function eventsOf(app: FastifyInstance, admin: Session, type: string): Promise<EventItem[]> {
  const response = await app.inject({ url: '/api/v1/events?limit=500', headers: admin.headers })
  expect(response.statusCode).toBe(200)
  return (response.json().items as EventItem[]).filter((event) => event.type === type)
}

describeEachBackend('events the service records for itself', (backend) => {
  const t = useApp(backend)
  const restarted: FastifyInstance[] = []
  // Registered after useApp's, so it runs first: the other instances close before the app they share a database with.
  afterAll(async () => {
    for (const app of restarted) await app.close()
  })

  /** Another instance on the same database and configuration: its start-up runs ensureAdmin again. */
  async function restart(): Promise<FastifyInstance> {
    const app = await buildApp(t.config, { logger: false })
    restarted.push(app)
    return app
  }

  it('the bootstrapped admin is registered by nobody, a signed-up user by themselves', async () => {
    const root = await adminSession(t.app)
    const alice = await signUp(t.app, 'alice')
    const registered = await eventsOf(t.app, root, 'user.registered')
    expect(registered).toEqual([
      expect.objectContaining({
        actor: { userId: null, role: null },
        requestId: null,
        data: { userId: root.id, role: 'admin' },
      }),
      expect.objectContaining({
        actor: { userId: alice.id, role: 'user' },
        requestId: expect.any(String),
        data: { userId: alice.id, role: 'user' },
      }),
    ])
  })

  it('a start-up that restores the bootstrap admin records it with no actor and revokes its tokens', async () => {
    const root = await adminSession(t.app)
    const deputy = await signUp(t.app, 'deputy')
    const promote = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/users/${deputy.id}/role`,
      headers: root.headers,
      payload: { role: 'admin' },
    })
    expect(promote.statusCode).toBe(200)
    const deputyAdmin = {
      ...deputy,
      headers: bearer((await login(t.app, deputy.username, deputy.password)).access_token),
    }

    // Demoted by a request: that change is the deputy's.
    const demote = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/users/${root.id}/role`,
      headers: deputyAdmin.headers,
      payload: { role: 'user' },
    })
    expect(demote.statusCode).toBe(200)
    const byRequest = (await eventsOf(t.app, deputyAdmin, 'user.role_changed')).at(-1)
    expect(byRequest).toMatchObject({
      actor: { userId: deputy.id, role: 'admin' },
      requestId: expect.any(String),
      data: { userId: root.id, from: 'admin', to: 'user' },
    })

    // Restored by a start-up: nobody's.
    const second = await restart()
    const restored = (await eventsOf(second, deputyAdmin, 'user.role_changed')).at(-1)
    expect(restored).toMatchObject({
      actor: { userId: null, role: null },
      requestId: null,
      data: { userId: root.id, from: 'user', to: 'admin', reactivated: false },
    })
    const me = await second.inject({ url: '/api/v1/auth/me', headers: (await adminSession(second)).headers })
    expect(me.json()).toMatchObject({ id: root.id, role: 'admin' })

    // Deactivated, then reactivated by a start-up; the session from before is over.
    const rootAgain = await adminSession(second)
    const deactivate = await second.inject({
      method: 'PATCH',
      url: `/api/v1/users/${root.id}`,
      headers: deputyAdmin.headers,
      payload: { isActive: false },
    })
    expect(deactivate.statusCode).toBe(200)
    const third = await restart()
    const reactivated = (await eventsOf(third, deputyAdmin, 'user.role_changed')).at(-1)
    expect(reactivated).toMatchObject({
      actor: { userId: null, role: null },
      requestId: null,
      data: { userId: root.id, from: 'admin', to: 'admin', reactivated: true },
    })
    expectProblem(await third.inject({ url: '/api/v1/auth/me', headers: rootAgain.headers }), 401)
    const fresh = await login(third, ADMIN.username, ADMIN.password)
    expect(
      (await third.inject({ url: '/api/v1/auth/me', headers: bearer(fresh.access_token) })).statusCode,
    ).toBe(200)
  })
})
