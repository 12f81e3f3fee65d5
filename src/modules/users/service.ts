import type { Transaction } from 'kysely'
import type { AuthUser } from '../../platform/auth.js'
import { uniqueViolation } from '../../platform/database.js'
import type { Database, Executor, Role } from '../../platform/db-schema.js'
import { badRequest, conflict, forbidden, notFound } from '../../platform/errors.js'
import { appendEvent } from '../../platform/events/outbox.js'
import { uuidv7 } from '../../platform/ids.js'
import { assertInScope } from '../../platform/ownership.js'
import { type Page, paginate } from '../../platform/pages.js'
import { hashPassword, verifyPassword } from '../../platform/passwords.js'
import type { Writes } from '../../platform/transactions.js'
import type { UserStateCache } from '../../platform/user-state-cache.js'
import type { RefreshTokensRepository } from '../auth/repository.js'
import type { User, UserLock, UsersRepository } from './repository.js'
import type { NewUser, UserPublic, UsersListQuery, UserUpdate } from './schemas.js'

export function toPublic(user: User): UserPublic {
  const { id, username, email, role, isActive, createdAt } = user
  return { id, username, email, role, isActive, createdAt }
}

function conflictFor(error: unknown): Error {
  const index = uniqueViolation(error)
  if (index?.includes('username')) return conflict('Username is already taken')
  if (index?.includes('email')) return conflict('Email is already registered')
  return error as Error
}

export interface UsersServiceDeps {
  writes: Writes
  users: UsersRepository
  refreshTokens: RefreshTokensRepository
  userStates: UserStateCache
  /**
   * Runs inside the deleting transaction once the checks have passed; what it returns runs after the
   * commit (the files module removes the user's stored bytes there).
   */
  beforeDelete?: (id: string, trx: Transaction<Database>) => Promise<() => Promise<void>>
}

/*
 * Every rule here reads what it checks inside the transaction that writes, under lock (PostgreSQL; SQLite
 * runs one write transaction at a time): the target's row is locked and read again, the caller's row is
 * locked and their state confirmed (confirmCaller), both in id order, and anything that may leave fewer
 * active admins first takes the admin-reductions lock. Only the slow, pure work (argon2 hashing and
 * verification) happens before, and its premise, the password hash it verified, is checked again inside.
 */
