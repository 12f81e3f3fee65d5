import { randomUUID } from 'node:crypto'
import { existsSync, readdirSync } from 'node:fs'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeEach, expect, it } from 'vitest'
import {
  adminSession,
  bearer,
  buildTestApp,
  describeEachBackend,
  login,
  type Session,
  signUp,
  type TestApp,
} from '../helpers.js'
import { directDb, lockHolder } from './support.js'

/*
 * The rules about users (at least one active admin; a password change, deactivation or deletion ends every
 * session) are checked inside the transaction that writes, under lock. On PostgreSQL the interleavings are
 * forced: a transaction of the test's own holds the lock the service's requests need, they queue behind
 * it, the test changes what they are about to check, then lets them go. On SQLite the service runs one
 * write transaction at a time, so nothing can come between a check and its write; there, a storm of
 * concurrent role changes checks the end state.
 */

describeEachBackend('user invariants under concurrency', (backend) => {
  // Each case gets its own app and database: they end with admins demoted, deactivated or deleted.
  let t: TestApp
  let root: Session
  const apps: TestApp[] = []

  beforeEach(async () => {
    t = await buildTestApp(backend)
    apps.push(t)
    root = await adminSession(t.app)
  })
  afterAll(async () => {
    for (const app of apps) await app.close()
  })

  const put = (who: Session, id: string, role: 'user' | 'admin', via = t) =>
    via.app.inject({
      method: 'PUT',
      url: `/api/v1/users/${id}/role`,
      headers: who.headers,
      payload: { role },
    })
  const patch = (who: Session, id: string, payload: Record<string, unknown>, via = t) =>
    via.app.inject({ method: 'PATCH', url: `/api/v1/users/${id}`, headers: who.headers, payload })
  const remove = (who: Session, id: string, via = t) =>
    via.app.inject({ method: 'DELETE', url: `/api/v1/users/${id}`, headers: who.headers })

  async function activeAdmins(): Promise<number> {
    const db = await directDb(t)
    try {
      const [row] = await db.query<{ n: number }>(
        "select count(*) as n from users where role = 'admin' and is_active = ?",
        [backend.name === 'sqlite' ? 1 : true],
      )
      return Number(row?.n)
    } finally {
      await db.close()
    }
  }

  /** A fresh admin with a fresh token (promoted by root). */
  async function newAdmin(name: string): Promise<Session> {
    const user = await signUp(t.app, `${name}${randomUUID().slice(0, 6)}`)
    expect((await put(root, user.id, 'admin')).statusCode).toBe(200)
    return { ...user, headers: bearer((await login(t.app, user.username, user.password)).access_token) }
  }

  const isPostgres = backend.name === 'postgres+redis'
  const reductionsLock = async (holder: Awaited<ReturnType<typeof lockHolder>>) =>
    holder.query("select pg_advisory_xact_lock(hashtext(current_schema() || ':users:admin-reductions'))")

  it('a storm of concurrent demotions, deactivations and deletions never leaves zero active admins', async () => {
    // On PostgreSQL, spread over two instances sharing the database, as a deployment's are.
    const instances = [t]
    if (isPostgres) {
      const second = await buildTestApp(backend, {
        DATABASE_URL: t.config.databaseUrl,
        JWT_SECRET: t.config.jwtSecret,
        REDIS_KEY_PREFIX: t.config.redisKeyPrefix,
      })
      apps.push(second)
      instances.push(second)
    }
    const admins = [root, ...(await Promise.all([0, 1, 2].map((i) => newAdmin(`storm${i}`))))]
    const users = await Promise.all(
      [0, 1, 2].map((i) => signUp(t.app, `stormuser${i}${randomUUID().slice(0, 4)}`)),
    )
    const everyone = [...admins, ...users]
    const calls: Promise<LightMyRequestResponse>[] = []
    for (let round = 0; round < 4; round++) {
      for (const actor of admins) {
        for (const target of everyone) {
          const pick = (round + admins.indexOf(actor) + everyone.indexOf(target)) % 4
          const via = instances[calls.length % instances.length]!
          if (pick === 0) calls.push(put(actor, target.id, 'user', via))
          else if (pick === 1) calls.push(put(actor, target.id, 'admin', via))
          else if (pick === 2) calls.push(patch(actor, target.id, { isActive: false }, via))
          else if (target !== root) calls.push(remove(actor, target.id, via))
        }
      }
    }
    const statuses = (await Promise.all(calls)).map((response) => response.statusCode)
    for (const status of statuses) expect([200, 204, 401, 403, 404, 409]).toContain(status)
    // Some were refused: the last admin defended (409), or a caller changed by an earlier one (401).
    expect(statuses.filter((status) => status === 409 || status === 401).length).toBeGreaterThan(0)
    expect(await activeAdmins()).toBeGreaterThanOrEqual(1)
  })

  it.runIf(isPostgres)(
    'PostgreSQL: deactivating a user who is promoted, while the last other admin is demoted, keeps an admin',
    async () => {
      // The reported breakage: PATCH read its target (a plain user) before its transaction, so it skipped the
      // last-admin check for someone who was an admin by the time it wrote.
      const target = await signUp(t.app, `pat${randomUUID().slice(0, 6)}`)
      const holder = await lockHolder(t)
      let deactivation: Promise<LightMyRequestResponse>
      let demotion: Promise<LightMyRequestResponse>
      try {
        await reductionsLock(holder)
        deactivation = patch(root, target.id, { isActive: false })
        await holder.waitForWaiters(1)
        // Promotions take no reductions lock: this one commits while the deactivation waits.
        expect((await put(root, target.id, 'admin')).statusCode).toBe(200)
        const promoted = {
          ...target,
          headers: bearer((await login(t.app, target.username, target.password)).access_token),
        }
        demotion = put(promoted, root.id, 'user')
        await holder.waitForWaiters(2)
        await holder.commit()
      } finally {
        await holder.close()
      }
      const outcomes = [(await deactivation!).statusCode, (await demotion!).statusCode]
      // Whichever ran first won; the other found its caller changed (401) or no admin left (409).
      expect(outcomes.filter((status) => status === 200)).toHaveLength(1)
      expect(await activeAdmins()).toBeGreaterThanOrEqual(1)
    },
  )

  it.runIf(isPostgres)(
    'PostgreSQL: the last two admins demoting themselves at once: one of them stays',
    async () => {
      const other = await newAdmin('twin')
      const holder = await lockHolder(t)
      let calls: Promise<LightMyRequestResponse>[] = []
      try {
        await reductionsLock(holder)
        calls = [put(root, root.id, 'user'), put(other, other.id, 'user')]
        await holder.waitForWaiters(2)
        await holder.commit()
      } finally {
        await holder.close()
      }
      const statuses = (await Promise.all(calls)).map((response) => response.statusCode).sort()
      expect(statuses).toEqual([200, 409])
      expect(await activeAdmins()).toBe(1)
    },
  )

  it.runIf(isPostgres)(
    'PostgreSQL: the last two admins deleting and deactivating each other at once',
    async () => {
      const other = await newAdmin('rival')
      const holder = await lockHolder(t)
      let calls: Promise<LightMyRequestResponse>[] = []
      try {
        await reductionsLock(holder)
        calls = [remove(other, root.id), patch(root, other.id, { isActive: false })]
        await holder.waitForWaiters(2)
        await holder.commit()
      } finally {
        await holder.close()
      }
      const statuses = (await Promise.all(calls)).map((response) => response.statusCode)
      // The first wins; the second's caller is gone or inactive by then.
      expect(statuses.filter((status) => status === 200 || status === 204)).toHaveLength(1)
      expect(statuses.filter((status) => status === 401)).toHaveLength(1)
      expect(await activeAdmins()).toBe(1)
    },
  )

  it.runIf(isPostgres)(
    'PostgreSQL: a password changed while your own change waited is a 409, not a silent overwrite',
    async () => {
      const me = await signUp(t.app, `pw${randomUUID().slice(0, 6)}`)
      const holder = await lockHolder(t)
      let change: Promise<LightMyRequestResponse>
      try {
        await holder.query('select id from users where id = ? for update', [me.id])
        change = patch(me, me.id, { password: 'brand-new-password', currentPassword: me.password })
        await holder.waitForWaiters(1, 20_000)
        // Another session changed the password meanwhile (and with it the hash this change verified against).
        await holder.query("update users set password_hash = 'changed-elsewhere' where id = ?", [me.id])
        await holder.commit()
      } finally {
        await holder.close()
      }
      expect((await change!).statusCode).toBe(409)
    },
  )

  it.runIf(isPostgres)('PostgreSQL: a login racing a deactivation gets no session', async () => {
    const me = await signUp(t.app, `login${randomUUID().slice(0, 6)}`)
    const holder = await lockHolder(t)
    let attempt: Promise<LightMyRequestResponse>
    try {
      await holder.query('select id from users where id = ? for update', [me.id])
      attempt = t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: me.username, password: me.password },
      })
      await holder.waitForWaiters(1, 20_000)
      await holder.query('update users set is_active = false where id = ?', [me.id])
      await holder.commit()
    } finally {
      await holder.close()
    }
    expect((await attempt!).statusCode).toBe(401)
    const db = await directDb(t)
    try {
      const [row] = await db.query<{ n: number }>(
        'select count(*)::int as n from refresh_tokens where user_id = ? and revoked_at is null',
        [me.id],
      )
      // Only the session from signUp, which deactivation through the API would revoke.
      expect(row?.n).toBe(1)
    } finally {
      await db.close()
    }
  })

  it.runIf(isPostgres)(
    'PostgreSQL: a refresh racing a password change cannot keep a session the change revoked',
    async () => {
      const me = await signUp(t.app, `refresh${randomUUID().slice(0, 6)}`)
      const holder = await lockHolder(t)
      let refresh: Promise<LightMyRequestResponse>
      try {
        // The password change's transaction: user row locked first, then every refresh token revoked.
        await holder.query('select id from users where id = ? for no key update', [me.id])
        refresh = t.app.inject({
          method: 'POST',
          url: '/api/v1/auth/refresh',
          payload: { refresh_token: me.tokens.refresh_token },
        })
        await holder.waitForWaiters(1)
        await holder.query(
          'update refresh_tokens set revoked_at = now() where user_id = ? and revoked_at is null',
          [me.id],
        )
        await holder.query('update users set token_version = token_version + 1 where id = ?', [me.id])
        await holder.commit()
      } finally {
        await holder.close()
      }
      expect((await refresh!).statusCode).toBe(401)
      const db = await directDb(t)
      try {
        const [row] = await db.query<{ n: number }>(
          'select count(*)::int as n from refresh_tokens where user_id = ? and revoked_at is null',
          [me.id],
        )
        expect(row?.n).toBe(0)
      } finally {
        await db.close()
      }
    },
  )

  it.runIf(isPostgres)(
    'PostgreSQL: an upload racing its owner’s deletion leaves no stored bytes behind, in either order',
    async () => {
      const storedBytes = () => {
        const dir = t.config.files.uploadDir
        if (!existsSync(dir)) return []
        return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile())
      }
      const upload = (who: Session) =>
        t.app.inject({
          method: 'POST',
          url: '/api/v1/files',
          headers: { ...who.headers, 'content-type': 'multipart/form-data; boundary=b' },
          payload:
            '--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n' +
            'Content-Type: text/plain\r\n\r\nhello\r\n--b--\r\n',
        })
      // Upload first: it commits, and the deletion that queued behind it removes its bytes. Deletion
      // first: the upload then finds its caller gone (401) and removes its own bytes.
      for (const uploadFirst of [true, false]) {
        const owner = await signUp(t.app, `uploader${randomUUID().slice(0, 6)}`)
        const holder = await lockHolder(t)
        let uploading: Promise<LightMyRequestResponse>
        let deleting: Promise<LightMyRequestResponse>
        try {
          await holder.query('select id from users where id = ? for update', [owner.id])
          if (uploadFirst) {
            uploading = upload(owner)
            await holder.waitForWaiters(1)
            deleting = remove(root, owner.id)
          } else {
            deleting = remove(root, owner.id)
            await holder.waitForWaiters(1)
            uploading = upload(owner)
          }
          await holder.waitForWaiters(2)
          await holder.commit()
        } finally {
          await holder.close()
        }
        expect((await uploading!).statusCode, `upload first: ${uploadFirst}`).toBe(uploadFirst ? 201 : 401)
        expect((await deleting!).statusCode, `upload first: ${uploadFirst}`).toBe(204)
        expect(storedBytes(), `upload first: ${uploadFirst}`).toEqual([])
      }
    },
  )
})
