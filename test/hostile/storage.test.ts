import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createServices } from '../../src/app.js'
import { createHistoryRepository } from '../../src/modules/history/repository.js'
import { createBatchInsert } from '../../src/platform/batch-insert.js'
import { openDatabase } from '../../src/platform/database.js'
import type { EventSink } from '../../src/platform/events/sink.js'
import { Retention } from '../../src/platform/retention.js'
import { adminSession, buildTestApp, describeEachBackend, signUp, useApp } from '../helpers.js'

/*
 * Class 6 of issue 10: a call with two 10,000-digit operands stored ~40 KiB (in its history row and again
 * in its event), history was kept forever, and without a broker so were events. Now a row plus its event
 * stays under 2 KiB whatever the input, and both tables have a retention.
 */

const DAY_MS = 86_400_000
const BUDGET_BYTES = 2048

/** Bytes a row's values take as text: what a row costs, give or take fixed-size columns. */
const rowBytes = (row: Record<string, unknown>) =>
  Object.values(row).reduce<number>((sum, value) => sum + Buffer.byteLength(String(value ?? '')), 0)

const digitsOf = (seed: number, length: number) => {
  let text = String(1 + (seed % 9))
  while (text.length < length)
    text += createHash('sha256').update(text.slice(-64)).digest('hex').replace(/\D/g, '')
  return text.slice(0, length)
}

