import type { FastifyInstance } from 'fastify'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/** One registry per app instance, so tests can build several apps in one process. */
export interface Metrics {
  readonly registry: Registry
  readonly httpRequests: Counter<'method' | 'route' | 'status'>
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>
  readonly rateLimited: Counter<'tier'>
  readonly authFailures: Counter<'reason'>
  readonly redisAvailable: Gauge
  /** Times the Redis connection went from ready to lost: outages shorter than a scrape interval count too. */
  readonly redisConnectionLost: Counter
  /** Requests answered 503 because the database could not be reached. */
  readonly dependencyErrors: Counter<'dependency'>
  /** From now on redis_up asks this connection at every scrape. */
  observeRedis(redis: RedisProbe): void
  /** Call on every connection event: counts each loss once. */
  redisStateChanged(ready: boolean): void
  readonly historyBatchSize: Histogram
  readonly eventsPublished: Counter
  readonly eventsPublishFailures: Counter
}

/** What redis_up needs of the Redis handle. */
export interface RedisProbe {
  isReady(): boolean
  ping(timeoutMs?: number): Promise<void>
}

/** A scrape must not wait on a stalled Redis for long; one that does not answer in this time is down. */
const REDIS_SCRAPE_PING_MS = 1000

/** Every reason auth_failures_total is counted with, so each series exists (at 0) before its first failure. */
const AUTH_FAILURE_REASONS = [
  'missing_token',
  'token_expired',
  'token_invalid',
  'token_revoked',
  'bad_credentials',
  'refresh_reuse',
  'refresh_revoked',
  'refresh_unknown',
  'refresh_expired',
  'refresh_inactive',
]

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
  let redis: RedisProbe | undefined
  let redisWasReady = false
  const authFailures = new Counter({
    name: 'auth_failures_total',
    help: 'Failed authentications, by reason',
    labelNames: ['reason'],
    registers: [registry],
  })
  for (const reason of AUTH_FAILURE_REASONS) authFailures.inc({ reason }, 0)
  const dependencyErrors = new Counter({
    name: 'dependency_errors_total',
    help: 'Requests answered 503 because a required dependency (the database) could not be reached',
    labelNames: ['dependency'],
    registers: [registry],
  })
  dependencyErrors.inc({ dependency: 'database' }, 0)
  const redisConnectionLost = new Counter({
    name: 'redis_connection_lost_total',
    help: 'Times the Redis connection was lost (short outages between two scrapes included)',
    registers: [registry],
  })
  return {
    registry,
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by route template, method and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from request received to response sent, by route template, method and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'rate_limited_requests_total',
      help: 'Requests refused with 429, by limit tier',
      labelNames: ['tier'],
      registers: [registry],
    }),
    authFailures,
    dependencyErrors,
    redisConnectionLost,
    historyBatchSize: new Histogram({
      name: 'history_batch_size',
      help: 'Math history records written per insert (group commit)',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500],
      registers: [registry],
    }),
    eventsPublished: new Counter({
      name: 'events_published_total',
      help: 'Outbox events delivered to the event stream',
      registers: [registry],
    }),
    eventsPublishFailures: new Counter({
      name: 'events_publish_failures_total',
      help: 'Outbox batches the event stream refused or did not answer (each is retried)',
      registers: [registry],
    }),
    redisAvailable: new Gauge({
      name: 'redis_up',
      help: '1 when Redis is configured, connected and answers a PING at scrape time; 0 otherwise',
      registers: [registry],
      // Asked at each scrape, not remembered from the last connection event: a Redis that stopped
      // answering without closing the connection still looks connected.
      async collect() {
        if (!redis) return
        let up = false
        if (redis.isReady())
          up = await redis.ping(REDIS_SCRAPE_PING_MS).then(
            () => true,
            () => false,
          )
        this.set(up ? 1 : 0)
      },
    }),
    observeRedis(probe) {
      redis = probe
      redisWasReady = probe.isReady()
    },
    redisStateChanged(ready) {
      if (redisWasReady && !ready) redisConnectionLost.inc()
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
export function registerDatabaseGauges(metrics: Metrics, sources: DatabaseGaugeSources): void {
  const registers = [metrics.registry]
  // Registered, so collected, before the backlog gauges: their query would otherwise show up in the
  // pool's own 'waiting' count on every scrape.
  new Gauge({
    name: 'db_pool_connections',
    help: 'Database pool connections, by state (total, idle, waiting for a connection)',
    labelNames: ['state'],
    registers,
    collect() {
      const stats = sources.poolStats()
      this.set({ state: 'total' }, stats.total)
      this.set({ state: 'idle' }, stats.idle)
      this.set({ state: 'waiting' }, stats.waiting)
    },
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
  new Gauge({
    name: 'events_pending',
    help: 'Outbox events not yet delivered to the event stream',
    registers,
    async collect() {
      const value = await readBacklog()
      if (value) this.set(value.pending)
    },
  })
  new Gauge({
    name: 'events_relay_lag_seconds',
    help: 'Age of the oldest undelivered outbox event (0 when none waits)',
    registers,
    async collect() {
      const value = await readBacklog()
      if (value) this.set(value.lagSeconds)
    },
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
export function registerHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
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