export function createUsersService({
  writes,
  users,
  refreshTokens,
  userStates,
  beforeDelete,
}: UsersServiceDeps) {
  /** Call after serializeAdminReductions, with the target as read under its lock. */
  async function assertAnotherAdminRemains(executor: Executor, target: User): Promise<void> {
    if (target.role !== 'admin' || !target.isActive) return
    const admins = await users.activeAdminIds(executor)
    if (admins.filter((id) => id !== target.id).length === 0) {
      throw conflict('The last active admin cannot be demoted, deactivated or deleted')
    }
  }

  const OWN_ACCOUNT_ONLY = 'You may only access your own account'

  /**
   * Locks the caller (share: their role and activation cannot change until this commits) and the target
   * (`targetMode`) in id order, confirms the caller, and returns the target as it is now; 404 without one.
   */
  async function lockActorAndTarget(
    trx: Transaction<Database>,
    actor: AuthUser,
    id: string,
    targetMode: Exclude<UserLock, 'share'>,
  ): Promise<User> {
    const rows = await users.lockRows(trx, [
      { id: actor.id, mode: 'share' },
      { id, mode: targetMode },
    ])
    await writes.confirmCaller(trx, actor, 'held')
    const target = rows.get(id)
    if (!target) throw notFound('No such user')
    return target
  }

  /** A self-registered user is the actor of their own registration; a bootstrapped admin has none. */
  async function create(input: NewUser, role: Role): Promise<User> {
    const now = new Date().toISOString()
    const id = uuidv7()
    const passwordHash = await hashPassword(input.password)
    try {
      return await writes.transact(
        null,
        async (trx) => {
          const user = await users.insert(
            {
              id,
              username: input.username,
              email: input.email,
              passwordHash,
              role,
              isActive: 1,
              tokenVersion: 0,
              createdAt: now,
              updatedAt: now,
            },
            trx,
          )
          await appendEvent(trx, {
            type: 'user.registered',
            actor: role === 'user' ? user : null,
            data: { userId: user.id, role },
          })
          return user
        },
        { callerLock: false, receipt: toPublic },
      )
    } catch (error) {
      throw conflictFor(error)
    }
  }

  return {
    /** Self-service sign-up: the role is always `user`, whatever the request said. */
    async register(input: NewUser): Promise<UserPublic> {
      return toPublic(await create(input, 'user'))
    },

    /**
     * First admin, from start-up configuration or the CLI. Idempotent: an existing account of that name is
     * promoted and reactivated, its password left alone.
     */
    async ensureAdmin(input: NewUser): Promise<{ user: UserPublic; created: boolean }> {
      const existing = await users.findByUsername(input.username)
      if (existing) {
        const promoted = await writes.transact(null, async (trx) => {
          const current = (await users.lockRows(trx, [{ id: existing.id, mode: 'no key update' }])).get(
            existing.id,
          )
          if (!current || (current.role === 'admin' && current.isActive)) return current
          const row = await users.bumpTokenVersion(
            current.id,
            { role: 'admin', isActive: 1, updatedAt: new Date().toISOString() },
            trx,
          )
          await appendEvent(trx, {
            type: 'user.role_changed',
            actor: null,
            data: { userId: current.id, from: current.role, to: 'admin', reactivated: !current.isActive },
          })
          return row
        })
        if (promoted) {
          await userStates.invalidate(promoted.id)
          return { user: toPublic(promoted), created: false }
        }
      }
      try {
        return { user: toPublic(await create(input, 'admin')), created: true }
      } catch (error) {
        // Another instance bootstrapping the same admin at the same moment won the race.
        const raced = await users.findByUsername(input.username)
        if (raced) return { user: toPublic(raced), created: false }
        throw error
      }
    },

    async get(actor: AuthUser, id: string): Promise<UserPublic> {
      assertInScope(actor, id, OWN_ACCOUNT_ONLY)
      const user = await users.findById(id)
      if (!user) throw notFound('No such user')
      return toPublic(user)
    },

    async list(query: UsersListQuery): Promise<Page<UserPublic>> {
      return paginate(query, (window) => users.list(window), toPublic)
    },

    async update(actor: AuthUser, id: string, changes: UserUpdate): Promise<UserPublic> {
      assertInScope(actor, id, OWN_ACCOUNT_ONLY)
      if (changes.isActive !== undefined && actor.role !== 'admin')
        throw forbidden('Only an admin may change isActive')
      const ownPasswordChange = changes.password !== undefined && actor.id === id
      // argon2 is slow: the current password is verified (and the new one hashed) before the transaction,
      // against the hash read here; inside, the hash must still be that one.
      let verifiedHash: string | undefined
      if (ownPasswordChange) {
        const before = await users.findById(id)
        if (!before) throw notFound('No such user')
        if (
          !changes.currentPassword ||
          !(await verifyPassword(before.passwordHash, changes.currentPassword))
        ) {
          throw badRequest('currentPassword is missing or wrong', [
            { path: '/body/currentPassword', message: 'must be your current password' },
          ])
        }
        verifiedHash = before.passwordHash
      }
      const passwordHash = changes.password === undefined ? undefined : await hashPassword(changes.password)
      const revokesSessions = passwordHash !== undefined || changes.isActive === false
      const patch = {
        updatedAt: new Date().toISOString(),
        ...(changes.email !== undefined ? { email: changes.email } : {}),
        ...(passwordHash !== undefined ? { passwordHash } : {}),
        ...(changes.isActive !== undefined ? { isActive: changes.isActive ? 1 : 0 } : {}),
      }
      let updated: User | undefined
      try {
        updated = await writes.withEvent(
          actor,
          async (trx) => {
            if (changes.isActive === false) await users.serializeAdminReductions(trx)
            const target = await lockActorAndTarget(trx, actor, id, 'no key update')
            if (verifiedHash !== undefined && target.passwordHash !== verifiedHash) {
              throw conflict('The password was changed meanwhile; verify with the current one and try again')
            }
            if (changes.isActive === false) await assertAnotherAdminRemains(trx, target)
            // The user's row is locked first, then their tokens: the order refresh and login follow too.
            if (revokesSessions) await refreshTokens.revokeAllForUser(id, trx)
            return revokesSessions ? users.bumpTokenVersion(id, patch, trx) : users.update(id, patch, trx)
          },
          () => ({
            type: 'user.updated',
            data: {
              userId: id,
              fields: (['email', 'password', 'isActive'] as const).filter(
                (field) => changes[field] !== undefined,
              ),
            },
          }),
          { callerLock: false },
        )
      } catch (error) {
        throw conflictFor(error)
      }
      if (!updated) throw notFound('No such user')
      if (revokesSessions) await userStates.invalidate(id)
      return toPublic(updated)
    },

    async setRole(actor: AuthUser, id: string, role: Role): Promise<UserPublic> {
      const updated = await writes.transact(
        actor,
        async (trx) => {
          if (role !== 'admin') await users.serializeAdminReductions(trx)
          const target = await lockActorAndTarget(trx, actor, id, 'no key update')
          if (target.role === role) return target
          if (role !== 'admin') await assertAnotherAdminRemains(trx, target)
          const row = await users.bumpTokenVersion(id, { role, updatedAt: new Date().toISOString() }, trx)
          if (row)
            await appendEvent(trx, {
              type: 'user.role_changed',
              actor,
              data: { userId: id, from: target.role, to: role },
            })
          return row
        },
        { callerLock: false },
      )
      if (!updated) throw notFound('No such user')
      await userStates.invalidate(id)
      return toPublic(updated)
    },

    async delete(actor: AuthUser, id: string): Promise<void> {
      assertInScope(actor, id, OWN_ACCOUNT_ONLY)
      const afterCommit = await writes.transact(
        actor,
        async (trx) => {
          await users.serializeAdminReductions(trx)
          const target = await lockActorAndTarget(trx, actor, id, 'update')
          await assertAnotherAdminRemains(trx, target)
          const after = await beforeDelete?.(id, trx)
          await users.delete(id, trx)
          await appendEvent(trx, { type: 'user.deleted', actor, data: { userId: id } })
          return after
        },
        { callerLock: false },
      )
      await userStates.invalidate(id)
      await afterCommit?.()
    },
  }
}

export type UsersService = ReturnType<typeof createUsersService>
