import type { FastifyInstance } from 'fastify'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { METRIC_CATALOGUE, type MetricCatalogue, type MetricDefinition } from './metric-catalogue.js'

/**
 * A gauge whose series are set at each scrape, by the sources attached to it: state that changes without
 * anything to hook (a pool's queue, an LRU's size, a Redis that stopped answering) is read when asked for.
 */
export interface ScrapedGauge<L extends string = string> {
  /** From now on `read` sets its series of this gauge at every scrape. */
  readFrom(read: (gauge: Gauge<L>) => void | Promise<void>): void
}

type LabelsOf<D> = D extends { labelNames: readonly (infer L extends string)[] } ? L : string

/** The object createMetrics makes of a catalogue entry. */
export type MetricOf<D extends MetricDefinition> = D['type'] extends 'counter'
  ? Counter<LabelsOf<D>>
  : D['type'] extends 'histogram'
    ? Histogram<LabelsOf<D>>
    : D extends { readAtScrape: true }
      ? ScrapedGauge<LabelsOf<D>>
      : Gauge<LabelsOf<D>>

/**
 * One object per metric of the catalogue, in one registry per app instance (so tests can build several
 * apps in one process). A component is given the ones it uses, as a Pick of this: never the registry.
 */
export type Metrics = { readonly [K in keyof MetricCatalogue]: MetricOf<MetricCatalogue[K]> } & {
  /** For serving /metrics, and for tests reading a value; components are given metrics, not this. */
  readonly registry: Registry
  /** From now on redis_up asks this connection at every scrape. */
  observeRedis(redis: RedisProbe): void
  /** Call on every connection event: counts each loss once. */
  redisStateChanged(ready: boolean): void
}

/** What redis_up needs of the Redis handle. */
export interface RedisProbe {
  isReady(): boolean
  ping(timeoutMs?: number): Promise<void>
}

/** A scrape must not wait on a stalled Redis for long; one that does not answer in this time is down. */
const REDIS_SCRAPE_PING_MS = 1000

function scrapedGauge(config: {
  name: string
  help: string
  labelNames: readonly string[]
  registers: Registry[]
}) {
  const readers: ((gauge: Gauge) => void | Promise<void>)[] = []
  new Gauge({
    ...config,
    collect() {
      // Every reader starts synchronously here, and the registry collects in catalogue order: what
      // db_pool_connections reads is read before the backlog gauges' query takes a connection.
      const pending = readers.map((read) => read(this)).filter((result) => result instanceof Promise)
      return pending.length > 0 ? Promise.all(pending).then(() => undefined) : undefined
    },
  })
  const gauge: ScrapedGauge = { readFrom: (read) => void readers.push(read) }
  return gauge
}

function create(definition: MetricDefinition, registry: Registry) {
  const { name, help, labelNames = [], buckets, readAtScrape, startAtZero = [] } = definition
  const config = { name, help, labelNames, registers: [registry] }
  switch (definition.type) {
    case 'counter': {
      const counter = new Counter(config)
      for (const labels of startAtZero) counter.inc(labels, 0)
      return counter
    }
    case 'histogram':
      return new Histogram({ ...config, ...(buckets ? { buckets: [...buckets] } : {}) })
    case 'gauge':
      return readAtScrape ? scrapedGauge(config) : new Gauge(config)
  }
}

export function createMetrics(): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  // prom-client's default metrics include three gauges named *_total (the sums of nodejs_active_handles,
  // nodejs_active_requests and nodejs_active_resources over their type label). A _total suffix means a
  // counter to Prometheus (promtool check metrics refuses them), and each is only the sum of the series
  // kept, so they are dropped.
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ])
    registry.removeSingleMetric(name)
  const catalogued = Object.fromEntries(
    Object.entries(METRIC_CATALOGUE).map(([key, definition]) => [key, create(definition, registry)]),
  ) as { [K in keyof MetricCatalogue]: MetricOf<MetricCatalogue[K]> }
  let redisWasReady = false
  return {
    ...catalogued,
    registry,
    observeRedis(redis) {
      redisWasReady = redis.isReady()
      // Asked at each scrape, not remembered from the last connection event: a Redis that stopped
      // answering without closing the connection still looks connected.
      catalogued.redisAvailable.readFrom(async (gauge) => {
        let up = false
        if (redis.isReady())
          up = await redis.ping(REDIS_SCRAPE_PING_MS).then(
            () => true,
            () => false,
          )
        gauge.set(up ? 1 : 0)
      })
    },
    redisStateChanged(ready) {
      if (redisWasReady && !ready) catalogued.redisConnectionLost.inc()
      redisWasReady = ready
    },
  }
}

