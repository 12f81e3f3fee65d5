/**
 * Batches writes with no timer: the first write goes to the database at the end of the current turn of
 * the event loop (with every write requested in that turn), and everything that arrives while it is in
 * flight goes in the next single insert. Each caller's promise settles when
 * the batch holding its row has committed, so nothing is acknowledged before it is durable.
 */
export class GroupCommit<Row> {
  private pending: { row: Row; settle: (error?: unknown) => void }[] = []
  private draining: Promise<void> | undefined

  constructor(
    private readonly write: (rows: Row[]) => Promise<void>,
    private readonly maxBatch = 500,
    private readonly onBatch: (size: number) => void = () => {},
  ) {}

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
      try {
        await this.write(batch.map((entry) => entry.row))
        for (const entry of batch) entry.settle()
      } catch (error) {
        for (const entry of batch) entry.settle(error ?? new Error('write failed'))
      }
    }
    this.draining = undefined
  }
}
