/**
 * What a Redis round trip costs for cached decimal strings of each size, against the local LRU tier.
 * Decides CACHE_REDIS_MAX_VALUE_BYTES: Redis is worth it only while a GET is clearly cheaper than
 * recomputing the value. Uses the service's own client settings (connectRedis), so the 1 s command
 * timeout applies here too.
 * Run: npm run bench:cache   (REDIS_URL defaults to redis://127.0.0.1:6379)
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { cpus } from 'node:os'
import pino from 'pino'
import { TwoTierCache } from '../src/platform/cache.js'
import { createMetrics } from '../src/platform/metrics.js'
import { connectRedis } from '../src/platform/redis.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const KB = 1024
const MB = 1024 * KB
// Fewer runs for the big values keeps the whole run to a few seconds.
const SIZES = [
  { label: '1 KB', bytes: KB, runs: 51 },
  { label: '10 KB', bytes: 10 * KB, runs: 51 },
  { label: '100 KB', bytes: 100 * KB, runs: 31 },
  { label: '1 MB', bytes: MB, runs: 15 },
  { label: '4 MB', bytes: 4 * MB, runs: 9 },
  { label: '10 MB', bytes: 10 * MB, runs: 7 },
]
const LOCAL_GETS = 200_000

function decimalString(length: number): string {
  const bytes = randomBytes(length)
  for (let i = 0; i < length; i++) bytes[i] = 48 + (bytes[i]! % 10)
  return bytes.toString('latin1')
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!

async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - started) / 1e6
}

const redis = await connectRedis(REDIS_URL, `bench:${randomUUID()}:`, pino({ level: 'warn' }))
if (!redis.isReady()) {
  console.error(`Redis at ${REDIS_URL} is not reachable; set REDIS_URL`)
  await redis.close()
  process.exit(1)
}
const serverVersion = /redis_version:(\S+)/.exec(await redis.client.info('server'))?.[1] ?? '?'
const local = new TwoTierCache({
  name: 'bench',
  metrics: createMetrics(),
  maxBytes: 64 * MB,
  redisMaxValueBytes: 0,
  redisTtlSeconds: 60,
})

const rows: string[] = []
try {
  for (const size of SIZES) {
    const value = decimalString(size.bytes)
    const key = `value:${size.bytes}`
    const sets: number[] = []
    const gets: number[] = []
    for (let run = -2; run < size.runs; run++) {
      const set = await timeMs(() => redis.client.set(key, value, 'EX', 60))
      let got: string | null = null
      const get = await timeMs(async () => {
        got = await redis.client.get(key)
      })
      if (got !== value) throw new Error(`GET of ${size.label} returned something else`)
      // The first two runs warm up the connection and the allocator.
      if (run >= 0) {
        sets.push(set)
        gets.push(get)
      }
    }
    await redis.client.del(key)

    await local.set(key, value)
    const started = process.hrtime.bigint()
    for (let i = 0; i < LOCAL_GETS; i++) await local.get(key)
    const localUs = Number(process.hrtime.bigint() - started) / 1e3 / LOCAL_GETS
    await local.delete(key)

    const getMs = median(gets)
    rows.push(
      `| ${size.label} | ${size.runs} | ${median(sets).toFixed(2)} | ${getMs.toFixed(2)} | ${Math.max(...gets).toFixed(2)} | ${Math.round(size.bytes / MB / (getMs / 1000)).toLocaleString('en')} | ${localUs.toFixed(2)} |`,
    )
  }
} finally {
  await redis.close()
}

console.log(
  `\n${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, Node ${process.version}, Redis ${serverVersion} at ${new URL(REDIS_URL).host}, ioredis through connectRedis\n`,
)
console.log(
  '| value | runs | Redis SET median ms | Redis GET median ms | GET max ms | GET MB/s | local tier get µs |',
)
console.log('|---|---:|---:|---:|---:|---:|---:|')
for (const row of rows) console.log(row)
