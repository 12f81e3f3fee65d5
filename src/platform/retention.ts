import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { Kysely } from 'kysely'
import type { Database } from './db-schema.js'
import { uuidv7Floor } from './ids.js'
import type { Component } from './lifecycle.js'
import { PeriodicTask } from './periodic.js'

/*
 * Age-based pruning of tables keyed by UUIDv7 (history, events): everything whose id sorts below the
 * lowest id of the cutoff's millisecond is older than the cutoff, so the primary key alone finds it. Rows
 * go in small batches with a turn of the event loop between them, so neither a SQLite write (synchronous)
 * nor a PostgreSQL lock is held for long. Every instance may run it: deleting is idempotent.
 */

/**
 * A rule's prune step for a table keyed by UUIDv7: deletes up to `limit` of its oldest rows whose id sorts
 * below `beforeId`, and resolves to how many it deleted.
 */
export async function deleteOldestBefore(
  db: Kysely<Database>,
  table: 'mathHistory' | 'events',
  beforeId: string,
  limit: number,
): Promise<number> {
  const oldest = db.selectFrom(table).select('id').where('id', '<', beforeId).orderBy('id').limit(limit)
  const result = await db.deleteFrom(table).where('id', 'in', oldest).executeTakeFirst()
  return Number(result.numDeletedRows)
}

export interface RetentionRule {
  /** For the log: 'history', 'events'. */
  name: string
  days: number
  /** Deletes up to `limit` rows whose id sorts below `beforeId`; resolves to how many it deleted. */
  prune(beforeId: string, limit: number): Promise<number>
}

export interface RetentionOptions {
  rules: RetentionRule[]
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void }
  /** First run after this long (so a start-up is not slowed down), then every intervalMs. */
  firstRunMs?: number
  intervalMs?: number
  batchSize?: number
}

const DAY_MS = 86_400_000

/** Age-based pruning of every rule's table, an hour apart (the first a minute after start). */
export class Retention implements Component {
  readonly name = 'retention'
  private readonly schedule: PeriodicTask
  private stopped = false

  constructor(private readonly options: RetentionOptions) {
    this.schedule = new PeriodicTask({
      name: 'retention',
      run: () => this.runOnce(),
      firstRunMs: options.firstRunMs ?? 60_000,
      intervalMs: options.intervalMs ?? 60 * 60_000,
      log: options.log,
    })
  }

  start(): void {
    if (this.options.rules.length > 0) this.schedule.start()
  }

  /** Prunes every rule once; resolves to rows deleted per rule. Failures are logged, never thrown. */
  async runOnce(now = Date.now()): Promise<Record<string, number>> {
    const batch = this.options.batchSize ?? 500
    const deleted: Record<string, number> = {}
    for (const rule of this.options.rules) {
      const beforeId = uuidv7Floor(now - rule.days * DAY_MS)
      let total = 0
      try {
        for (;;) {
          if (this.stopped) break
          const count = await rule.prune(beforeId, batch)
          total += count
          if (count < batch) break
          await yieldToEventLoop()
        }
      } catch (error) {
        this.options.log.warn({ err: error, table: rule.name }, 'retention: pruning failed; retried next run')
      }
      deleted[rule.name] = total
      if (total > 0) {
        this.options.log.info(
          { table: rule.name, deleted: total, days: rule.days },
          'retention: pruned old rows',
        )
      }
    }
    return deleted
  }

  /** Stops between batches: a run in progress ends after the batch it is deleting. */
  async close(): Promise<void> {
    this.stopped = true
    await this.schedule.close()
  }
}
