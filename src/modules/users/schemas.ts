import { type Static, Type } from 'typebox'
import { named, PageOf, PageQuery, Timestamp, Uuid } from '../../platform/schemas.js'

export const Username = Type.String({
  minLength: 3,
  maxLength: 32,
  pattern: '^[A-Za-z0-9_.-]{3,32}$',
  description: '3–32 characters of A–Z, a–z, 0–9, _ . -; unique regardless of case',
})
export const Email = Type.String({
  format: 'email',
  maxLength: 254,
  description: 'Email address; unique regardless of case',
})
export const Password = Type.String({
  minLength: 8,
  maxLength: 128,
  description: 'Password, 8–128 characters',
})
export const Role = Type.Union([Type.Literal('user'), Type.Literal('admin')], {
  description: 'Role: user or admin',
})

export const UserPublic = named(
  'User',
  Type.Object(
    {
      id: Uuid,
      username: Username,
      email: Type.String({ description: 'Email address' }),
      role: Role,
      isActive: Type.Boolean({ description: 'False when an admin has deactivated the account' }),
      createdAt: Timestamp,
    },
    { description: 'A user account (never includes the password hash)' },
  ),
  {
    id: '0192d4e2-7c3a-7b1e-9f00-3c5a1b2d4e6f',
    username: 'ada',
    email: 'ada@example.com',
    role: 'user',
    isActive: true,
    createdAt: '2026-01-15T09:30:00.000Z',
  },
)

export type UserPublic = Static<typeof UserPublic>

export const UsersPage = PageOf(UserPublic, 'Users', 'oldest first', UserPublic.examples[0])

export const UsersListQuery = PageQuery
export type UsersListQuery = Static<typeof UsersListQuery>

export const UserUpdate = named(
  'UserUpdate',
  Type.Object(
    {
      email: Type.Optional(Email),
      password: Type.Optional(Password),
      currentPassword: Type.Optional(
        Type.String({ maxLength: 128, description: 'Required when changing your own password' }),
      ),
      isActive: Type.Optional(Type.Boolean({ description: 'Admin only: false deactivates the account' })),
    },
    { additionalProperties: false, minProperties: 1, description: 'Fields to change' },
  ),
  { password: 'a new long passphrase', currentPassword: 'the old passphrase' },
)
export type UserUpdate = Static<typeof UserUpdate>

export const RoleUpdate = named(
  'RoleUpdate',
  Type.Object({ role: Role }, { additionalProperties: false, description: 'The new role' }),
  { role: 'admin' },
)
export type RoleUpdate = Static<typeof RoleUpdate>

/** What a new account is made from: a sign-up's body, or the bootstrapped admin's configuration. */
export const NewUser = named(
  'Registration',
  Type.Object(
    { username: Username, email: Email, password: Password },
    { description: 'A new account; its role is always user' },
  ),
  { username: 'ada', email: 'ada@example.com', password: 'correct horse battery staple' },
)
export type NewUser = Static<typeof NewUser>
