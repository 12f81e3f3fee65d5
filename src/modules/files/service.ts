import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { TextDecoder } from 'node:util'
import type { FastifyBaseLogger } from 'fastify'
import { fileTypeFromBuffer } from 'file-type'
import type { Transaction } from 'kysely'
import type { AuthUser } from '../../platform/auth.js'
import type { Database } from '../../platform/db-schema.js'
import { DomainError, notFound } from '../../platform/errors.js'
import { uuidv7 } from '../../platform/ids.js'
import { ownerScope } from '../../platform/ownership.js'
import { type Page, paginate } from '../../platform/pages.js'
import type { Writes } from '../../platform/transactions.js'
import type { FilesRepository, StoredFile } from './repository.js'
import type { FilePublic, FilesListQuery } from './schemas.js'
import type { FileStorage } from './storage.js'

/** An upload as the transport delivers it. */
export interface UploadSource {
  /** The client's name for the file, if it gave one; kept only as sanitised metadata. */
  filename: string | undefined
  /** The content as it arrives. A transport that cuts it short at a size limit must throw, not end. */
  content: AsyncIterable<Buffer>
}

export const TEXT_PLAIN = 'text/plain'

/** file-type's names for the binary kinds accepted, with the media type stored and served for each. */
const BINARY_KINDS: Record<string, string> = {
  pdf: 'application/pdf',
  png: 'image/png',
  // An animated PNG is still a PNG, and every PNG reader shows its first frame.
  apng: 'image/png',
  jpg: 'image/jpeg',
  gif: 'image/gif',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  // file-type reports every OLE compound file as cfb; legacy Word documents are the kind allowed among them.
  cfb: 'application/msword',
}

/** Every media type a stored file can have (the download's Content-Type, documented in the OpenAPI document). */
export const STORED_MEDIA_TYPES = [TEXT_PLAIN, ...new Set(Object.values(BINARY_KINDS))]

/** Enough for every signature file-type knows and for the first entries of a ZIP (how DOCX is recognised). */
const DETECTION_BYTES = 64 * 1024

/**
 * Text a browser would sniff as HTML (the WHATWG MIME sniffing patterns), or XML and SVG: valid UTF-8, but
 * active content, so refused like any other kind outside the allow-list.
 */
const MARKUP =
  /^[\t\n\f\r ]*<(?:!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|!--|\?xml|svg)(?:[\t\n\f\r />]|$)/i

