import { createHmac, randomBytes } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  ADMIN,
  adminSession,
  bearer,
  describeEachBackend,
  expectProblem,
  login,
  register,
  signUp,
  useApp,
} from '../helpers.js'

const base64url = (value: object | string) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

describeEachBackend('auth', (backend) => {
  const t = useApp(backend)

  const me = (token: string) => t.app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })

  describe('register', () => {
    it('creates a user with role user and never returns the hash', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        payload: { username: 'Alice.B', email: 'alice.b@example.com', password: 'long-enough' },
      })
      expect(response.statusCode).toBe(201)
      const user = response.json()
      expect(user).toMatchObject({
        username: 'Alice.B',
        email: 'alice.b@example.com',
        role: 'user',
        isActive: true,
      })
      expect(user.id).toMatch(/^[0-9a-f-]{36}$/)
      expect(Object.keys(user).sort()).toEqual(['createdAt', 'email', 'id', 'isActive', 'role', 'username'])
      expect(response.body).not.toContain('argon2')
    })

    it('ignores a requested admin role: nobody registers as admin', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        payload: {
          username: 'mallory',
          email: 'mallory@example.com',
          password: 'long-enough',
          role: 'admin',
        },
      })
      expect(response.statusCode).toBe(201)
      expect(response.json().role).toBe('user')
      const tokens = await login(t.app, 'mallory', 'long-enough')
      const users = await t.app.inject({ url: '/api/v1/users', headers: bearer(tokens.access_token) })
      expectProblem(users, 403)
    })

    it('treats usernames and emails case-insensitively for uniqueness', async () => {
      await register(t.app, 'carol')
      const sameName = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        payload: { username: 'CAROL', email: 'other@example.com', password: 'long-enough' },
      })
      expect(expectProblem(sameName, 409).detail).toMatch(/username/i)
      const sameEmail = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        payload: { username: 'carol2', email: 'CAROL@example.com', password: 'long-enough' },
      })
      expect(expectProblem(sameEmail, 409).detail).toMatch(/email/i)
    })

    it.each([
      [{ username: 'ab', email: 'x@example.com', password: 'long-enough' }, '/body/username'],
      [{ username: 'has space', email: 'x@example.com', password: 'long-enough' }, '/body/username'],
      [{ username: 'a'.repeat(33), email: 'x@example.com', password: 'long-enough' }, '/body/username'],
      [{ username: 'okname', email: 'not-an-email', password: 'long-enough' }, '/body/email'],
      [{ username: 'okname', email: 'x@example.com', password: 'short' }, '/body/password'],
      [{ username: 'okname', email: 'x@example.com', password: 'p'.repeat(129) }, '/body/password'],
      [{ username: 'okname', email: 'x@example.com' }, '/body/password'],
      [{ username: 42, email: 'x@example.com', password: 'long-enough' }, '/body/username'],
    ])('rejects invalid input %j with 400 naming %s', async (payload, path) => {
      const response = await t.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload })
      const problem = expectProblem(response, 400)
      expect(problem.errors?.map((error) => error.path)).toContain(path)
    })

    it('rejects malformed JSON with 400 problem+json', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        headers: { 'content-type': 'application/json' },
        payload: '{"username": ',
      })
      expectProblem(response, 400)
    })
  })

  describe('login and tokens', () => {
    it('issues a token pair from JSON login and from the OAuth2 form endpoint', async () => {
      await register(t.app, 'dave', 'dave-password')
      const json = await login(t.app, 'DAVE', 'dave-password')
      expect(json).toMatchObject({ token_type: 'bearer', expires_in: 900 })
      expect(json.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
      const claims = JSON.parse(Buffer.from(json.access_token.split('.')[1]!, 'base64url').toString())
      expect(Object.keys(claims)).toEqual(expect.arrayContaining(['sub', 'role', 'iat', 'exp', 'jti']))
      expect(claims.exp - claims.iat).toBe(900)

      const form = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'grant_type=password&username=dave&password=dave-password',
      })
      expect(form.statusCode).toBe(200)
      expect(form.headers['cache-control']).toBe('no-store')
      expect((await me(form.json().access_token)).json().username).toBe('dave')
    })

    it('answers a wrong password, an unknown user and a missing field alike', async () => {
      await register(t.app, 'erin', 'erin-password')
      const wrong = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'erin', password: 'nope-nope' },
      })
      const unknown = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'nobody-here', password: 'nope-nope' },
      })
      expect(expectProblem(wrong, 401).detail).toBe(expectProblem(unknown, 401).detail)
      expect(wrong.headers['www-authenticate']).toBe('Bearer')
      const form = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'username=erin',
      })
      expectProblem(form, 400)
    })

    it('returns the current user from /auth/me and 401 without a token', async () => {
      const session = await signUp(t.app, 'frank')
      expect((await me(session.tokens.access_token)).json()).toMatchObject({
        id: session.id,
        username: 'frank',
      })
      const anonymous = await t.app.inject({ url: '/api/v1/auth/me' })
      expectProblem(anonymous, 401)
      expect(anonymous.headers['www-authenticate']).toBe('Bearer')
    })
  })

  describe('refresh rotation', () => {
    it('rotates: the new pair works, the old refresh token does not', async () => {
      const session = await signUp(t.app, 'grace')
      const first = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refresh_token: session.tokens.refresh_token },
      })
      expect(first.statusCode).toBe(200)
      const rotated = first.json()
      expect(rotated.refresh_token).not.toBe(session.tokens.refresh_token)
      expect((await me(rotated.access_token)).statusCode).toBe(200)

      const second = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refresh_token: rotated.refresh_token },
      })
      expect(second.statusCode).toBe(200)
    })

    it('treats reuse of a spent refresh token as theft and revokes the whole family', async () => {
      const session = await signUp(t.app, 'heidi')
      const stolen = session.tokens.refresh_token
      const legit = (
        await t.app.inject({
          method: 'POST',
          url: '/api/v1/auth/refresh',
          payload: { refresh_token: stolen },
        })
      ).json()
      const reuse = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refresh_token: stolen },
      })
      expectProblem(reuse, 401)
      // The legitimate holder's newer token belongs to the same family, so it is dead too.
      const afterTheft = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refresh_token: legit.refresh_token },
      })
      expectProblem(afterTheft, 401)
      // Another login (another family) is untouched.
      const other = await login(t.app, 'heidi', session.password)
      const otherRefresh = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refresh_token: other.refresh_token },
      })
      expect(otherRefresh.statusCode).toBe(200)
    })

    it('accepts the refresh_token grant on the OAuth2 endpoint', async () => {
      const session = await signUp(t.app, 'ivan')
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `grant_type=refresh_token&refresh_token=${session.tokens.refresh_token}`,
      })
      expect(response.statusCode).toBe(200)
      expect(response.json().refresh_token).not.toBe(session.tokens.refresh_token)
    })

    it('rejects an unknown refresh token', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refresh_token: randomBytes(32).toString('base64url') },
      })
      expectProblem(response, 401)
    })

    it('logout revokes the family: neither the presented token nor its successors refresh', async () => {
      const session = await signUp(t.app, 'judy')
      const rotated = (
        await t.app.inject({
          method: 'POST',
          url: '/api/v1/auth/refresh',
          payload: { refresh_token: session.tokens.refresh_token },
        })
      ).json()
      const logout = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/logout',
        payload: { refresh_token: rotated.refresh_token },
      })
      expect(logout.statusCode).toBe(204)
      const refresh = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refresh_token: rotated.refresh_token },
      })
      expectProblem(refresh, 401)
      // Logged out is not reused: the answer says what happened to this token.
      expect(refresh.json().detail).toBe(
        'This refresh token has been revoked (its login was logged out or revoked)',
      )
      // The token spent by the rotation above is presented again: that is a reuse, and says so.
      const reused = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refresh_token: session.tokens.refresh_token },
      })
      expectProblem(reused, 401)
      expect(reused.json().detail).toBe(
        'Refresh token was already used; all sessions of this login are revoked',
      )
      const again = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/logout',
        payload: { refresh_token: rotated.refresh_token },
      })
      expect(again.statusCode).toBe(204)
    })
  })

  describe('attacks on access tokens', () => {
    let session: Awaited<ReturnType<typeof signUp>>
    beforeAll(async () => {
      session = await signUp(t.app, 'victim')
    })

    it('rejects a token whose payload was changed (role escalation)', async () => {
      const [head, body, sig] = session.tokens.access_token.split('.') as [string, string, string]
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString())
      const forged = `${head}.${base64url({ ...claims, role: 'admin' })}.${sig}`
      expectProblem(await me(forged), 401)
      expectProblem(await t.app.inject({ url: '/api/v1/users', headers: bearer(forged) }), 401)
    })

    it('rejects alg:none', async () => {
      const claims = JSON.parse(
        Buffer.from(session.tokens.access_token.split('.')[1]!, 'base64url').toString(),
      )
      const unsigned = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ ...claims, role: 'admin' })}.`
      expectProblem(await me(unsigned), 401)
    })

    it('rejects a token signed with another secret', async () => {
      const sign = createSigner({
        key: randomBytes(48).toString('hex'),
        algorithm: 'HS256',
        expiresIn: 300_000,
      })
      const other = sign({ sub: session.id, role: 'admin', ver: 0, jti: 'x' })
      expectProblem(await me(other), 401)
    })

    it('rejects an HS256 token re-signed after an algorithm switch (HS512 with the same key)', async () => {
      const claims = JSON.parse(
        Buffer.from(session.tokens.access_token.split('.')[1]!, 'base64url').toString(),
      )
      const head = base64url({ alg: 'HS512', typ: 'JWT' })
      const body = base64url(claims)
      const sig = createHmac('sha512', t.config.jwtSecret).update(`${head}.${body}`).digest('base64url')
      expectProblem(await me(`${head}.${body}.${sig}`), 401)
    })

    it('rejects an expired token', async () => {
      // Signed correctly, but an hour ago with a 15-minute lifetime.
      const sign = createSigner({
        key: t.config.jwtSecret,
        algorithm: 'HS256',
        expiresIn: 900_000,
        clockTimestamp: Date.now() - 3_600_000,
      })
      const expired = sign({ sub: session.id, role: 'user', ver: 0, jti: 'expired' })
      const response = await me(expired)
      expect(expectProblem(response, 401).detail).toMatch(/expired/i)
    })

    it('rejects garbage and a non-bearer scheme', async () => {
      expectProblem(await me('not.a.jwt'), 401)
      const basic = await t.app.inject({
        url: '/api/v1/auth/me',
        headers: { authorization: 'Basic dXNlcjpwYXNz' },
      })
      expectProblem(basic, 401)
    })
  })

  describe('tokens follow the account', () => {
    it('a deleted user’s access and refresh tokens stop working at once', async () => {
      const session = await signUp(t.app, 'doomed')
      expect((await me(session.tokens.access_token)).statusCode).toBe(200)
      const deleted = await t.app.inject({
        method: 'DELETE',
        url: `/api/v1/users/${session.id}`,
        headers: session.headers,
      })
      expect(deleted.statusCode).toBe(204)
      expectProblem(await me(session.tokens.access_token), 401)
      const refresh = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refresh_token: session.tokens.refresh_token },
      })
      expectProblem(refresh, 401)
    })

    it('a password change ends existing access and refresh tokens; the new password logs in', async () => {
      const session = await signUp(t.app, 'rotator')
      const change = await t.app.inject({
        method: 'PATCH',
        url: `/api/v1/users/${session.id}`,
        headers: session.headers,
        payload: { password: 'brand-new-password', currentPassword: session.password },
      })
      expect(change.statusCode).toBe(200)
      expectProblem(await me(session.tokens.access_token), 401)
      const refresh = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refresh_token: session.tokens.refresh_token },
      })
      expectProblem(refresh, 401)
      expect((await me((await login(t.app, 'rotator', 'brand-new-password')).access_token)).statusCode).toBe(
        200,
      )
    })

    it('a role change ends existing access tokens', async () => {
      const admin = await adminSession(t.app)
      const session = await signUp(t.app, 'promoted')
      const change = await t.app.inject({
        method: 'PUT',
        url: `/api/v1/users/${session.id}/role`,
        headers: admin.headers,
        payload: { role: 'admin' },
      })
      expect(change.json().role).toBe('admin')
      expectProblem(await me(session.tokens.access_token), 401)
      const fresh = await login(t.app, 'promoted', session.password)
      expect(
        (await t.app.inject({ url: '/api/v1/users', headers: bearer(fresh.access_token) })).statusCode,
      ).toBe(200)
    })

    it('a deactivated user cannot log in or refresh, and their tokens stop working', async () => {
      const admin = await adminSession(t.app)
      const session = await signUp(t.app, 'sleeper')
      const deactivate = await t.app.inject({
        method: 'PATCH',
        url: `/api/v1/users/${session.id}`,
        headers: admin.headers,
        payload: { isActive: false },
      })
      expect(deactivate.json().isActive).toBe(false)
      expectProblem(await me(session.tokens.access_token), 401)
      const relogin = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'sleeper', password: session.password },
      })
      expectProblem(relogin, 401)
      const refresh = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refresh_token: session.tokens.refresh_token },
      })
      expectProblem(refresh, 401)
    })
  })

  it('bootstraps the admin from configuration, idempotently', async () => {
    const admin = await adminSession(t.app)
    expect((await me(admin.tokens.access_token)).json()).toMatchObject({
      username: ADMIN.username,
      role: 'admin',
    })
  })
})