export interface DatabaseGaugeSources {
  poolStats(): { total: number; idle: number; waiting: number }
  outboxBacklog(): Promise<{ pending: number; oldest: string | null }>
}

const BACKLOG_QUERY_TIMEOUT_MS = 1000

/**
 * Gauges read at scrape time. The outbox backlog is one indexed query shared by both of its gauges; when
 * the database does not answer, they keep their last values rather than failing the whole scrape.
 */
export function registerDatabaseGauges(
  metrics: Pick<Metrics, 'dbPoolConnections' | 'eventsPending' | 'eventsRelayLag'>,
  sources: DatabaseGaugeSources,
): void {
  metrics.dbPoolConnections.readFrom((gauge) => {
    const stats = sources.poolStats()
    gauge.set({ state: 'total' }, stats.total)
    gauge.set({ state: 'idle' }, stats.idle)
    gauge.set({ state: 'waiting' }, stats.waiting)
  })
  let backlog: Promise<{ pending: number; lagSeconds: number } | undefined> | undefined
  const readBacklog = () => {
    backlog ??= Promise.race([
      sources.outboxBacklog().then(({ pending, oldest }) => ({
        pending,
        lagSeconds: oldest === null ? 0 : Math.max(0, (Date.now() - Date.parse(oldest)) / 1000),
      })),
      new Promise<undefined>((resolve) =>
        setTimeout(() => resolve(undefined), BACKLOG_QUERY_TIMEOUT_MS).unref(),
      ),
    ])
      .catch(() => undefined)
      .finally(() => {
        // Shared by the gauges of one scrape, fresh for the next.
        setImmediate(() => {
          backlog = undefined
        })
      })
    return backlog
  }
  metrics.eventsPending.readFrom(async (gauge) => {
    const value = await readBacklog()
    if (value) gauge.set(value.pending)
  })
  metrics.eventsRelayLag.readFrom(async (gauge) => {
    const value = await readBacklog()
    if (value) gauge.set(value.lagSeconds)
  })
}

/** Status codes every route may answer besides those its schema documents. */
const ALWAYS_POSSIBLE = ['500', '503']

/**
 * Records every response under its route template (never the raw URL, which would explode cardinality).
 * Each route's documented statuses (and 500, 503) start at 0 when the app is ready: a counter series that
 * appears only at its first increment hides that increment from rate(), so a burst of errors within one
 * scrape interval would never show (the 5xx alert read 0 through a 981-error outage).
 */
export function registerHttpMetrics(
  app: FastifyInstance,
  metrics: Pick<Metrics, 'httpRequests' | 'httpDuration'>,
): void {
  const known: { method: string; route: string; status: string }[] = []
  app.addHook('onRoute', (route) => {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter(
      (method) => method !== 'HEAD',
    )
    const documented = Object.keys((route.schema?.response as Record<string, unknown> | undefined) ?? {})
    const statuses = new Set([
      ...(documented.length > 0 ? documented : ['200']).filter((status) => /^[1-5]\d\d$/.test(status)),
      ...ALWAYS_POSSIBLE,
    ])
    for (const method of methods)
      for (const status of statuses) known.push({ method, route: route.url, status })
  })
  app.addHook('onReady', async () => {
    for (const labels of known) metrics.httpRequests.inc(labels, 0)
  })
  // A callback hook: an async one costs every response a promise and a tick.
  app.addHook('onResponse', (request, reply, done) => {
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    }
    metrics.httpRequests.inc(labels)
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000)
    done()
  })
}
