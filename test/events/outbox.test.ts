import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../../src/platform/database.js'
import { appendEvent, createOutboxStore, type OutboxEvent } from '../../src/platform/events/outbox.js'
import { OutboxRelay } from '../../src/platform/events/relay.js'
import type { EventSink } from '../../src/platform/events/sink.js'
import { createMetrics } from '../../src/platform/metrics.js'
import { waitFor } from './support.js'

/** Refuses the first `failures` batches, then records what it accepts. */
class FlakySink implements EventSink {
  readonly accepted: OutboxEvent[] = []
  attempts = 0
  constructor(private failures: number) {}
  async publish(events: OutboxEvent[]): Promise<void> {
    this.attempts++
    if (this.failures-- > 0) throw new Error('broker unavailable')
    this.accepted.push(...events)
  }
  async close(): Promise<void> {}
}

const quiet = { warn() {}, info() {} }

describe('outbox relay (SQLite, injected sink)', () => {
  let dir: string
  let database: DatabaseHandle

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outbox-'))
    database = await openDatabase(`sqlite:${join(dir, 'test.db')}`)
    await migrateToLatest(database)
  })
  afterEach(async () => {
    await database.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const append = (n: number) =>
    database.db.transaction().execute(async (trx) => {
      for (let i = 0; i < n; i++) {
        await appendEvent(trx, {
          type: 'task.created',
          actor: { id: `user-${i % 3}`, role: 'user' },
          data: { i },
        })
      }
    })

  it('retries a failing batch with growing backoff and never skips ahead', async () => {
    await append(25)
    const sink = new FlakySink(4)
    const metrics = createMetrics()
    const store = createOutboxStore(database.db)
    const relay = new OutboxRelay({
      db: database.db,
      dialect: 'sqlite',
      store,
      sink,
      metrics,
      log: quiet,
      retentionDays: 7,
      batchSize: 10,
      backoffMinMs: 10,
      backoffMaxMs: 40,
    })
    const started = Date.now()
    relay.start()
    await waitFor(async () => sink.accepted.length === 25)
    await relay.close()
    // 10 + 20 + 40 + 40 ms of backoff: doubling, capped.
    expect(Date.now() - started).toBeGreaterThanOrEqual(100)
    expect(sink.accepted.map((event) => event.data.i)).toEqual(Array.from({ length: 25 }, (_, i) => i))
    expect(
      (await metrics.registry.getSingleMetric('events_publish_failures_total')?.get())?.values[0]?.value,
    ).toBe(4)
    expect((await metrics.registry.getSingleMetric('events_published_total')?.get())?.values[0]?.value).toBe(
      25,
    )
    expect((await store.backlog()).pending).toBe(0)
    // The failures are on the batch's first event, the one that waited.
    const first = await database.db
      .selectFrom('events')
      .select('attempts')
      .orderBy('id')
      .executeTakeFirstOrThrow()
    expect(first.attempts).toBe(4)
  })

  it('prunes delivered events past retention, never pending ones', async () => {
    await append(3)
    const store = createOutboxStore(database.db)
    const [oldDelivered, recentDelivered] = (await store.pending(3)).map((event) => event.id)
    await store.markPublished([oldDelivered!])
    await database.db
      .updateTable('events')
      .set({ publishedAt: new Date(Date.now() - 8 * 86_400_000).toISOString() })
      .where('id', '=', oldDelivered!)
      .execute()
    await store.markPublished([recentDelivered!])
    await database.db
      .updateTable('events')
      .set({ occurredAt: new Date(Date.now() - 30 * 86_400_000).toISOString() })
      .execute()
    expect(await store.prune(new Date(Date.now() - 7 * 86_400_000).toISOString())).toBe(1)
    const left = await store.list(undefined, 10)
    expect(left.map((event) => event.id)).not.toContain(oldDelivered)
    expect(left).toHaveLength(2)
    expect((await store.backlog()).pending).toBe(1)
  })
})
