import { randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join, resolve } from 'node:path'
import { envSchema } from 'env-schema'
import { type Static, Type } from 'typebox'

/** Every variable the service reads, with its default. README and .env.example list the same. */
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8000 }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  DATABASE_URL: Type.String({ pattern: '^(sqlite:|postgres(ql)?://)', default: 'sqlite:./data/app.db' }),
  DATABASE_POOL_MAX: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  REDIS_KEY_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_.:-]{0,64}$', default: 'mathapi:' }),
  DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  JWT_SECRET: Type.Optional(Type.String()),
  ACCESS_TOKEN_TTL: Type.String({ pattern: '^[0-9]+[smhd]?$', default: '15m' }),
  REFRESH_TOKEN_TTL: Type.String({ pattern: '^[0-9]+[smhd]?$', default: '30d' }),
  BOOTSTRAP_ADMIN_USERNAME: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{3,32}$' })),
  BOOTSTRAP_ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: 8, maxLength: 128 })),
  BOOTSTRAP_ADMIN_EMAIL: Type.Optional(Type.String({ pattern: '^[^\\s@]+@[^\\s@]+$', maxLength: 254 })),
  RATE_LIMIT_AUTH: Type.Integer({ minimum: 0, default: 10 }),
  RATE_LIMIT_READ: Type.Integer({ minimum: 0, default: 600 }),
  RATE_LIMIT_WRITE: Type.Integer({ minimum: 0, default: 120 }),
  TRUST_PROXY: Type.String({ default: 'false' }),
  CORS_ORIGINS: Type.String({ default: '' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info' },
  ),
  // The largest JSON any endpoint takes is a task or product with a 5,000-character description (~30 KB
  // even \u-escaped); parsing and validating a 1 MiB body of 70,000 fields held the event loop 135 ms.
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 65_536 }),
  MATH_WORKERS: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
  MATH_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 15_000 }),
  MATH_QUEUE_MAX: Type.Integer({ minimum: 0, default: 64 }),
  MATH_MAX_FIBONACCI_N: Type.Integer({ minimum: 0, default: 10_000_000 }),
  MATH_MAX_FACTORIAL_N: Type.Integer({ minimum: 0, default: 1_000_000 }),
  // V8's BigInt holds at most 2^30 bits (~323 million digits); decimal conversion needs about twice the
  // result's size, so the limit stays below what would make V8 itself refuse.
  MATH_MAX_RESULT_DIGITS: Type.Integer({ minimum: 1, maximum: 100_000_000, default: 10_000_000 }),
  MATH_ENGINE: Type.Union([Type.Literal('auto'), Type.Literal('gmp'), Type.Literal('js')], {
    default: 'auto',
  }),
  MATH_WORKER_MEMORY_MB: Type.Integer({ minimum: 32, maximum: 65_536, default: 256 }),
  CACHE_MAX_BYTES: Type.Integer({ minimum: 0, default: 268_435_456 }),
  // Moving a value through Redis costs this process ~1 ms per MB (reading the reply, writing the command),
  // so larger results stay in the local tier, where a hit costs nothing.
  CACHE_REDIS_MAX_VALUE_BYTES: Type.Integer({ minimum: 0, default: 1_048_576 }),
  CACHE_REDIS_TTL_SECONDS: Type.Integer({ minimum: 1, default: 604_800 }),
  CACHE_REDIS_BUDGET_BYTES: Type.Integer({ minimum: 0, default: 134_217_728 }),
  CACHE_REDIS_CALLER_BUDGET_BYTES: Type.Integer({ minimum: 0, default: 8_388_608 }),
  UPLOAD_DIR: Type.Optional(Type.String({ minLength: 1 })),
  MAX_UPLOAD_BYTES: Type.Integer({ minimum: 1, default: 5_242_880 }),
  MAX_USER_STORAGE_BYTES: Type.Integer({ minimum: 1, default: 104_857_600 }),
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 30_000 }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10_000 }),
  KAFKA_BROKERS: Type.Optional(Type.String({ pattern: '^\\s*[^\\s,]+(\\s*,\\s*[^\\s,]+)*\\s*$' })),
  KAFKA_TOPIC: Type.String({ pattern: '^[A-Za-z0-9._-]{1,249}$', default: 'api-events' }),
  KAFKA_CLIENT_ID: Type.String({ minLength: 1, default: 'mathapi' }),
  EVENTS_RETENTION_DAYS: Type.Integer({ minimum: 1, default: 7 }),
  HISTORY_RETENTION_DAYS: Type.Optional(Type.Integer({ minimum: 1 })),
})
type Env = Static<typeof EnvSchema>

