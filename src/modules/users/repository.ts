import { type Insertable, type Kysely, type Selectable, sql, type Updateable } from 'kysely'
import type { Dialect } from '../../platform/database.js'
import { type Database, type Executor, toBool, toIso, type UsersTable } from '../../platform/db-schema.js'
import { type Counted, countTotal, type PageWindow, readWindow } from '../../platform/pages.js'
import type { UserPublic } from './schemas.js'

/** An account as the service works with it: what the API shows, and the columns it never shows. */
export type User = UserPublic &
  Pick<Selectable<UsersTable>, 'passwordHash' | 'tokenVersion'> & { updatedAt: string }

/** How a transaction holds a user's row on PostgreSQL: to keep it from changing, to change it, to delete it. */
export type UserLock = 'share' | 'no key update' | 'update'

function toUser(row: Selectable<UsersTable>): User {
  return {
    ...row,
    isActive: toBool(row.isActive),
    createdAt: toIso(row.createdAt),
    updatedAt: toIso(row.updatedAt),
  }
}

export function createUsersRepository(db: Kysely<Database>, dialect: Dialect) {
  const postgres = dialect === 'postgres'
  return {
    async insert(user: Insertable<UsersTable>, executor: Executor = db): Promise<User> {
      const row = await executor.insertInto('users').values(user).returningAll().executeTakeFirstOrThrow()
      return toUser(row)
    },

    async findById(id: string, executor: Executor = db): Promise<User | undefined> {
      const row = await executor.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
      return row && toUser(row)
    },

    async findByUsername(username: string, executor: Executor = db): Promise<User | undefined> {
      const row = await executor
        .selectFrom('users')
        .selectAll()
        .where(sql<string>`lower(username)`, '=', username.toLowerCase())
        .executeTakeFirst()
      return row && toUser(row)
    },

    async list(window: PageWindow): Promise<Counted<User>> {
      const users = db.selectFrom('users')
      return readWindow(
        users.selectAll().orderBy('createdAt', 'asc').orderBy('id', 'asc'),
        users.select(countTotal),
        window,
        toUser,
      )
    },

    async update(
      id: string,
      patch: Updateable<UsersTable>,
      executor: Executor = db,
    ): Promise<User | undefined> {
      const row = await executor
        .updateTable('users')
        .set(patch)
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst()
      return row && toUser(row)
    },

    async bumpTokenVersion(
      id: string,
      patch: Updateable<UsersTable>,
      executor: Executor = db,
    ): Promise<User | undefined> {
      const row = await executor
        .updateTable('users')
        .set((eb) => ({ ...patch, tokenVersion: eb('tokenVersion', '+', 1) }))
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst()
      return row && toUser(row)
    },

    async delete(id: string, executor: Executor = db): Promise<boolean> {
      const result = await executor.deleteFrom('users').where('id', '=', id).executeTakeFirst()
      return Number(result.numDeletedRows) > 0
    },

    /** Ids of active admins; read after `serializeAdminReductions`, so no concurrent reduction is missed. */
    async activeAdminIds(executor: Executor): Promise<string[]> {
      const rows = await executor
        .selectFrom('users')
        .select('id')
        .where('role', '=', 'admin')
        .where('isActive', '=', 1)
        .execute()
      return rows.map((row) => row.id)
    },

    /**
     * Everything that may leave fewer active admins (demotion, deactivation, deletion) takes this lock first,
     * for the rest of its transaction (PostgreSQL: a transaction-level advisory lock, per schema; SQLite runs
     * one write transaction at a time anyway). Each then counts the admins that remain after every earlier
     * reduction committed, so two of them can never both see "another admin remains" about each other.
     */
    async serializeAdminReductions(executor: Executor): Promise<void> {
      if (postgres)
        await sql`select pg_advisory_xact_lock(hashtext(current_schema() || ':users:admin-reductions'))`.execute(
          executor,
        )
    },

    /**
     * The users' current rows, locked for the rest of the transaction on PostgreSQL: 'share' keeps them from
     * changing, 'no key update' is taken to change one, 'update' to delete one. Always in id order, the one
     * order every transaction locking two users follows, so two of them cannot wait on each other.
     */
    async lockRows(executor: Executor, locks: { id: string; mode: UserLock }[]): Promise<Map<string, User>> {
      const strongest = new Map<string, UserLock>()
      const rank = { share: 0, 'no key update': 1, update: 2 } as const
      for (const { id, mode } of locks) {
        const held = strongest.get(id)
        if (held === undefined || rank[mode] > rank[held]) strongest.set(id, mode)
      }
      const found = new Map<string, User>()
      for (const id of [...strongest.keys()].sort()) {
        let query = executor.selectFrom('users').selectAll().where('id', '=', id)
        const mode = strongest.get(id)
        if (postgres)
          query =
            mode === 'update'
              ? query.forUpdate()
              : mode === 'no key update'
                ? query.forNoKeyUpdate()
                : query.forShare()
        const row = await query.executeTakeFirst()
        if (row) found.set(id, toUser(row))
      }
      return found
    },
  }
}

export type UsersRepository = ReturnType<typeof createUsersRepository>
