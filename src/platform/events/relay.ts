import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import { type Kysely, sql } from 'kysely'
import type { Dialect } from '../database.js'
import type { Database } from '../db-schema.js'
import type { Component } from '../lifecycle.js'
import type { Metrics } from '../metrics.js'
import type { OutboxStore } from './outbox.js'
import type { EventSink } from './sink.js'

export interface RelayOptions {
  db: Kysely<Database>
  dialect: Dialect
  store: OutboxStore
  sink: EventSink
  metrics: Pick<Metrics, 'eventsPublished' | 'eventsPublishFailures'>
  log: Pick<FastifyBaseLogger, 'warn' | 'info'>
  retentionDays: number
  batchSize?: number
  /** How often an idle relay looks for new events. */
  pollMs?: number
  backoffMinMs?: number
  backoffMaxMs?: number
}

/** Any fixed 64-bit number the deployment does not use for another advisory lock: "outbox" in ASCII. */
const RELAY_LOCK_KEY = 0x6f7574626f78
const PRUNE_INTERVAL_MS = 60 * 60_000

type Outcome = 'more' | 'caught-up' | 'failed' | 'locked'

/**
 * Delivers pending outbox rows to the sink, oldest first, and marks them published. A failing batch is
 * retried (capped exponential backoff) and never skipped, so order holds; a crash between publish and
 * mark re-sends that batch on restart: delivery is at least once.
 */
export class OutboxRelay implements Component {
  readonly name = 'outbox relay'
  private readonly batchSize: number
  private readonly pollMs: number
  private readonly backoffMinMs: number
  private readonly backoffMaxMs: number
  private readonly stopping = new AbortController()
  private loop: Promise<void> | undefined
  private backoffMs = 0
  private lastPrune = 0

  constructor(private readonly options: RelayOptions) {
    this.batchSize = options.batchSize ?? 500
    this.pollMs = options.pollMs ?? 100
    this.backoffMinMs = options.backoffMinMs ?? 100
    this.backoffMaxMs = options.backoffMaxMs ?? 30_000
  }

  start(): void {
    this.loop ??= this.run()
  }

  /** Stops after the batch in flight (whose outcome is recorded) and closes the sink. */
  async close(): Promise<void> {
    this.stopping.abort()
    await this.loop
    await this.options.sink.close()
  }

  private async run(): Promise<void> {
    const { signal } = this.stopping
    while (!signal.aborted) {
      let outcome: Outcome
      try {
        outcome = await this.relayBatch()
      } catch (error) {
        // The database itself failed (down, timed out): same backoff as a broker failure.
        this.options.log.warn({ err: error }, 'outbox relay: reading or marking events failed')
        outcome = 'failed'
      }
      this.backoffMs = outcome === 'failed' ? this.nextBackoff() : 0
      if (outcome !== 'failed') await this.pruneIfDue()
      // A full batch means more are waiting: go again at once.
      if (outcome === 'more') continue
      await sleep(this.backoffMs || this.pollMs, undefined, { signal }).catch(() => {})
    }
  }

  private async relayBatch(): Promise<Outcome> {
    const { db, dialect } = this.options
    // SQLite is one process on one connection: no lock, and no transaction held across the publish
    // (it would block every other write for the duration).
    if (dialect === 'sqlite') return this.publishPending(db)
    // PostgreSQL: several instances share the table. The transaction-scoped advisory lock makes one relay
    // at a time select, publish and mark, so batches never interleave and per-key order holds.
    return db.transaction().execute(async (trx) => {
      const { rows } = await sql<{
        locked: boolean
      }>`select pg_try_advisory_xact_lock(${RELAY_LOCK_KEY}) as locked`.execute(trx)
      return rows[0]?.locked ? this.publishPending(trx) : 'locked'
    })
  }

  private async publishPending(executor: Kysely<Database>): Promise<Outcome> {
    const { store, sink, metrics, log } = this.options
    const batch = await store.pending(this.batchSize, executor)
    if (batch.length === 0) return 'caught-up'
    const ids = batch.map((event) => event.id)
    try {
      await sink.publish(batch)
    } catch (error) {
      metrics.eventsPublishFailures.inc()
      await store.countFailure(ids.slice(0, 1), executor)
      log.warn(
        { err: error, pending: batch.length, retryInMs: this.nextBackoff() },
        'outbox relay: publishing failed; will retry',
      )
      return 'failed'
    }
    await store.markPublished(ids, executor)
    metrics.eventsPublished.inc(batch.length)
    return batch.length === this.batchSize ? 'more' : 'caught-up'
  }

  private nextBackoff(): number {
    return Math.min(this.backoffMaxMs, Math.max(this.backoffMinMs, this.backoffMs * 2))
  }

  private async pruneIfDue(): Promise<void> {
    const now = Date.now()
    if (now - this.lastPrune < PRUNE_INTERVAL_MS) return
    this.lastPrune = now
    const cutoff = new Date(now - this.options.retentionDays * 86_400_000).toISOString()
    try {
      const pruned = await this.options.store.prune(cutoff)
      if (pruned > 0) this.options.log.info({ pruned }, 'outbox relay: pruned delivered events')
    } catch (error) {
      this.options.log.warn({ err: error }, 'outbox relay: pruning failed')
    }
  }
}