export interface Config {
  readonly port: number
  readonly host: string
  readonly databaseUrl: string
  readonly databasePoolMax: number
  readonly redisUrl: string | undefined
  /** Namespaces every key and channel, so deployments (or test runs) can share one Redis. */
  readonly redisKeyPrefix: string
  readonly dataDir: string
  readonly jwtSecret: string
  readonly accessTokenTtlSeconds: number
  readonly refreshTokenTtlSeconds: number
  readonly bootstrapAdmin: { username: string; password: string; email: string } | undefined
  readonly rateLimit: { readonly auth: number; readonly read: number; readonly write: number }
  /** Fastify's trustProxy: false, true, or the proxies' addresses/CIDRs. */
  readonly trustProxy: boolean | string[]
  readonly corsOrigins: readonly string[]
  readonly logLevel: string
  readonly bodyLimitBytes: number
  readonly requestTimeoutMs: number
  readonly shutdownTimeoutMs: number
  readonly math: {
    /** Worker threads computing large results. */
    readonly workers: number
    /** Past this a computation is cancelled (its worker terminated) and the client gets 503. */
    readonly timeoutMs: number
    /** Computations allowed to wait for a worker; beyond that, 503. */
    readonly queueMax: number
    readonly maxFibonacciN: number
    readonly maxFactorialN: number
    readonly maxResultDigits: number
    /** auto: GMP when its addon is built, else JavaScript; gmp: refuse to start without it; js: never GMP. */
    readonly engine: 'auto' | 'gmp' | 'js'
    /** Each worker's JavaScript heap cap, and GMP's working memory per computation, in MiB. */
    readonly workerMemoryMb: number
  }
  readonly files: {
    /** Where uploaded bytes live (default DATA_DIR/uploads). */
    readonly uploadDir: string
    /** Largest single upload; enforced while streaming. */
    readonly maxUploadBytes: number
    /** Per-user total of stored bytes. */
    readonly maxUserStorageBytes: number
  }
  readonly cache: {
    /** In-process LRU bound, in bytes of cached strings. */
    readonly maxBytes: number
    /** Larger values stay in the local tier only. */
    readonly redisMaxValueBytes: number
    readonly redisTtlSeconds: number
    /** Bytes all callers together may add to Redis per TTL window, per cache (beyond: local tier only). */
    readonly redisBudgetBytes: number
    /** Bytes one caller (user, or address when anonymous) may add per TTL window, per cache. */
    readonly redisCallerBudgetBytes: number
  }
  /** Math history rows older than this many days are pruned; undefined keeps them forever. */
  readonly historyRetentionDays: number | undefined
  readonly events: {
    /** Empty: no relay; events stay in the outbox table. */
    readonly kafkaBrokers: readonly string[]
    readonly kafkaTopic: string
    readonly kafkaClientId: string
    /** Delivered events older than this are pruned; without a broker, all events older than this. */
    readonly retentionDays: number
  }
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Values that appear in tutorials and templates; a deployment using one is as good as unauthenticated. */
const PLACEHOLDER_SECRETS = new Set([
  'changeme',
  'change-me',
  'changethis',
  'secret',
  'your-secret-key',
  'your_secret_key',
  'supersecret',
  'jwt-secret',
  'mysecret',
])
const MIN_SECRET_BYTES = 32
const GENERATED_SECRET_FILE = 'jwt-secret'

export function parseDuration(text: string): number {
  const match = /^([0-9]+)([smhd]?)$/.exec(text)
  if (!match) throw new ConfigError(`invalid duration "${text}"`)
  const unitSeconds = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd']
  return Number(match[1]) * unitSeconds
}

function parseTrustProxy(text: string): Config['trustProxy'] {
  const value = text.trim()
  if (value === '' || value === 'false') return false
  if (value === 'true') return true
  // Addresses or CIDRs of the proxies in front (proxy-addr also knows loopback, linklocal, uniquelocal).
  return value.split(',').map((part) => part.trim())
}

function checkSecret(secret: string): string {
  const normalized = secret.trim().toLowerCase()
  if (PLACEHOLDER_SECRETS.has(normalized) || /^(x+|0+|change.?me.*)$/.test(normalized)) {
    throw new ConfigError('JWT_SECRET is a known placeholder; set a random value of at least 32 bytes')
  }
  if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
    throw new ConfigError(`JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes`)
  }
  return secret
}

/**
 * A single instance may run without JWT_SECRET: one is generated once and kept in DATA_DIR so tokens
 * survive restarts. Several instances need the same secret, so they must set JWT_SECRET.
 */
