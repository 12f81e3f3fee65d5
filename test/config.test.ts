import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig, parseDuration } from '../src/config.js'

const SECRET = 'a-perfectly-random-looking-secret-of-48-bytes-xyz'
const fresh = () => mkdtempSync(join(tmpdir(), 'mathapi-config-'))

describe('configuration', () => {
  it('applies the documented defaults and freezes the result', () => {
    const config = loadConfig({ JWT_SECRET: SECRET })
    expect(config).toMatchObject({
      port: 8000,
      host: '0.0.0.0',
      databaseUrl: 'sqlite:./data/app.db',
      redisUrl: undefined,
      dataDir: './data',
      accessTokenTtlSeconds: 900,
      refreshTokenTtlSeconds: 30 * 86_400,
      rateLimit: { auth: 10, read: 600, write: 120 },
      trustProxy: false,
      corsOrigins: [],
      logLevel: 'info',
    })
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.rateLimit)).toBe(true)
  })

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ ACCESS_TOKEN_TTL: '15 minutes' }, 'ACCESS_TOKEN_TTL'],
    [{ RATE_LIMIT_AUTH: '-1' }, 'RATE_LIMIT_AUTH'],
  ])('refuses %j naming %s', (env, variable) => {
    expect(() => loadConfig({ JWT_SECRET: SECRET, ...env })).toThrow(new RegExp(variable))
  })

  it.each(['changeme', 'secret', 'your-secret-key', 'CHANGE_ME_IN_PRODUCTION_PLEASE_0123456789abcdef'])(
    'refuses the placeholder secret %j',
    (secret) => {
      expect(() => loadConfig({ JWT_SECRET: secret })).toThrow(ConfigError)
    },
  )

  it('refuses a secret shorter than 32 bytes', () => {
    expect(() => loadConfig({ JWT_SECRET: 'x1y2z3'.repeat(5) })).toThrow(/at least 32 bytes/)
  })

  it('generates a secret once, stores it with mode 0600, warns, and reuses it', () => {
    const dataDir = fresh()
    const warnings: string[] = []
    const first = loadConfig({ DATA_DIR: dataDir }, { warn: (message) => warnings.push(message) })
    const file = join(dataDir, 'jwt-secret')
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(readFileSync(file, 'utf8').trim()).toBe(first.jwtSecret)
    expect(Buffer.byteLength(first.jwtSecret)).toBeGreaterThanOrEqual(32)
    expect(warnings).toHaveLength(1)
    const second = loadConfig({ DATA_DIR: dataDir }, { warn: (message) => warnings.push(message) })
    expect(second.jwtSecret).toBe(first.jwtSecret)
    expect(warnings).toHaveLength(1)
  })

  it('requires the bootstrap admin username and password together', () => {
    expect(() => loadConfig({ JWT_SECRET: SECRET, BOOTSTRAP_ADMIN_USERNAME: 'boss' })).toThrow(
      /BOOTSTRAP_ADMIN/,
    )
    const config = loadConfig({
      JWT_SECRET: SECRET,
      BOOTSTRAP_ADMIN_USERNAME: 'boss',
      BOOTSTRAP_ADMIN_PASSWORD: 'boss-password',
    })
    expect(config.bootstrapAdmin).toEqual({
      username: 'boss',
      password: 'boss-password',
      email: 'boss@localhost',
    })
  })

  it('parses lists and proxies', () => {
    const config = loadConfig({
      JWT_SECRET: SECRET,
      CORS_ORIGINS: 'https://a.example, https://b.example',
      TRUST_PROXY: '10.0.0.0/8,loopback',
    })
    expect(config.corsOrigins).toEqual(['https://a.example', 'https://b.example'])
    expect(config.trustProxy).toEqual(['10.0.0.0/8', 'loopback'])
    expect(loadConfig({ JWT_SECRET: SECRET, TRUST_PROXY: 'true' }).trustProxy).toBe(true)
  })

  it('parses durations', () => {
    expect(parseDuration('45')).toBe(45)
    expect(parseDuration('15m')).toBe(900)
    expect(parseDuration('2h')).toBe(7200)
    expect(parseDuration('30d')).toBe(2_592_000)
  })
})
