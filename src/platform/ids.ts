import { randomFillSync } from 'node:crypto'

let lastMs = 0
let sequence = 0

/** Random bytes drawn 4 KiB at a time: one CSPRNG call per 256 ids instead of one per id. */
const POOL_BYTES = 4096
const pool = Buffer.alloc(POOL_BYTES)
let poolOffset = POOL_BYTES

/**
 * UUID version 7 (RFC 9562): 48 bits of Unix milliseconds first, so ids sort by creation time. History
 * uses them as its keyset cursor: "newest first" is "highest id first", on one index, on both databases.
 * Within one millisecond the 12-bit rand_a field carries a counter (RFC 9562 §6.2, method 1), so ids
 * made by this process never sort out of creation order.
 */
export function uuidv7(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now
    sequence = 0
  } else if (++sequence > 0xfff) {
    lastMs += 1
    sequence = 0
  }
  if (poolOffset === POOL_BYTES) {
    randomFillSync(pool)
    poolOffset = 0
  }
  // Each 16-byte slice is used for one id only; its first 8 bytes are overwritten with time and version.
  const bytes = pool.subarray(poolOffset, poolOffset + 16)
  poolOffset += 16
  bytes.writeUIntBE(lastMs, 0, 6)
  bytes[6] = 0x70 | (sequence >> 8)
  bytes[7] = sequence & 0xff
  bytes[8] = 0x80 | (bytes[8]! & 0x3f)
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** The lowest UUIDv7 of millisecond `ms`: every id made at or after `ms` sorts at or above it. */
export function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`
}
