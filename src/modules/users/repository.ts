import { type Insertable, type Kysely, type Selectable, sql, type Updateable } from 'kysely'
import {
  type Database,
  type Executor,
  type Role,
  toBool,
  toIso,
  type UsersTable,
} from '../../platform/db-schema.js'

export type UserRow = Selectable<UsersTable>

export interface User {
  id: string
  username: string
  email: string
  passwordHash: string
  role: Role
  isActive: boolean
  tokenVersion: number
  createdAt: string
  updatedAt: string
}

function toUser(row: UserRow): User {
  return {
    ...row,
    isActive: toBool(row.isActive),
    createdAt: toIso(row.createdAt),
    updatedAt: toIso(row.updatedAt),
  }
}

export function createUsersRepository(db: Kysely<Database>) {
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

    async list(offset: number, limit: number): Promise<{ items: User[]; total: number }> {
      const [rows, count] = await Promise.all([
        db
          .selectFrom('users')
          .selectAll()
          .orderBy('createdAt', 'asc')
          .orderBy('id', 'asc')
          .offset(offset)
          .limit(limit)
          .execute(),
        db
          .selectFrom('users')
          .select((eb) => eb.fn.countAll<number>().as('total'))
          .executeTakeFirstOrThrow(),
      ])
      return { items: rows.map(toUser), total: Number(count.total) }
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

    /**
     * Ids of active admins. On PostgreSQL the rows are locked for the rest of the transaction, so two
     * concurrent demotions cannot both see "another admin remains" (SQLite serialises writers anyway).
     */
    async activeAdminIds(executor: Executor, lock: boolean): Promise<string[]> {
      let query = executor
        .selectFrom('users')
        .select('id')
        .where('role', '=', 'admin')
        .where('isActive', '=', 1)
      if (lock) query = query.forUpdate()
      return (await query.execute()).map((row) => row.id)
    },
  }
}

export type UsersRepository = ReturnType<typeof createUsersRepository>
