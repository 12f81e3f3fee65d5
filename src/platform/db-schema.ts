import type { ColumnType, Kysely, Transaction } from 'kysely'
import type { Static } from 'typebox'
import type { MathOperation } from '../modules/math/operation.js'
import type { Priority, Status } from '../modules/tasks/schemas.js'
import type { Role as RoleSchema } from '../modules/users/schemas.js'

/**
 * Timestamps are written as ISO-8601 UTC strings; PostgreSQL hands them back as Date (timestamptz),
 * SQLite as the stored text. Repositories normalise with `toIso`.
 */
export type Timestamp = ColumnType<Date | string, string, string>
/** SQLite has no boolean type: written as 1/0 (valid input for a PostgreSQL boolean too), read back as either. */
export type Flag = ColumnType<boolean | number, number, number>

/** Column value types are the API's, taken from the schemas (type-only imports: no runtime dependency). */
export type Role = Static<typeof RoleSchema>

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

export interface ProductsTable {
  id: string
  name: string
  description: string | null
  /** Integer cents, so prices are exact; bigint on PostgreSQL (read back as a number). */
  priceCents: number
  stock: number
  category: string
  /** Unique, regardless of case, among rows whose deletedAt is null. */
  sku: string
  createdAt: Timestamp
  updatedAt: Timestamp
  /** Soft delete: set instead of removing the row; every read skips such rows. */
  deletedAt: Timestamp | null
}

export type TaskPriority = Static<typeof Priority>
export type TaskStatus = Static<typeof Status>

export interface TasksTable {
  id: string
  ownerId: string
  title: string
  description: string | null
  priority: TaskPriority
  status: TaskStatus
  dueDate: Timestamp | null
  createdAt: Timestamp
  updatedAt: Timestamp
}

export interface FilesTable {
  id: string
  ownerId: string
  /** Sanitised client-supplied name: metadata only, never part of a path. */
  filename: string
  size: number
  /** Detected from the content, never taken from the client. */
  contentType: string
  sha256: string
  /** Where the storage keeps the bytes; random, unrelated to the filename. */
  storageKey: string
  createdAt: Timestamp
}

export interface EventsTable {
  /** UUIDv7: id order is publish order. */
  id: string
  type: string
  occurredAt: Timestamp
  actorUserId: string | null
  actorRole: Role | null
  requestId: string | null
  /** JSON text: ids, changed field names, operation inputs; never results, passwords or tokens. */
  data: string
  /** Null while pending. */
  publishedAt: Timestamp | null
  /** Failed publish attempts of the batch this event led. */
  attempts: ColumnType<number, number | undefined, number>
}

export interface IdempotencyKeysTable {
  scope: string
  idemKey: string
  fingerprint: string
  status: number
  body: string | null
  createdAt: Timestamp
}

export interface CacheVersionsTable {
  namespace: string
  version: number
}

export interface Database {
  users: UsersTable
  refreshTokens: RefreshTokensTable
  mathHistory: MathHistoryTable
  products: ProductsTable
  tasks: TasksTable
  files: FilesTable
  events: EventsTable
  idempotencyKeys: IdempotencyKeysTable
  cacheVersions: CacheVersionsTable
}

export function toIso(value: Date | string): string {
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString()
}

export function toBool(value: boolean | number): boolean {
  return value === true || value === 1
}

/** Where a repository runs a query: the database itself, or the transaction the caller opened. */
export type Executor = Kysely<Database> | Transaction<Database>
