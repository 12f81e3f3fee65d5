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
  readonly historyBatchSize: Histogram
  readonly eventsPublished: Counter
  readonly eventsPublishFailures: Counter
}

export function createMetrics(): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
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
    authFailures: new Counter({
      name: 'auth_failures_total',
      help: 'Failed authentications, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
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
      help: '1 when Redis is configured and connected, 0 when configured and down',
      registers: [registry],
    }),
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

/** Records every response under its route template (never the raw URL, which would explode cardinality). */
export function registerHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
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
