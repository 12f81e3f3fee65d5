import SQLite from 'better-sqlite3'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterEach, expect, it, vi } from 'vitest'
import { createServices } from '../../src/app.js'
import { describeEachBackend, useApp } from '../helpers.js'

/*
 * A start that fails half-way (here: the math pool cannot start its threads, as with MATH_ENGINE=gmp and no
 * addon) closes what it had already opened: the database and Redis. Before, only a failure while migrating
 * or connecting Redis did; a later one left both open in a process that embeds the service (or a test).
 */

const threads = vi.hoisted(() => ({ fail: false }))
vi.mock('piscina', async (importOriginal) => {
  const actual = await importOriginal<typeof import('piscina')>()
  class Piscina extends actual.Piscina {
    constructor(...args: ConstructorParameters<typeof actual.Piscina>) {
      if (threads.fail) throw new Error('no threads')
      super(...args)
    }
  }
  return { ...actual, Piscina, default: Piscina }
})

afterEach(() => {
  threads.fail = false
  vi.restoreAllMocks()
})

describeEachBackend('a start that fails half-way', (backend) => {
  const t = useApp(backend)

  it('closes the database and Redis it had opened, and fails with the cause', async () => {
    threads.fail = true
    const databaseClosed =
      backend.name === 'sqlite' ? vi.spyOn(SQLite.prototype, 'close') : vi.spyOn(pg.Pool.prototype, 'end')
    const redisQuit = vi.spyOn(Redis.prototype, 'quit')

    await expect(createServices(t.config, t.app.log)).rejects.toThrow('no threads')

    expect(databaseClosed).toHaveBeenCalled()
    if (backend.redisUrl) expect(redisQuit).toHaveBeenCalled()
  })
})
