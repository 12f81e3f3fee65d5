import { randomBytes } from 'node:crypto'
import { hash, verify } from '@node-rs/argon2'

/*
 * argon2id with the library's defaults (19 MiB, 2 passes, 1 lane: OWASP's recommended minimum).
 * Both calls run on libuv's thread pool, never on the event loop.
 */

export const hashPassword = (password: string): Promise<string> => hash(password)

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password)
  } catch {
    return false
  }
}

let dummyHash: Promise<string> | undefined

/**
 * Login for an unknown user verifies against this hash, so a response takes as long whether or not
 * the username exists.
 */
export async function verifyAgainstDummy(password: string): Promise<false> {
  dummyHash ??= hash(randomBytes(32).toString('base64url'))
  await verifyPassword(await dummyHash, password)
  return false
}