const MAX_FILENAME_BYTES = 255
const MAX_EXTENSION_CHARS = 16
/** C0/C1 controls, and the bidi overrides that make "invoice<U+202E>fdp.exe" display as "invoiceexe.pdf". */
const UNSAFE_IN_FILENAME = /[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/gu

const unsupportedType = (detail: string) => new DomainError('unsupported_media_type', detail)
const tooLarge = (detail: string) => new DomainError('payload_too_large', detail)

/**
 * The last path segment of the client's name, without control or bidi characters, at most 255 UTF-8 bytes
 * (cut at a character boundary, keeping a short extension). Other Unicode is kept as sent.
 */
export function sanitizeFilename(raw: string | undefined): string {
  const name = (raw ?? '').normalize('NFC').replace(UNSAFE_IN_FILENAME, '').split(/[/\\]/).pop()!.trim()
  if (name === '' || name === '.' || name === '..') return 'file'
  if (Buffer.byteLength(name) <= MAX_FILENAME_BYTES) return name
  const dot = name.lastIndexOf('.')
  const extension = dot > 0 && name.length - dot <= MAX_EXTENSION_CHARS ? name.slice(dot) : ''
  let budget = MAX_FILENAME_BYTES - Buffer.byteLength(extension)
  let stem = ''
  for (const char of name.slice(0, name.length - extension.length)) {
    budget -= Buffer.byteLength(char)
    if (budget < 0) break
    stem += char
  }
  return stem + extension
}

/**
 * Watches an upload go by: counts and hashes it, holds back its first bytes until their kind is known (so
 * a refused kind never reaches storage), and for text checks every byte is UTF-8 and none is NUL.
 */
class ContentInspector {
  size = 0
  contentType: string | undefined
  private readonly hash = createHash('sha256')
  private text: TextDecoder | undefined

  constructor(
    private readonly maxBytes: number,
    private readonly overLimit: () => DomainError,
  ) {}

  /** Once, after the content has gone by. */
  digest(): string {
    return this.hash.digest('hex')
  }

  async *inspect(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let head: Buffer[] = []
    let headBytes = 0
    for await (const chunk of chunks) {
      this.size += chunk.length
      if (this.size > this.maxBytes) throw this.overLimit()
      this.hash.update(chunk)
      if (this.contentType !== undefined) {
        this.decodeText(chunk)
        yield chunk
        continue
      }
      head.push(chunk)
      headBytes += chunk.length
      if (headBytes >= DETECTION_BYTES) {
        await this.classify(Buffer.concat(head))
        yield* head
        head = []
      }
    }
    if (this.contentType === undefined) {
      await this.classify(Buffer.concat(head))
      yield* head
    }
    // A multi-byte character cut off by the end of the file.
    this.decodeText(undefined)
  }

  private async classify(sample: Buffer): Promise<void> {
    let detected: { ext: string } | undefined
    try {
      detected = await fileTypeFromBuffer(sample)
    } catch {
      throw unsupportedType('The file’s content could not be identified')
    }
    if (detected) {
      const type = BINARY_KINDS[detected.ext]
      if (!type) throw unsupportedType(`Files of this kind (${detected.ext}) are not accepted`)
      this.contentType = type
      return
    }
    this.text = new TextDecoder('utf-8', { fatal: true })
    if (MARKUP.test(this.decodeText(sample))) {
      throw unsupportedType('HTML, XML and SVG files are not accepted')
    }
    this.contentType = TEXT_PLAIN
  }

  private decodeText(chunk: Buffer | undefined): string {
    if (!this.text) return ''
    if (chunk?.includes(0)) throw unsupportedType('Binary files of an unknown kind are not accepted')
    try {
      return chunk ? this.text.decode(chunk, { stream: true }) : this.text.decode()
    } catch {
      throw unsupportedType('Text files must be UTF-8; binary files of an unknown kind are not accepted')
    }
  }
}

function toPublic(file: StoredFile): FilePublic {
  const { id, filename, size, contentType, sha256, ownerId, createdAt } = file
  return { id, filename, size, contentType, sha256, ownerId, createdAt }
}

export interface FilesServiceDeps {
  writes: Writes
  files: FilesRepository
  storage: FileStorage
  maxUploadBytes: number
  maxUserStorageBytes: number
  log: Pick<FastifyBaseLogger, 'warn'>
}

export function createFilesService(deps: FilesServiceDeps) {
  const { writes, files, storage, maxUploadBytes, maxUserStorageBytes, log } = deps

  const quotaExceeded = () =>
    tooLarge(`Storing this file would exceed your storage quota of ${maxUserStorageBytes} bytes`)

  /** Another user's file is reported as missing: its existence is none of the caller's business. */
  async function findVisible(actor: AuthUser, id: string): Promise<StoredFile> {
    const file = await files.findById(id, ownerScope(actor))
    if (!file) throw notFound('No such file')
    return file
  }

  /** Bytes whose row is gone are unreachable; failing to remove them must not fail the request that dropped the row. */
  async function removeBytes(keys: string[]): Promise<void> {
    for (const key of keys) {
      await storage
        .remove(key)
        .catch((error) => log.warn({ err: error, storageKey: key }, 'stored file could not be removed'))
    }
  }

  return {
    /**
     * Checks the quota, then asks for the upload (so a user with no room left is refused before a byte of
     * the body is read), streams it to storage and records it once the bytes are safely in place.
     */
    async upload(actor: AuthUser, receive: () => Promise<UploadSource>): Promise<FilePublic> {
      const used = await files.usedBytes(actor.id)
      if (used >= maxUserStorageBytes) throw quotaExceeded()
      const source = await receive()

      const room = maxUserStorageBytes - used
      const inspector =
        room < maxUploadBytes
          ? new ContentInspector(room, quotaExceeded)
          : new ContentInspector(maxUploadBytes, () =>
              tooLarge(`The file is larger than the upload limit of ${maxUploadBytes} bytes`),
            )
      const target = await storage.createWriteTarget()
      let storageKey: string
      try {
        await pipeline(source.content, (chunks) => inspector.inspect(chunks), target.stream)
        storageKey = await target.commit()
      } catch (error) {
        // The refusal is what the client needs to hear, even if the partial file resists removal.
        await target
          .abort()
          .catch((abortError) => log.warn({ err: abortError }, 'partial upload could not be removed'))
        throw error
      }

      try {
        // The caller's row is locked for update: their concurrent uploads and their deletion wait here, and
        // an account deleted meanwhile is a 401.
        const stored = await writes.withEvent(
          actor,
          async (trx) => {
            // Again, now that the size is known, and under the owner's lock: concurrent uploads may have
            // used the room that was there when this one started.
            if ((await files.usedBytes(actor.id, trx)) + inspector.size > maxUserStorageBytes) {
              throw quotaExceeded()
            }
            return files.insert(
              {
                // Time-ordered, so "newest first" is stable among files created in the same millisecond.
                id: uuidv7(),
                ownerId: actor.id,
                filename: sanitizeFilename(source.filename),
                size: inspector.size,
                contentType: inspector.contentType ?? TEXT_PLAIN,
                sha256: inspector.digest(),
                storageKey,
                createdAt: new Date().toISOString(),
              },
              trx,
            )
          },
          (file) => ({
            type: 'file.uploaded',
            data: { fileId: file.id, ownerId: file.ownerId, size: file.size, contentType: file.contentType },
          }),
          { callerLock: 'update', receipt: toPublic },
        )
        return toPublic(stored)
      } catch (error) {
        await removeBytes([storageKey])
        throw error
      }
    },

    async list(actor: AuthUser, query: FilesListQuery): Promise<Page<FilePublic>> {
      return paginate(query, (window) => files.list(ownerScope(actor), window), toPublic)
    },

    async get(actor: AuthUser, id: string): Promise<FilePublic> {
      return toPublic(await findVisible(actor, id))
    },

    /** The metadata at once; the bytes only when asked for, so a conditional request never opens them. */
    async download(actor: AuthUser, id: string): Promise<{ file: FilePublic; open(): Promise<Readable> }> {
      const file = await findVisible(actor, id)
      return {
        file: toPublic(file),
        async open() {
          const content = await storage.open(file.storageKey)
          // Deleted between the lookup and now.
          if (!content) throw notFound('No such file')
          return content
        },
      }
    },

    /** The row goes first: bytes without a row are unreachable, a row without bytes would be a broken file. */
    async delete(actor: AuthUser, id: string): Promise<void> {
      const file = await findVisible(actor, id)
      const deleted = await writes.withEvent(
        actor,
        (trx) => files.delete(id, ownerScope(actor), trx),
        () => ({ type: 'file.deleted', data: { fileId: id, ownerId: file.ownerId } }),
      )
      if (!deleted) throw notFound('No such file')
      await removeBytes([file.storageKey])
    },

    /**
     * For deleting a user: runs inside that transaction (the FK cascade removes the rows) and returns what
     * removes the bytes once it has committed. The users service has already locked the owner's row for
     * update, the lock an upload takes on its caller (callerLock 'update'): a concurrent upload either
     * committed first, and is listed here, or waits and then finds its caller gone (401).
     */
    async prepareOwnerRemoval(ownerId: string, trx: Transaction<Database>): Promise<() => Promise<void>> {
      const keys = await files.storageKeysOf(ownerId, trx)
      return () => removeBytes(keys)
    },
  }
}

export type FilesService = ReturnType<typeof createFilesService>
