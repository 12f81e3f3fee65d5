import type { Insertable, Kysely } from 'kysely'
import type { Database, Executor, RefreshTokensTable } from '../../platform/db-schema.js'
import { toIso } from '../../platform/db-schema.js'

export function createRefreshTokensRepository(db: Kysely<Database>) {
  return {
    /** Stored when issued; the token's use and revocation are recorded later. */
    async insert(
      token: Omit<Insertable<RefreshTokensTable>, 'usedAt' | 'revokedAt' | 'createdAt'>,
      executor: Executor = db,
    ): Promise<void> {
      await executor
        .insertInto('refreshTokens')
        .values({ ...token, createdAt: new Date().toISOString() })
        .execute()
    },

    async findByHash(tokenHash: string, executor: Executor = db) {
      const row = await executor
        .selectFrom('refreshTokens')
        .select(['id', 'userId', 'familyId', 'expiresAt', 'usedAt', 'revokedAt'])
        .where('tokenHash', '=', tokenHash)
        .executeTakeFirst()
      return (
        row && {
          ...row,
          expiresAt: toIso(row.expiresAt),
          usedAt: row.usedAt === null ? null : toIso(row.usedAt),
          revokedAt: row.revokedAt === null ? null : toIso(row.revokedAt),
        }
      )
    },

    /** Marks the token spent; false when someone else spent it first (the caller treats that as reuse). */
    async markUsed(id: string, executor: Executor = db): Promise<boolean> {
      const result = await executor
        .updateTable('refreshTokens')
        .set({ usedAt: new Date().toISOString() })
        .where('id', '=', id)
        .where('usedAt', 'is', null)
        .where('revokedAt', 'is', null)
        .executeTakeFirst()
      return Number(result.numUpdatedRows) === 1
    },

    async revokeFamily(familyId: string, executor: Executor = db): Promise<void> {
      await executor
        .updateTable('refreshTokens')
        .set({ revokedAt: new Date().toISOString() })
        .where('familyId', '=', familyId)
        .where('revokedAt', 'is', null)
        .execute()
    },

    async revokeAllForUser(userId: string, executor: Executor = db): Promise<void> {
      await executor
        .updateTable('refreshTokens')
        .set({ revokedAt: new Date().toISOString() })
        .where('userId', '=', userId)
        .where('revokedAt', 'is', null)
        .execute()
    },

    /** Expired tokens are useless except as evidence for reuse detection, which their expiry also ends. */
    async deleteExpired(before: string): Promise<number> {
      const result = await db.deleteFrom('refreshTokens').where('expiresAt', '<', before).executeTakeFirst()
      return Number(result.numDeletedRows)
    },
  }
}

export type RefreshTokensRepository = ReturnType<typeof createRefreshTokensRepository>
