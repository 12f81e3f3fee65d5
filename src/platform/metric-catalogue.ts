/**
 * Every metric the service exposes on /metrics, in the order it exposes them: name, type, help and label
 * names. prom-client's default process_* and nodejs_* metrics come first (see createMetrics in
 * metrics.ts, which makes one object of each entry here; components are given the objects they use).
 */
export interface MetricDefinition {
  readonly type: 'counter' | 'gauge' | 'histogram'
  readonly name: string
  readonly help: string
  readonly labelNames?: readonly string[]
  readonly buckets?: readonly number[]
  /** A gauge whose series are set when /metrics is scraped, by the sources components attach to it. */
  readonly readAtScrape?: true
  /**
   * Series that exist (at 0) before their first increment: a counter series that appears only at its
   * first increment hides that increment from rate(). Series whose label values are known only to a
   * component (a route, a cache's name, a rate limit tier) are started there.
   */
  readonly startAtZero?: readonly Readonly<Record<string, string>>[]
}

/** Every reason auth_failures_total is counted with. */
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
] as const

export const METRIC_CATALOGUE = {
  authFailures: {
    type: 'counter',
    name: 'auth_failures_total',
    help: 'Failed authentications, by reason',
    labelNames: ['reason'],
    startAtZero: AUTH_FAILURE_REASONS.map((reason) => ({ reason })),
  },
  /** Requests answered 503 because the database could not be reached. */
  dependencyErrors: {
    type: 'counter',
    name: 'dependency_errors_total',
    help: 'Requests answered 503 because a required dependency (the database) could not be reached',
    labelNames: ['dependency'],
    startAtZero: [{ dependency: 'database' }],
  },
  /** Times the Redis connection went from ready to lost: outages shorter than a scrape interval count too. */
  redisConnectionLost: {
    type: 'counter',
    name: 'redis_connection_lost_total',
    help: 'Times the Redis connection was lost (short outages between two scrapes included)',
  },
  httpRequests: {
    type: 'counter',
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route template, method and status',
    labelNames: ['method', 'route', 'status'],
  },
  httpDuration: {
    type: 'histogram',
    name: 'http_request_duration_seconds',
    help: 'Time from request received to response sent, by route template, method and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  },
  rateLimited: {
    type: 'counter',
    name: 'rate_limited_requests_total',
    help: 'Requests refused with 429, by limit tier',
    labelNames: ['tier'],
  },
  historyBatchSize: {
    type: 'histogram',
    name: 'history_batch_size',
    help: 'Math history records written per insert (group commit)',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500],
  },
  eventsPublished: {
    type: 'counter',
    name: 'events_published_total',
    help: 'Outbox events delivered to the event stream',
  },
  eventsPublishFailures: {
    type: 'counter',
    name: 'events_publish_failures_total',
    help: 'Outbox batches the event stream refused or did not answer (each is retried)',
  },
  redisAvailable: {
    type: 'gauge',
    name: 'redis_up',
    help: '1 when Redis is configured, connected and answers a PING at scrape time; 0 otherwise',
    readAtScrape: true,
  },
  mathPoolRetirements: {
    type: 'counter',
    name: 'math_pool_workers_retired_total',
    help: 'Idle worker threads ended because a big computation left their heap large',
  },
  mathEngineInfo: {
    type: 'gauge',
    name: 'math_engine_info',
    help: 'The engine computing exact results (gmp: the native GMP addon; js: V8 BigInt), with its version',
    labelNames: ['engine', 'version'],
  },
  mathPoolQueueDepth: {
    type: 'gauge',
    name: 'math_pool_queue_depth',
    help: 'Computations waiting for a worker thread',
    readAtScrape: true,
  },
  mathPoolUtilization: {
    type: 'gauge',
    name: 'math_pool_utilization',
    help: 'Share of the worker threads’ capacity in use since start (0–1)',
    readAtScrape: true,
  },
  mathPoolThreads: {
    type: 'gauge',
    name: 'math_pool_threads',
    help: 'Worker threads alive',
    readAtScrape: true,
  },
  // Before the backlog gauges, so collected first: their query would otherwise show up in the pool's own
  // 'waiting' count on every scrape.
  dbPoolConnections: {
    type: 'gauge',
    name: 'db_pool_connections',
    help: 'Database pool connections, by state (total, idle, waiting for a connection)',
    labelNames: ['state'],
    readAtScrape: true,
  },
  eventsPending: {
    type: 'gauge',
    name: 'events_pending',
    help: 'Outbox events not yet delivered to the event stream',
    readAtScrape: true,
  },
  eventsRelayLag: {
    type: 'gauge',
    name: 'events_relay_lag_seconds',
    help: 'Age of the oldest undelivered outbox event (0 when none waits)',
    readAtScrape: true,
  },
  cacheLocalBytes: {
    type: 'gauge',
    name: 'cache_local_bytes',
    help: 'Bytes (string length) held in the in-process tier, by cache',
    labelNames: ['cache'],
    readAtScrape: true,
  },
  cacheRequests: {
    type: 'counter',
    name: 'cache_requests_total',
    help: 'Cache lookups, by cache, tier (local|redis) and outcome (hit|miss)',
    labelNames: ['cache', 'tier', 'outcome'],
  },
  cacheRedisErrors: {
    type: 'counter',
    name: 'cache_redis_errors_total',
    help: 'Cache operations that needed Redis but fell back to this process because it was down or failed',
    labelNames: ['cache'],
  },
  cacheOverBudget: {
    type: 'counter',
    name: 'cache_redis_over_budget_total',
    help: 'Values kept in this process only because their caller, or all callers, used up the Redis budget',
    labelNames: ['cache'],
  },
  cacheShared: {
    type: 'counter',
    name: 'cache_singleflight_shared_total',
    help: 'Callers that joined a compute already in flight for their key instead of starting another',
    labelNames: ['cache'],
  },
  mathUserSlots: {
    type: 'gauge',
    name: 'math_user_slot_computations',
    help: 'Pooled computations holding a share of the pool (running) or waiting behind the same user’s own (waiting)',
    labelNames: ['state'],
    readAtScrape: true,
  },
  mathComputations: {
    type: 'counter',
    name: 'math_computations_total',
    help: 'Math calls answered, by operation and whether the result came without computing',
    labelNames: ['operation', 'cached'],
  },
  mathJobs: {
    type: 'counter',
    name: 'math_jobs_total',
    help: 'Computations started, by operation and where the cost model placed them (inline|pool)',
    labelNames: ['operation', 'place'],
  },
  mathComputeSeconds: {
    type: 'histogram',
    name: 'math_compute_seconds',
    help: 'Time to compute and convert a result to decimal, by operation (computed results only)',
    labelNames: ['operation'],
    buckets: [0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  },
} as const satisfies Record<string, MetricDefinition>

export type MetricCatalogue = typeof METRIC_CATALOGUE