function loadOrCreateSecret(dataDir: string, warn: (message: string) => void): string {
  const file = resolve(dataDir, GENERATED_SECRET_FILE)
  try {
    return checkSecret(readFileSync(file, 'utf8').trim())
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  mkdirSync(dataDir, { recursive: true })
  const secret = randomBytes(48).toString('base64url')
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' })
  chmodSync(file, 0o600)
  warn(
    `JWT_SECRET is not set: generated one and stored it in ${file} (mode 0600). Set JWT_SECRET when running several instances.`,
  )
  return secret
}

export interface LoadConfigOptions {
  /** Read `.env` from the working directory (the server does; tests pass their values explicitly). */
  dotenv?: boolean
  warn?: (message: string) => void
}

/** Environment → validated, frozen Config. Throws ConfigError naming the offending variable. */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  options: LoadConfigOptions = {},
): Config {
  let raw: Env
  try {
    raw = envSchema<Env>({ schema: structuredClone(EnvSchema), data: env, dotenv: options.dotenv ?? false })
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as Error).message}`)
  }
  const warn = options.warn ?? ((message: string) => process.emitWarning(message))

  let jwtSecret: string
  try {
    jwtSecret = raw.JWT_SECRET ? checkSecret(raw.JWT_SECRET) : loadOrCreateSecret(raw.DATA_DIR, warn)
  } catch (error) {
    throw error instanceof ConfigError ? error : new ConfigError(`JWT_SECRET: ${(error as Error).message}`)
  }

  const hasAdminUser = raw.BOOTSTRAP_ADMIN_USERNAME !== undefined
  const hasAdminPassword = raw.BOOTSTRAP_ADMIN_PASSWORD !== undefined
  if (hasAdminUser !== hasAdminPassword) {
    throw new ConfigError('BOOTSTRAP_ADMIN_USERNAME and BOOTSTRAP_ADMIN_PASSWORD must be set together')
  }

  return Object.freeze({
    port: raw.PORT,
    host: raw.HOST,
    databaseUrl: raw.DATABASE_URL,
    databasePoolMax: raw.DATABASE_POOL_MAX,
    redisUrl: raw.REDIS_URL || undefined,
    redisKeyPrefix: raw.REDIS_KEY_PREFIX,
    dataDir: raw.DATA_DIR,
    jwtSecret,
    accessTokenTtlSeconds: parseDuration(raw.ACCESS_TOKEN_TTL),
    refreshTokenTtlSeconds: parseDuration(raw.REFRESH_TOKEN_TTL),
    bootstrapAdmin:
      raw.BOOTSTRAP_ADMIN_USERNAME && raw.BOOTSTRAP_ADMIN_PASSWORD
        ? {
            username: raw.BOOTSTRAP_ADMIN_USERNAME,
            password: raw.BOOTSTRAP_ADMIN_PASSWORD,
            email: raw.BOOTSTRAP_ADMIN_EMAIL ?? `${raw.BOOTSTRAP_ADMIN_USERNAME.toLowerCase()}@localhost`,
          }
        : undefined,
    rateLimit: Object.freeze({
      auth: raw.RATE_LIMIT_AUTH,
      read: raw.RATE_LIMIT_READ,
      write: raw.RATE_LIMIT_WRITE,
    }),
    trustProxy: parseTrustProxy(raw.TRUST_PROXY),
    corsOrigins: Object.freeze(
      raw.CORS_ORIGINS.split(',')
        .map((origin) => origin.trim())
        .filter(Boolean),
    ),
    logLevel: raw.LOG_LEVEL,
    bodyLimitBytes: raw.BODY_LIMIT_BYTES,
    requestTimeoutMs: raw.REQUEST_TIMEOUT_MS,
    shutdownTimeoutMs: raw.SHUTDOWN_TIMEOUT_MS,
    math: Object.freeze({
      workers: raw.MATH_WORKERS ?? Math.max(1, availableParallelism()),
      timeoutMs: raw.MATH_TIMEOUT_MS,
      queueMax: raw.MATH_QUEUE_MAX,
      maxFibonacciN: raw.MATH_MAX_FIBONACCI_N,
      maxFactorialN: raw.MATH_MAX_FACTORIAL_N,
      maxResultDigits: raw.MATH_MAX_RESULT_DIGITS,
      engine: raw.MATH_ENGINE,
      workerMemoryMb: raw.MATH_WORKER_MEMORY_MB,
    }),
    files: Object.freeze({
      uploadDir: raw.UPLOAD_DIR ?? join(raw.DATA_DIR, 'uploads'),
      maxUploadBytes: raw.MAX_UPLOAD_BYTES,
      maxUserStorageBytes: raw.MAX_USER_STORAGE_BYTES,
    }),
    cache: Object.freeze({
      maxBytes: raw.CACHE_MAX_BYTES,
      redisMaxValueBytes: raw.CACHE_REDIS_MAX_VALUE_BYTES,
      redisTtlSeconds: raw.CACHE_REDIS_TTL_SECONDS,
      redisBudgetBytes: raw.CACHE_REDIS_BUDGET_BYTES,
      redisCallerBudgetBytes: raw.CACHE_REDIS_CALLER_BUDGET_BYTES,
    }),
    historyRetentionDays: raw.HISTORY_RETENTION_DAYS,
    events: Object.freeze({
      kafkaBrokers: Object.freeze(
        (raw.KAFKA_BROKERS ?? '')
          .split(',')
          .map((broker) => broker.trim())
          .filter(Boolean),
      ),
      kafkaTopic: raw.KAFKA_TOPIC,
      kafkaClientId: raw.KAFKA_CLIENT_ID,
      retentionDays: raw.EVENTS_RETENTION_DAYS,
    }),
  })
}
