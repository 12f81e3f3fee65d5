/**
 * Access-token signing and verification cost: fast-jwt (what the service uses) against jose, and the
 * service's own path for a token seen before (AccessTokens.verify: its cache keyed by the raw token).
 * Every authenticated request pays one verification, so this is on the hot path.
 * Run: npm run bench:jwt
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { cpus } from 'node:os'
import { createSigner, createVerifier } from 'fast-jwt'
import { jwtVerify, SignJWT } from 'jose'
import { AccessTokens } from '../src/platform/auth.js'
import { createMetrics } from '../src/platform/metrics.js'
import { UserStateCache } from '../src/platform/user-state-cache.js'

const secret = randomBytes(48).toString('base64url')
const key = new TextEncoder().encode(secret)
const claims = { role: 'user', ver: 3 }
const subject = randomUUID()
const ROUNDS = 20_000

async function measure(
  name: string,
  fn: () => unknown | Promise<unknown>,
): Promise<{ name: string; usPerOp: number }> {
  for (let i = 0; i < 2000; i++) await fn()
  const started = process.hrtime.bigint()
  for (let i = 0; i < ROUNDS; i++) await fn()
  const elapsed = Number(process.hrtime.bigint() - started) / 1000
  return { name, usPerOp: elapsed / ROUNDS }
}

const joseSign = () =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('15m')
    .setJti(randomUUID())
    .sign(key)
const fastSign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 900_000 })
const fastSignOne = () => fastSign({ ...claims, sub: subject, jti: randomUUID() })

const token = await joseSign()
const fastVerify = createVerifier({ key: secret, algorithms: ['HS256'] })
const fastVerifyCached = createVerifier({ key: secret, algorithms: ['HS256'], cache: true })

// What the service runs per request: its verified-token cache (keyed by the raw token) and the user-state check.
const userStates = new UserStateCache(async () => ({ role: 'user', isActive: true, tokenVersion: 3 }))
const accessTokens = new AccessTokens(secret, 900, userStates, createMetrics())
const serviceToken = accessTokens.issue({ id: subject, role: 'user', tokenVersion: 3 }).token

const cryptoKey = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, [
  'verify',
])

const results = [
  await measure('jose sign', joseSign),
  await measure('fast-jwt sign', fastSignOne),
  await measure('jose verify', () => jwtVerify(token, key, { algorithms: ['HS256'] })),
  await measure('jose verify (CryptoKey imported once)', () =>
    jwtVerify(token, cryptoKey, { algorithms: ['HS256'] }),
  ),
  await measure('fast-jwt verify', () => fastVerify(token)),
  await measure('fast-jwt verify (cache: true)', () => fastVerifyCached(token)),
  await measure('service verify, token seen before (own cache + user state)', () =>
    accessTokens.verify(serviceToken),
  ),
]

console.log(
  `\n${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, Node ${process.version}, ${ROUNDS} operations each\n`,
)
console.log('| operation | µs/op | ops/s | vs jose |')
console.log('|---|---:|---:|---:|')
for (const result of results) {
  const jose = results.find((r) => r.name === `jose ${result.name.includes('sign') ? 'sign' : 'verify'}`)!
  console.log(
    `| ${result.name} | ${result.usPerOp.toFixed(2)} | ${Math.round(1e6 / result.usPerOp).toLocaleString('en')} | ${(jose.usPerOp / result.usPerOp).toFixed(2)}× |`,
  )
}
