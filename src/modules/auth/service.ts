import { createHash, randomBytes } from 'node:crypto'
import type { Transaction } from 'kysely'
import type { AccessTokens } from '../../platform/auth.js'
import type { Database } from '../../platform/db-schema.js'
import { unauthorized } from '../../platform/errors.js'
import { appendEvent } from '../../platform/events/outbox.js'
import { uuidv7 } from '../../platform/ids.js'
import type { Metrics } from '../../platform/metrics.js'
import { verifyAgainstDummy, verifyPassword } from '../../platform/passwords.js'
import type { Writes } from '../../platform/transactions.js'
import type { User, UsersRepository } from '../users/repository.js'
import type { RefreshTokensRepository } from './repository.js'
import type { TokenPair } from './schemas.js'

/** Refresh tokens are 256 random bits; only their SHA-256 is stored, so a database leak yields no usable token. */
const hashRefreshToken = (token: string) => createHash('sha256').update(token).digest('hex')

export interface AuthServiceDeps {
  writes: Writes
  users: UsersRepository
  refreshTokens: RefreshTokensRepository
  accessTokens: AccessTokens
  refreshTokenTtlSeconds: number
  metrics: Pick<Metrics, 'authFailures'>
}

export function createAuthService({
  writes,
  users,
  refreshTokens,
  accessTokens,
  refreshTokenTtlSeconds,
  metrics,
}: AuthServiceDeps) {
  /*
   * A session is stored only under a share lock on its user's row, taken before any refresh-token row is
   * touched (the order the users service follows too): a deletion, deactivation or password change either
   * commits first, and is seen, or waits until the session exists, and revokes it.
   */
  const lockUser = async (trx: Transaction<Database>, id: string) =>
    (await users.lockRows(trx, [{ id, mode: 'share' }])).get(id)

  async function issuePair(user: User, familyId: string, trx: Transaction<Database>): Promise<TokenPair> {
    const refreshToken = randomBytes(32).toString('base64url')
    await refreshTokens.insert(
      {
        id: uuidv7(),
        userId: user.id,
        familyId,
        tokenHash: hashRefreshToken(refreshToken),
        expiresAt: new Date(Date.now() + refreshTokenTtlSeconds * 1000).toISOString(),
      },
      trx,
    )
    const access = accessTokens.issue(user)
    return {
      access_token: access.token,
      token_type: 'bearer',
      expires_in: access.expiresIn,
      refresh_token: refreshToken,
    }
  }

  function fail(reason: string, message: string): never {
    metrics.authFailures.inc({ reason })
    throw unauthorized(message)
  }

  return {
    /** Same answer, and about the same time, for an unknown user, a wrong password and a deactivated account. */
    async login(username: string, password: string): Promise<TokenPair> {
      const user = await users.findByUsername(username)
      const valid = user
        ? await verifyPassword(user.passwordHash, password)
        : await verifyAgainstDummy(password)
      if (!user || !valid || !user.isActive) fail('bad_credentials', 'Incorrect username or password')
      const pair = await writes.transact(null, async (trx) => {
        // The password was verified against `user` as it was read; the account must still be that one.
        const current = await lockUser(trx, user.id)
        if (!current?.isActive || current.passwordHash !== user.passwordHash) return undefined
        const familyId = uuidv7()
        const issued = await issuePair(current, familyId, trx)
        await appendEvent(trx, {
          type: 'auth.login',
          actor: current,
          data: { userId: current.id, sessionId: familyId },
        })
        return issued
      })
      return pair ?? fail('bad_credentials', 'Incorrect username or password')
    },

    /**
     * Rotation: the presented token is spent and a new one of the same family issued. A token presented
     * twice means one copy is in someone else's hands; the whole family is revoked. A token revoked without
     * having been used (its login was logged out, or revoked with a reused sibling) is simply refused.
     */
    async refresh(presented: string): Promise<TokenPair> {
      const outcome = await writes.transact(null, async (trx) => {
        const record = await refreshTokens.findByHash(hashRefreshToken(presented), trx)
        if (!record) return { error: 'unknown' as const }
        const user = await lockUser(trx, record.userId)
        if (record.revokedAt && !record.usedAt) return { error: 'revoked' as const }
        if (record.usedAt || !(await refreshTokens.markUsed(record.id, trx))) {
          await refreshTokens.revokeFamily(record.familyId, trx)
          return { error: 'reused' as const }
        }
        if (record.expiresAt <= new Date().toISOString()) return { error: 'expired' as const }
        if (!user?.isActive) return { error: 'inactive' as const }
        const pair = await issuePair(user, record.familyId, trx)
        await appendEvent(trx, {
          type: 'auth.refresh',
          actor: user,
          data: { userId: user.id, sessionId: record.familyId },
        })
        return { pair }
      })
      if (outcome.pair) return outcome.pair
      if (outcome.error === 'reused')
        fail('refresh_reuse', 'Refresh token was already used; all sessions of this login are revoked')
      if (outcome.error === 'revoked')
        fail('refresh_revoked', 'This refresh token has been revoked (its login was logged out or revoked)')
      return fail(`refresh_${outcome.error}`, 'Invalid refresh token')
    },

    /** Ends the login the token belongs to. Unknown tokens are ignored: logout is idempotent. */
    async logout(presented: string): Promise<void> {
      const record = await refreshTokens.findByHash(hashRefreshToken(presented))
      if (!record) return
      await writes.transact(null, async (trx) => {
        await lockUser(trx, record.userId)
        await refreshTokens.revokeFamily(record.familyId, trx)
        await appendEvent(trx, {
          type: 'auth.logout',
          actor: { id: record.userId, role: null },
          data: { userId: record.userId, sessionId: record.familyId },
        })
      })
    },
  }
}

export type AuthService = ReturnType<typeof createAuthService>
