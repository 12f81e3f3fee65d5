/**
 * Outbox relay figures against librdkafka's mock broker: the Kafka sink alone (batches of 500 straight to
 * the broker), events per second through the relay (a backlog drained as fast as it goes), and the delay
 * from commit to broker acknowledgement under a steady load. CPU is this process's (user + system) per
 * event: the client, the relay and, on SQLite, the database; PostgreSQL's own work is not in it.
 * Run: KAFKA_MOCK_LAUNCHER=.tmp/kafka-mock npm run bench:events   (BENCH_DATABASE_URL=postgres://… too)
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import pg from 'pg'
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../src/platform/database.js'
import { KafkaSink } from '../src/platform/events/kafka-sink.js'
import { appendEvent, createOutboxStore, eventRow, type OutboxEvent } from '../src/platform/events/outbox.js'
import { OutboxRelay } from '../src/platform/events/relay.js'
import type { EventSink } from '../src/platform/events/sink.js'
import { createMetrics } from '../src/platform/metrics.js'

const BACKLOG = Number(process.env.BENCH_EVENTS ?? 20_000)
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 5)
const RATES = [200, 1000, 3000]
const USERS = 50
const MAX_IN_FLIGHT = 8
const launcher = process.env.KAFKA_MOCK_LAUNCHER ?? '.tmp/kafka-mock'

/** Notes when the broker acknowledged each event. */
class TimedSink implements EventSink {
  readonly ackedAt = new Map<string, number>()
  constructor(private readonly inner: EventSink) {}
  async publish(events: OutboxEvent[]): Promise<void> {
    await this.inner.publish(events)
    const now = performance.now()
    for (const event of events) this.ackedAt.set(event.id, now)
  }
  close() {
    return this.inner.close()
  }
}

const SINK_BATCHES = Number(process.env.BENCH_SINK_BATCHES ?? 40)

