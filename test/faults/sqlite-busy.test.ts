import SQLite from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { expectProblem, useApp } from '../helpers.js'

/*
 * SQLite held by another process (a backup tool, a second server pointed at the same file by mistake):
 * past the 5 s busy timeout the write fails with SQLITE_BUSY, which is the store being unavailable — 503
 * with Retry-After, not 500 — and the service carries on once the lock is released.
 */
describe('SQLite locked by another connection', () => {
  const t = useApp({ name: 'sqlite' }, { users: ['blocked'] })

  it('answers a write 503 with Retry-After after the busy timeout, then works again', async () => {
    const other = new SQLite(t.config.databaseUrl.slice('sqlite:'.length))
    try {
      other.exec('begin exclusive')
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: t.users.blocked.headers,
        payload: { title: 'while locked' },
      })
      expectProblem(response, 503)
      expect(response.headers['retry-after']).toMatch(/^\d+$/)
      other.exec('rollback')
    } finally {
      other.close()
    }
    const after = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: t.users.blocked.headers,
      payload: { title: 'after' },
    })
    expect(after.statusCode).toBe(201)
  }, 30_000)
})
