import type { Kysely } from 'kysely'
import type { Database, Executor } from './db-schema.js'
import type { RedisHandle } from './redis.js'

/*
 * Versions of cached namespaces (product reads), for keys like `products:v42:list:…`: a write bumps the
 * version, so every entry cached before it becomes unreachable at once, on every instance, with no key scan.
 *
 * The database holds the truth: the version is bumped in the transaction of the write itself, so no write
 * can commit without it (a crash right after the commit included). Redis holds a copy that every cached
 * read asks for, refreshed from the database when it is missing and living at most VERSION_TTL_MS:
 * - the writer publishes the new version to Redis right after its commit, so the next read anywhere
 *   misses and sees the write;
 * - while an instance cannot reach Redis it reads the version from the database on every cached read (a
 *   primary-key lookup, cheaper than the read it guards), so its local tier never serves an entry a write
 *   has made stale, and it uses Redis again as soon as Redis answers;
 * - if the writer could not publish (it lost Redis while others did not), the others still read the old
 *   copy until it expires: a write is visible everywhere within VERSION_TTL_MS at worst.
 */

export const VERSION_TTL_MS = 2000

/** Raises the copy to ARGV[1] if that is newer (never lowers it), with ARGV[2] ms to live; the copy's value. */
const OFFER_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
local offered = tonumber(ARGV[1])
if offered > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return offered
end
return current
`

export interface NamespaceVersionsOptions {
  db: Kysely<Database>
  redis?: RedisHandle
  ttlMs?: number
}

export class NamespaceVersions {
  private readonly ttlMs: number
  /**
   * The highest version this instance knows to be committed, per namespace (its own writes, and what it
   * read from the database). The Redis copy may lag behind it — a write whose publication failed while
   * Redis was unreachable, with the old copy still alive when Redis returns — so the copy is never used
   * below it, and is raised to it again.
   */
  private readonly known = new Map<string, number>()

  constructor(private readonly options: NamespaceVersionsOptions) {
    this.ttlMs = options.ttlMs ?? VERSION_TTL_MS
  }

  /** In the writer's transaction: the namespace's next version (the row lock orders concurrent writers). */
  async bump(trx: Executor, namespace: string): Promise<number> {
    const row = await trx
      .insertInto('cacheVersions')
      .values({ namespace, version: 1 })
      .onConflict((oc) =>
        oc.column('namespace').doUpdateSet((eb) => ({ version: eb('cacheVersions.version', '+', 1) })),
      )
      .returning('version')
      .executeTakeFirstOrThrow()
    return Number(row.version)
  }

  /** After the commit: tells every instance at once. Best effort; without Redis the bound above applies. */
  async publish(namespace: string, version: number): Promise<void> {
    this.noteKnown(namespace, version)
    await this.offer(namespace, version)
  }

  /** The version to key cached entries of `namespace` with. */
  async current(namespace: string): Promise<number> {
    const redis = this.options.redis
    const known = this.known.get(namespace) ?? 0
    if (redis?.isReady()) {
      try {
        const copy = await redis.client.get(this.key(namespace))
        if (copy !== null) {
          const version = Number(copy)
          if (version >= known) return version
          // A copy older than a version committed here: it was never told (see `known`).
          const offered = await this.offer(namespace, known)
          return Math.max(known, offered ?? known)
        }
      } catch {
        // Redis failed mid-command: the database answers instead.
      }
    }
    const stored = await this.read(namespace)
    this.noteKnown(namespace, stored)
    const offered = await this.offer(namespace, Math.max(stored, known))
    return Math.max(stored, known, offered ?? stored)
  }

  private noteKnown(namespace: string, version: number): void {
    if (version > (this.known.get(namespace) ?? 0)) this.known.set(namespace, version)
  }

  private async read(namespace: string): Promise<number> {
    const row = await this.options.db
      .selectFrom('cacheVersions')
      .select('version')
      .where('namespace', '=', namespace)
      .executeTakeFirst()
    return row ? Number(row.version) : 0
  }

  /** The copy's version after offering `version`; undefined when Redis could not be asked. */
  private async offer(namespace: string, version: number): Promise<number | undefined> {
    const redis = this.options.redis
    if (!redis?.isReady()) return undefined
    try {
      return Number(await redis.client.eval(OFFER_SCRIPT, 1, this.key(namespace), version, this.ttlMs))
    } catch {
      return undefined
    }
  }

  private key(namespace: string): string {
    return `cache-version:v2:${namespace}`
  }
}