describeEachBackend('hostile input: stored footprint and retention', (backend) => {
  const t = useApp(backend, {
    admin: 'after users',
    users: ['hoarder'],
    env: { HISTORY_RETENTION_DAYS: '1' },
  })

  const power = (body: object) =>
    t.app.inject({
      method: 'POST',
      url: '/api/v1/math/power',
      headers: { ...t.users.hoarder.headers, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    })

  it('a history row plus its event stays under 2 KiB whatever the operands', async () => {
    const big = digitsOf(1, 10_000)
    const bigger = digitsOf(2, 10_000)
    const responses = [
      await power({ base: big, exponent: 2 }), // 200: a 20,000-digit result
      await power({ base: `-${big}`, exponent: 3, modulus: bigger }), // 200: modular
      await power({ base: big, exponent: bigger }), // 422: over the result limit, recorded
      await power({ base: big, exponent: '-1' }), // 422: a double power of a 10,000-digit integer
    ]
    expect(responses.map((response) => response.statusCode)).toEqual([200, 200, 422, 422])
    expect(responses[0]!.json().input.base).toBe(big)

    const database = await openDatabase(t.config.databaseUrl)
    try {
      const rows = await database.db
        .selectFrom('mathHistory')
        .selectAll()
        .where('userId', '=', t.users.hoarder.id)
        .execute()
      expect(rows).toHaveLength(4)
      const events = await database.db
        .selectFrom('events')
        .selectAll()
        .where('type', '=', 'math.computed')
        .execute()
      for (const row of rows) {
        const event = events.find((candidate) => JSON.parse(candidate.data).historyId === row.id)
        expect(event).toBeDefined()
        const bytes = rowBytes(row) + rowBytes(event!)
        expect(bytes, `history ${row.id}: ${bytes} bytes`).toBeLessThan(BUDGET_BYTES)
        // The event carries the same digest as the row, not the operand.
        expect(JSON.parse(event!.data).input).toEqual(JSON.parse(row.input))
      }
    } finally {
      await database.close()
    }

    // What is kept still identifies the operand: its first and last digits, its length and its hash.
    const history = (
      await t.app.inject({ url: '/api/v1/history?limit=4', headers: t.users.hoarder.headers })
    ).json()
    const stored = history.items.find(
      (item: { status: number; input: { modulus?: unknown } }) => item.input.modulus,
    )
    expect(stored.input.base).toEqual({
      preview: `-${big.slice(0, 23)}…${big.slice(-24)}`,
      digits: 10_000,
      sha256: createHash('sha256').update(`-${big}`).digest('hex'),
    })
    expect(stored.input.exponent).toBe(3)
    expect(stored.resultPreview.length).toBeLessThanOrEqual(64)
  })

  it('short operands are stored as sent', async () => {
    expect((await power({ base: '123456789012345678901234567890', exponent: 2 })).statusCode).toBe(200)
    const history = (
      await t.app.inject({ url: '/api/v1/history?limit=1', headers: t.users.hoarder.headers })
    ).json()
    expect(history.items[0].input).toEqual({ base: '123456789012345678901234567890', exponent: 2 })
  })

  it('HISTORY_RETENTION_DAYS prunes history; without a broker, EVENTS_RETENTION_DAYS prunes every event', async () => {
    // A second set of services on the same database runs retention with the clock moved forward.
    const services = await createServices(t.config, t.app.log)
    try {
      const counts = async () => {
        const history = (
          await t.app.inject({ url: '/api/v1/history?limit=100', headers: t.admin.headers })
        ).json()
        const events = (
          await t.app.inject({ url: '/api/v1/events?limit=500', headers: t.admin.headers })
        ).json()
        return { history: history.items.length, events: events.items.length }
      }
      const before = await counts()
      expect(before.history).toBeGreaterThan(0)
      expect(await services.retention.runOnce(Date.now())).toEqual({ math_history: 0, events: 0 })
      expect(await counts()).toEqual(before)

      // Two days on: history (1 day) goes, events (7 days by default) stay.
      const twoDays = await services.retention.runOnce(Date.now() + 2 * DAY_MS)
      expect(twoDays.math_history).toBe(before.history)
      expect(twoDays.events).toBe(0)
      expect((await counts()).history).toBe(0)

      // Eight days on: undelivered events go too, since nothing will ever deliver them.
      const eightDays = await services.retention.runOnce(Date.now() + 8 * DAY_MS)
      expect(eightDays.events).toBeGreaterThanOrEqual(before.events)
      expect((await counts()).events).toBe(0)

      // Calls made since are unaffected by a prune of the past.
      expect((await power({ base: 2, exponent: 10 })).statusCode).toBe(200)
      await services.retention.runOnce(Date.now())
      expect((await counts()).history).toBe(1)
    } finally {
      await services.close()
    }
  })

  it('prunes in batches: more rows than one batch all go', async () => {
    const calls = Array.from({ length: 30 }, (_, i) => power({ base: i + 3, exponent: 5 }))
    expect(new Set((await Promise.all(calls)).map((response) => response.statusCode))).toEqual(new Set([200]))
    const database = await openDatabase(t.config.databaseUrl)
    try {
      const remaining = async () =>
        Number(
          (
            await database.db
              .selectFrom('mathHistory')
              .select((eb) => eb.fn.countAll().as('count'))
              .executeTakeFirstOrThrow()
          ).count,
        )
      expect(await remaining()).toBeGreaterThanOrEqual(30)
      const repository = createHistoryRepository(database.db, createBatchInsert(database))
      const retention = new Retention({
        rules: [{ name: 'h', days: 1, prune: (id, limit) => repository.deleteBefore(id, limit) }],
        log: t.app.log,
        batchSize: 7,
      })
      expect((await retention.runOnce(Date.now() + 2 * DAY_MS)).h).toBeGreaterThanOrEqual(30)
      expect(await remaining()).toBe(0)
    } finally {
      await database.close()
    }
  })
})

describe('retention defaults [sqlite]', () => {
  it('history is kept when HISTORY_RETENTION_DAYS is unset; pending events are kept while a broker is configured', async () => {
    const t = await buildTestApp({ name: 'sqlite' })
    const unreachableBroker: EventSink = {
      publish: () => Promise.reject(new Error('broker down')),
      close: () => Promise.resolve(),
    }
    const services = await createServices(t.config, t.app.log, { eventSink: unreachableBroker })
    try {
      const user = await signUp(t.app, 'keeper')
      const response = await t.app.inject({ url: '/api/v1/math/fibonacci/20', headers: user.headers })
      expect(response.statusCode).toBe(200)
      expect(await services.retention.runOnce(Date.now() + 3650 * DAY_MS)).toEqual({})
      const history = (await t.app.inject({ url: '/api/v1/history', headers: user.headers })).json()
      expect(history.items).toHaveLength(1)
      const admin = await adminSession(t.app)
      expect(
        (await t.app.inject({ url: '/api/v1/events', headers: admin.headers })).json().items.length,
      ).toBeGreaterThan(0)
    } finally {
      await services.close()
      await t.close()
    }
  })

  it('HISTORY_RETENTION_DAYS must be a whole number of days ≥ 1', async () => {
    await expect(buildTestApp({ name: 'sqlite' }, { HISTORY_RETENTION_DAYS: '0' })).rejects.toThrow(
      /HISTORY_RETENTION_DAYS/,
    )
    await expect(buildTestApp({ name: 'sqlite' }, { HISTORY_RETENTION_DAYS: 'forever' })).rejects.toThrow(
      /HISTORY_RETENTION_DAYS/,
    )
  })
})
