import { describe, expect, it } from 'vitest'
import {
  DependencyUnavailableError,
  isDependencyUnavailable,
  isForeignKeyViolation,
} from '../../src/platform/errors.js'

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code })

describe('isDependencyUnavailable', () => {
  it('recognises PostgreSQL SQLSTATE classes 08, 57P, 53, and 57014, 40001, 40P01', () => {
    for (const code of [
      '08000',
      '08003',
      '08006',
      '08P01',
      '57P01',
      '57P02',
      '57P03',
      '53300',
      '53100',
      '57014',
      '40001',
      '40P01',
    ])
      expect(isDependencyUnavailable(withCode(code)), code).toBe(true)
  })

  it('recognises Node network errnos and SQLite BUSY/LOCKED/IOERR codes, extended ones included', () => {
    for (const code of [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      'EHOSTUNREACH',
      'ENETUNREACH',
      'EAI_AGAIN',
    ])
      expect(isDependencyUnavailable(withCode(code)), code).toBe(true)
    for (const code of [
      'SQLITE_BUSY',
      'SQLITE_BUSY_SNAPSHOT',
      'SQLITE_LOCKED',
      'SQLITE_IOERR_WRITE',
      'SQLITE_FULL',
      'SQLITE_CANTOPEN',
    ])
      expect(isDependencyUnavailable(withCode(code)), code).toBe(true)
  })

  it('follows causes, and knows the wrapper the database layer raises from connection state', () => {
    expect(isDependencyUnavailable(new Error('outer', { cause: withCode('ECONNRESET') }))).toBe(true)
    expect(
      isDependencyUnavailable(new DependencyUnavailableError('database', { cause: new Error('whatever') })),
    ).toBe(true)
  })

  it('does not read message text, and leaves the query’s own errors alone', () => {
    for (const message of [
      'Connection terminated unexpectedly',
      'Client has encountered a connection error and is not queryable',
      'timeout exceeded when trying to connect',
      'Query read timeout',
    ])
      expect(isDependencyUnavailable(new Error(message)), message).toBe(false)
    for (const code of [
      '23505',
      '23503',
      '42P01',
      '22P02',
      'SQLITE_CONSTRAINT_UNIQUE',
      'SQLITE_ERROR',
      'ERR_X',
    ])
      expect(isDependencyUnavailable(withCode(code)), code).toBe(false)
    expect(isDependencyUnavailable(undefined)).toBe(false)
    expect(isDependencyUnavailable('ECONNRESET')).toBe(false)
  })
})

describe('isForeignKeyViolation', () => {
  it('recognises PostgreSQL 23503 and SQLite SQLITE_CONSTRAINT_FOREIGNKEY', () => {
    expect(isForeignKeyViolation(withCode('23503'))).toBe(true)
    expect(isForeignKeyViolation(withCode('SQLITE_CONSTRAINT_FOREIGNKEY'))).toBe(true)
    expect(isForeignKeyViolation(withCode('23505'))).toBe(false)
    expect(isForeignKeyViolation(null)).toBe(false)
  })
})
