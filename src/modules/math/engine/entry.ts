/**
 * A big result as bytes: the cache's entry for it (a header line, then the digits), built where the digits
 * are produced so that they cross from the worker to the event loop, into the cache and onto the socket
 * without being copied or turned into a string on the way.
 *
 *   `${exact ? 1 : 0} ${digits} ${computeMs + convertMs}\n${the result, one byte per character}`
 *
 * Copies are what a result of millions of digits costs beyond GMP itself: each costs 4–8 ms per million
 * digits on the CI machine (fresh memory, page faults included), and a string sent through postMessage
 * is copied twice (serialised in the worker, rebuilt on the main thread).
 */

/** Results from this many characters travel as bytes; shorter ones as strings (a copy is cheap there). */
export const BYTES_MIN_CHARS = 65_536

/** Room the GMP addon leaves in front of the digits for the header: "1 500000000 1234567890.123\n" fits. */
export const HEADER_ROOM = 48

export interface EntryMeta {
  exact: boolean
  digits: number
  /** Computing and converting together, in ms. */
  totalMs: number
}

export const entryHeader = ({ exact, digits, totalMs }: EntryMeta): string =>
  `${exact ? 1 : 0} ${digits} ${totalMs}\n`

/**
 * The entry over `result`'s own memory, when at least HEADER_ROOM bytes in front of it are free (the addon
 * leaves them): the header is written there and the entry is a view from it to the end of the digits.
 */
export function entryInPlace(result: Uint8Array, meta: EntryMeta): Buffer {
  const header = entryHeader(meta)
  const start = result.byteOffset - header.length
  if (start < 0 || header.length > HEADER_ROOM) throw new RangeError('no room for the entry header')
  const entry = Buffer.from(result.buffer, start, header.length + result.length)
  entry.write(header, 0, 'latin1')
  return entry
}

/** The entry for a result held as a string: one copy, into memory this thread may hand over. */
export function entryCopied(result: string, meta: EntryMeta): Buffer {
  const header = entryHeader(meta)
  const entry = Buffer.allocUnsafeSlow(header.length + result.length)
  entry.write(header, 0, 'latin1')
  entry.write(result, header.length, 'latin1')
  return entry
}

export interface DecodedEntry extends Omit<EntryMeta, 'totalMs'> {
  computeMs: number
  /** The digits: a view into the entry when it is bytes, a string when it is text. */
  result: string | Buffer
}

/** Reads an entry, as text (from Redis, or written by an older version) or as bytes (from this process). */
export function decodeEntry(value: string | Uint8Array): DecodedEntry {
  const bytes = typeof value !== 'string'
  const newline = bytes ? value.indexOf(10) : value.indexOf('\n')
  const head = bytes
    ? Buffer.from(value.buffer, value.byteOffset, newline).toString('latin1')
    : value.slice(0, newline)
  const [exact, digits, computeMs] = head.split(' ')
  return {
    exact: exact === '1',
    digits: Number(digits),
    computeMs: Number(computeMs),
    result: bytes
      ? Buffer.from(value.buffer, value.byteOffset + newline + 1, value.length - newline - 1)
      : value.slice(newline + 1),
  }
}
