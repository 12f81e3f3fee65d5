import SQLite from 'better-sqlite3'
import { Redis } from 'ioredis'
import pg from 'pg'
import { Piscina } from 'piscina'
import { afterEach, expect, it, vi } from 'vitest'
import { buildTestApp, describeEachBackend } from '../helpers.js'

/*
 * Shutdown closes every long-lived part even when one of them fails to close: the parts it depends on
 * (Redis, the database) still close after it and the failure is logged with the part's name. Closing the
 * app still fails with that part's error, as it did before the parts were closed by a Lifecycle: the
 * server's shutdown then exits non-zero, which is how an unclean shutdown shows.
 */

afterEach(() => {
  vi.restoreAllMocks()
})

describeEachBackend('shutdown with a part that fails to close', (backend) => {
  it('closes Redis and the database after the math pool failed to close, logs which part failed, and still fails', async () => {
    const lines: string[] = []
    const t = await buildTestApp(
      backend,
      { LOG_LEVEL: 'warn' },
      { logger: true, logStream: { write: (line) => void lines.push(line) } },
    )
    // The workers are ended all the same (nothing is left running); only the answer is a failure.
    const realDestroy = Piscina.prototype.destroy
    const destroy = vi.spyOn(Piscina.prototype, 'destroy').mockImplementationOnce(async function (
      this: Piscina,
    ) {
      await realDestroy.call(this)
      throw new Error('workers stuck')
    })
    const databaseClosed =
      backend.name === 'sqlite' ? vi.spyOn(SQLite.prototype, 'close') : vi.spyOn(pg.Pool.prototype, 'end')
    const redisQuit = vi.spyOn(Redis.prototype, 'quit')

    await expect(t.app.close()).rejects.toThrow('workers stuck')

    expect(destroy).toHaveBeenCalledTimes(1)
    expect(databaseClosed).toHaveBeenCalled()
    if (backend.redisUrl) expect(redisQuit).toHaveBeenCalled()
    const failures = lines
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.msg === 'closing a component failed')
    expect(failures).toEqual([expect.objectContaining({ level: 40, component: 'math pool' })])
    vi.restoreAllMocks()
    await t.close()
  })
})
