import { randomUUID } from 'node:crypto'
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { PeriodicTask } from '../../platform/periodic.js'

/** Bytes being written: invisible under any key until committed. */
export interface WriteTarget {
  readonly stream: Writable
  /** Makes the written bytes durable and visible; returns the key to read them back by. */
  commit(): Promise<string>
  /** Discards whatever was written; safe after any failure, including a failed commit. */
  abort(): Promise<void>
}

/** Where file contents live. Keys are chosen by the storage, never derived from client input. */
export interface FileStorage {
  createWriteTarget(): Promise<WriteTarget>
  /** The content, or undefined when nothing is stored under the key (e.g. deleted meanwhile). */
  open(key: string): Promise<Readable | undefined>
  /** Idempotent: removing a missing key is not an error. */
  remove(key: string): Promise<void>
}

/** Keys this storage issues; anything else is refused before it can reach a path. */
const KEY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * Files under `<root>/<first two hex digits>/<uuid>`: the shard keeps directories small. Bytes are written
 * to `<uuid>.partial` beside their final name, flushed to disk and renamed, so a crash never leaves a
 * half-written file under a real key.
 */
export class LocalDiskStorage implements FileStorage {
  private readonly root: string

  constructor(root: string) {
    this.root = resolve(root)
  }

  private pathOf(key: string): string {
    if (!KEY.test(key)) throw new Error('not a storage key')
    return join(this.root, key.slice(0, 2), key)
  }

  async createWriteTarget(): Promise<WriteTarget> {
    const key = randomUUID()
    const path = this.pathOf(key)
    const temporary = `${path}.partial`
    const directory = join(this.root, key.slice(0, 2))
    await mkdir(directory, { recursive: true })
    // flush: fsync before close, so the rename below never publishes bytes still in the page cache.
    const stream: WriteStream = createWriteStream(temporary, { flags: 'wx', mode: 0o600, flush: true })
    // 'close' comes after the flush and the close of the descriptor, on success and on failure alike.
    const closed = () =>
      stream.closed ? Promise.resolve() : new Promise<void>((done) => stream.once('close', () => done()))
    return {
      stream,
      async commit() {
        await closed()
        await rename(temporary, path)
        await syncDirectory(directory)
        return key
      },
      async abort() {
        stream.destroy()
        await closed()
        await rm(temporary, { force: true })
        // A commit that failed after its rename has published bytes nobody holds the key to.
        await rm(path, { force: true })
      },
    }
  }

  async open(key: string): Promise<Readable | undefined> {
    const stream = createReadStream(this.pathOf(key))
    try {
      await new Promise<void>((opened, failed) => {
        stream.once('open', () => opened())
        stream.once('error', failed)
      })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
    return stream
  }

  async remove(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true })
  }

  /**
   * Deletes `.partial` files untouched for `idleMs`: what a process killed mid-upload leaves behind. An
   * upload in progress, here or on another instance sharing the directory, cannot go quiet for longer than
   * the request timeout, so `idleMs` above it never removes a live one. Returns how many went.
   */
  async removeAbandoned(idleMs: number): Promise<number> {
    const cutoff = Date.now() - idleMs
    let removed = 0
    for (const shard of await readdir(this.root).catch(() => [])) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue
      for (const name of await readdir(join(this.root, shard)).catch(() => [])) {
        if (!name.endsWith('.partial')) continue
        const path = join(this.root, shard, name)
        const info = await stat(path).catch(() => undefined)
        if (info && info.mtimeMs < cutoff) {
          await rm(path, { force: true })
          removed++
        }
      }
    }
    return removed
  }
}

/** Makes a rename durable. Some platforms cannot open or sync a directory; there the rename is as safe as it gets. */
async function syncDirectory(directory: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(directory, 'r')
    await handle.sync()
  } catch (error) {
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EBADF'].includes((error as NodeJS.ErrnoException).code ?? ''))
      throw error
  } finally {
    await handle?.close()
  }
}

/**
 * Uploads cut off by a crash leave `.partial` files. Swept once the longest possible upload has had time to
 * finish since this start (so a crash just before it is covered), then hourly.
 */
export function abandonedUploadSweep(
  storage: LocalDiskStorage,
  requestTimeoutMs: number,
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void },
): PeriodicTask {
  const abandonedAfterMs = requestTimeoutMs + 5000
  return new PeriodicTask({
    name: 'sweeping abandoned uploads',
    run: async () => {
      const removed = await storage.removeAbandoned(abandonedAfterMs)
      if (removed > 0) log.info({ removed }, 'removed abandoned partial uploads')
    },
    firstRunMs: abandonedAfterMs,
    intervalMs: 60 * 60_000,
    log,
  })
}
