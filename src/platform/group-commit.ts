import { isDependencyUnavailable } from './errors.js'

export interface GroupCommitOptions<Row> {
  /**
   * Whether a failed batch may hold rows that would succeed alone (a constraint one row violates), so the
   * batch is split and retried. Default: unless the database itself is unavailable, when retrying is pointless
   * and every caller gets the error at once.
   */
  isolate?: (error: unknown) => boolean
  /** Told about each row that failed on its own (its caller gets `error`); for a log line. */
  onRowFailed?: (error: unknown, row: Row) => void
}

/**
 * Batches writes with no timer: the first write goes to the database at the end of the current turn of
 * the event loop (with every write requested in that turn), and everything that arrives while it is in
 * flight goes in the next single insert. Each caller's promise settles when the batch holding its row has
 * committed, so nothing is acknowledged before it is durable.
 *
 * One caller's row never fails another's: when a batch fails for a reason a single row can cause (a foreign
 * key to a user deleted meanwhile), it is split in halves and each is written again, down to the failing
 * rows alone, whose callers get the error. A poisoned row costs about 2·log2(batch) extra transactions.
 */
export class GroupCommit<Row> {
  private pending: { row: Row; settle: (error?: unknown) => void }[] = []
  private draining: Promise<void> | undefined
  private readonly isolate: (error: unknown) => boolean
  private readonly onRowFailed: (error: unknown, row: Row) => void

  constructor(
    private readonly write: (rows: Row[]) => Promise<void>,
    private readonly maxBatch = 500,
    private readonly onBatch: (size: number) => void = () => {},
    options: GroupCommitOptions<Row> = {},
  ) {
    this.isolate = options.isolate ?? ((error) => !isDependencyUnavailable(error))
    this.onRowFailed = options.onRowFailed ?? (() => {})
  }

  add(row: Row): Promise<void> {
    const committed = new Promise<void>((resolve, reject) => {
      this.pending.push({ row, settle: (error) => (error === undefined ? resolve() : reject(error)) })
    })
    this.draining ??= this.drain()
    return committed
  }

  /** Resolves once every row added so far has been written (or has failed). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining
  }

  private async drain(): Promise<void> {
    // Let the writes of every request read in this turn of the event loop join the first batch. A
    // microtask is not enough: with a synchronous driver (SQLite) the whole write would finish before the
    // next request's I/O callback runs, and every batch would hold one row.
    await new Promise<void>((resolve) => setImmediate(resolve))
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatch)
      this.onBatch(batch.length)
      await this.commit(batch)
    }
    this.draining = undefined
  }

  private async commit(batch: { row: Row; settle: (error?: unknown) => void }[]): Promise<void> {
    let failure: unknown
    try {
      await this.write(batch.map((entry) => entry.row))
    } catch (error) {
      failure = error ?? new Error('write failed')
    }
    if (failure === undefined) {
      for (const entry of batch) entry.settle()
      return
    }
    const rowCaused = this.isolate(failure)
    if (batch.length === 1 || !rowCaused) {
      for (const entry of batch) {
        if (rowCaused) this.onRowFailed(failure, entry.row)
        entry.settle(failure)
      }
      return
    }
    const half = Math.ceil(batch.length / 2)
    await this.commit(batch.slice(0, half))
    await this.commit(batch.slice(half))
  }
}
