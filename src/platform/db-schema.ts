import type { ColumnType } from 'kysely'

/**
 * Timestamps are written as ISO-8601 UTC strings; PostgreSQL hands them back as Date (timestamptz),
 * SQLite as the stored text. Repositories normalise with `toIso`.
 */
export type Timestamp = ColumnType<Date | string, string, string>
/** SQLite has no boolean type: written as 1/0 (valid input for a PostgreSQL boolean too), read back as either. */
export type Flag = ColumnType<boolean | number, number, number>

export type Role = 'user' | 'admin'

export interface UsersTable {
  id: string
  username: string
  email: string
  passwordHash: string
  role: Role
  isActive: Flag
  /** Bumped whenever existing access tokens must stop working (role, password, deactivation). */
  tokenVersion: ColumnType<number, number | undefined, number>
  createdAt: Timestamp
  updatedAt: Timestamp
}

export interface RefreshTokensTable {
  id: string
  userId: string
  /** Every token descending from one login shares a family; reuse of a spent token revokes the family. */
  familyId: string
  tokenHash: string
  expiresAt: Timestamp
  usedAt: Timestamp | null
  revokedAt: Timestamp | null
  createdAt: Timestamp
}

export type MathOperation = 'fibonacci' | 'factorial' | 'power'

export interface MathHistoryTable {
  id: string
  userId: string
  operation: MathOperation
  /** JSON text of the call's input. */
  input: string
  resultPreview: string | null
  digits: number | null
  exact: Flag | null
  cached: Flag
  computeMs: number | null
  /** HTTP status the call was answered with (200, 422, 503). */
  status: number
  createdAt: Timestamp
}

export interface Database {
  users: UsersTable
  refreshTokens: RefreshTokensTable
  mathHistory: MathHistoryTable
}

export function toIso(value: Date | string): string {
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString()
}

export function toBool(value: boolean | number): boolean {
  return value === true || value === 1
}