/** Microseconds of this process's CPU (user + system) since `since`, per event. */
const cpuPerEvent = (since: NodeJS.CpuUsage, events: number) => {
  const used = process.cpuUsage(since)
  return `${((used.user + used.system) / events).toFixed(1)} µs`
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!

function startRelay(database: DatabaseHandle, bootstrap: string) {
  const sink = new TimedSink(new KafkaSink({ brokers: [bootstrap], topic: 'api-events', clientId: 'bench' }))
  const relay = new OutboxRelay({
    db: database.db,
    dialect: database.dialect,
    store: createOutboxStore(database.db),
    sink,
    metrics: createMetrics(),
    log: { warn() {}, info() {} },
    retentionDays: 7,
  })
  relay.start()
  return { sink, relay }
}

const event = (i: number) => ({
  type: 'math.computed' as const,
  actor: { id: `00000000-0000-7000-8000-${String(i % USERS).padStart(12, '0')}`, role: 'user' as const },
  data: { operation: 'fibonacci', input: { n: i }, digits: 10, status: 200 },
})

/** The Kafka sink alone: SINK_BATCHES batches of 500 events, one after another, as the relay sends them. */
async function benchSink(bootstrap: string) {
  const sink = new KafkaSink({ brokers: [bootstrap], topic: 'api-events', clientId: 'bench-sink' })
  const batch = (b: number): OutboxEvent[] =>
    Array.from({ length: 500 }, (_, i) => {
      const n = b * 500 + i
      return {
        id: `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`,
        type: 'math.computed',
        occurredAt: new Date().toISOString(),
        actor: { userId: `00000000-0000-7000-8000-${String(n % USERS).padStart(12, '0')}`, role: 'user' },
        requestId: null,
        data: { operation: 'fibonacci', input: { n }, digits: 10, status: 200 },
      }
    })
  try {
    await sink.publish(batch(0)) // connect and warm up
    const cpu = process.cpuUsage()
    const t0 = performance.now()
    for (let b = 1; b <= SINK_BATCHES; b++) await sink.publish(batch(b))
    const seconds = (performance.now() - t0) / 1000
    const events = SINK_BATCHES * 500
    return `| none | sink alone: ${SINK_BATCHES} batches of 500 | ${Math.round(events / seconds)} events/s | | | ${cpuPerEvent(cpu, events)} |`
  } finally {
    await sink.close()
  }
}

async function bench(name: string, url: string, bootstrap: string) {
  const database = await openDatabase(url)
  await migrateToLatest(database)
  const rows: string[] = []
  try {
    // Throughput: a backlog written while no relay runs (as after an outage), then drained.
    for (let i = 0; i < BACKLOG; i += 500) {
      await database.db.transaction().execute(async (trx) => {
        for (let j = i; j < Math.min(BACKLOG, i + 500); j++) await appendEvent(trx, event(j))
      })
    }
    const drainCpu = process.cpuUsage()
    const drain = startRelay(database, bootstrap)
    const t0 = performance.now()
    while (drain.sink.ackedAt.size < BACKLOG) await new Promise((resolve) => setTimeout(resolve, 5))
    const seconds = (performance.now() - t0) / 1000
    await drain.relay.close()
    rows.push(
      `| ${name} | backlog of ${BACKLOG} | ${Math.round(BACKLOG / seconds)} events/s | | | ${cpuPerEvent(drainCpu, BACKLOG)} |`,
    )

    // Delay: one event per transaction at a steady rate, the relay polling as in production.
    for (const rate of RATES) {
      const cpu = process.cpuUsage()
      const { sink, relay } = startRelay(database, bootstrap)
      const committedAt = new Map<string, number>()
      const total = rate * LOAD_SECONDS
      const start = performance.now()
      const writes: Promise<void>[] = []
      for (let i = 0; i < total; i++) {
        const due = start + (i * 1000) / rate
        const wait = due - performance.now()
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
        // Bounded like a server's pool: past what the database commits, the offered rate just is not reached.
        if (writes.length >= MAX_IN_FLIGHT) await writes.shift()
        const row = eventRow(event(i))
        writes.push(
          database.db
            .insertInto('events')
            .values(row)
            .execute()
            .then(() => {
              committedAt.set(row.id, performance.now())
            }),
        )
      }
      await Promise.all(writes)
      while ([...committedAt.keys()].some((id) => !sink.ackedAt.has(id)))
        await new Promise((resolve) => setTimeout(resolve, 10))
      await relay.close()
      const delays = [...committedAt].map(([id, at]) => sink.ackedAt.get(id)! - at).sort((a, b) => a - b)
      rows.push(
        `| ${name} | ${rate} events/s for ${LOAD_SECONDS} s | ${Math.round(total / ((performance.now() - start) / 1000))} events/s | ${percentile(delays, 0.5).toFixed(1)} ms | ${percentile(delays, 0.99).toFixed(1)} ms | ${cpuPerEvent(cpu, total)} |`,
      )
    }
  } finally {
    await database.close()
  }
  return rows
}

const broker = spawn(launcher, ['api-events', '3'], { stdio: ['pipe', 'pipe', 'inherit'] })
const first = await createInterface({ input: broker.stdout })[Symbol.asyncIterator]().next()
const bootstrap = String(first.value).trim()
const dir = mkdtempSync(join(tmpdir(), 'bench-events-'))
const rows: string[] = []
try {
  rows.push(await benchSink(bootstrap))
  rows.push(...(await bench('SQLite', `sqlite:${join(dir, 'bench.db')}`, bootstrap)))
  if (process.env.BENCH_DATABASE_URL) {
    const url = new URL(process.env.BENCH_DATABASE_URL)
    const schema = `bench_events_${Date.now()}`
    url.searchParams.set('schema', schema)
    try {
      rows.push(...(await bench('PostgreSQL', url.toString(), bootstrap)))
    } finally {
      // The bench's own schema on a shared server: leave nothing behind.
      const client = new pg.Client({ connectionString: process.env.BENCH_DATABASE_URL })
      await client.connect()
      await client.query(`drop schema if exists ${schema} cascade`)
      await client.end()
    }
  }
} finally {
  broker.stdin.end()
  rmSync(dir, { recursive: true, force: true })
}
console.log('| database | load | through relay | commit→broker p50 | p99 | CPU per event |')
console.log('| --- | --- | --- | --- | --- | --- |')
for (const row of rows) console.log(row)
