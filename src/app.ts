import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import cors from '@fastify/cors'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Config } from './config.js'
import { createRefreshTokensRepository } from './modules/auth/repository.js'
import { authRoutes } from './modules/auth/routes.js'
import { createAuthService } from './modules/auth/service.js'
import { eventsRoutes } from './modules/events/routes.js'
import { createFilesRepository } from './modules/files/repository.js'
import { filesRoutes } from './modules/files/routes.js'
import { createFilesService } from './modules/files/service.js'
import { abandonedUploadSweep, LocalDiskStorage } from './modules/files/storage.js'
import { type DependencyCheck, healthRoutes } from './modules/health/routes.js'
import { createHistoryRepository } from './modules/history/repository.js'
import { historyRoutes } from './modules/history/routes.js'
import { createHistoryService } from './modules/history/service.js'
import { MathPool } from './modules/math/pool.js'
import { mathRoutes } from './modules/math/routes.js'
import { createMathService } from './modules/math/service.js'
import { UserSlots } from './modules/math/user-slots.js'
import { createProductsRepository } from './modules/products/repository.js'
import { productsRoutes } from './modules/products/routes.js'
import { createProductsService } from './modules/products/service.js'
import { createTasksRepository } from './modules/tasks/repository.js'
import { tasksRoutes } from './modules/tasks/routes.js'
import { createTasksService } from './modules/tasks/service.js'
import { createUsersRepository } from './modules/users/repository.js'
import { usersRoutes } from './modules/users/routes.js'
import { createUsersService } from './modules/users/service.js'
import { AccessTokens, registerAuthHooks } from './platform/auth.js'
import { createBatchInsert } from './platform/batch-insert.js'
import { TwoTierCache } from './platform/cache.js'
import { NamespaceVersions } from './platform/cache-versions.js'
import { migrateToLatest, openDatabase } from './platform/database.js'
import { frameworkError, registerErrorHandling } from './platform/errors.js'
import { KafkaSink } from './platform/events/kafka-sink.js'
import { createOutboxStore } from './platform/events/outbox.js'
import { OutboxRelay } from './platform/events/relay.js'
import type { EventSink } from './platform/events/sink.js'
import { createIdempotency } from './platform/idempotency.js'
import { Lifecycle } from './platform/lifecycle.js'
import { AccessLog, loggerOptions } from './platform/logging.js'
import { createMetrics, registerDatabaseGauges, registerHttpMetrics } from './platform/metrics.js'
import { openApiDocument, optionalWhenDefaulted, refResolver } from './platform/openapi.js'
import { PeriodicTask } from './platform/periodic.js'
import { beforeParsing, createRateLimits, RateLimitStore } from './platform/rate-limit.js'
import { connectRedis, type RedisHandle } from './platform/redis.js'
import { runWithRequestContext } from './platform/request-context.js'
import { Retention, type RetentionRule } from './platform/retention.js'
import { allNamedSchemas } from './platform/schemas.js'
import { registerSecurityHeaders } from './platform/security-headers.js'
import { createWrites } from './platform/transactions.js'
import { UserStateCache } from './platform/user-state-cache.js'
import { registerBodyParsers, validatorCompiler } from './platform/validation.js'
import { DEFAULT_WEB_ROOT, registerWebUi } from './platform/web-ui.js'

export const API_PREFIX = '/api/v1'

/** A client-supplied request id is kept when it is short and harmless; anything else is replaced. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

function requestId(request: IncomingMessage): string {
  const supplied = request.headers['x-request-id']
  return typeof supplied === 'string' && SANE_REQUEST_ID.test(supplied) ? supplied : randomUUID()
}

export interface ServiceOptions {
  /** Replaces the sink KAFKA_BROKERS would select (tests record what the relay delivers). */
  eventSink?: EventSink
}

const HOURLY_MS = 60 * 60_000

/**
 * Everything the service is made of except HTTP: shared by the server and the command line. Nothing runs
 * in the background until `start()` (a serving instance calls it; one-shot commands do not); `close()`
 * closes every long-lived part in the reverse of the order they are listed here.
 */
export async function createServices(config: Config, log: FastifyBaseLogger, options: ServiceOptions = {}) {
  const lifecycle = new Lifecycle(log)
  try {
    return await assembleServices(config, log, options, lifecycle)
  } catch (error) {
    // A start that fails half-way closes what it had opened (the database, Redis, worker threads).
    await lifecycle.close()
    throw error
  }
}

async function assembleServices(
  config: Config,
  log: FastifyBaseLogger,
  options: ServiceOptions,
  lifecycle: Lifecycle,
) {
  const metrics = createMetrics()
  const database = await openDatabase(config.databaseUrl, { poolMax: config.databasePoolMax })
  lifecycle.add({ name: 'database', close: () => database.close() })
  await migrateToLatest(database)
  let redis: RedisHandle | undefined
  if (config.redisUrl) {
    const connected = await connectRedis(config.redisUrl, config.redisKeyPrefix, log, () =>
      metrics.redisStateChanged(redis?.isReady() ?? false),
    )
    redis = connected
    lifecycle.add({ name: 'redis', close: () => connected.close() })
    metrics.observeRedis(connected)
  }

  const writes = createWrites(database.db, database.dialect)
  const idempotency = createIdempotency({ db: database.db, secret: config.jwtSecret, log })
  const usersRepository = createUsersRepository(database.db, database.dialect)
  const refreshTokens = createRefreshTokensRepository(database.db)
  const userStates = new UserStateCache(async (id) => {
    const user = await usersRepository.findById(id)
    return user && { role: user.role, isActive: user.isActive, tokenVersion: user.tokenVersion }
  }, redis)
  const accessTokens = new AccessTokens(config.jwtSecret, config.accessTokenTtlSeconds, userStates, metrics)

  const pool = new MathPool({ ...config.math, metrics })
  lifecycle.add({ name: 'math pool', close: () => pool.close() })
  log.info(
    {
      engine: pool.engine.name,
      version: pool.engine.version,
      ...(pool.engine.reason ? { reason: pool.engine.reason } : {}),
    },
    pool.engine.name === 'gmp' ? 'math engine: GMP (native addon)' : 'math engine: JavaScript (V8 BigInt)',
  )

  const outbox = createOutboxStore(database.db)
  registerDatabaseGauges(metrics, {
    poolStats: () => database.poolStats(),
    outboxBacklog: () => outbox.backlog(),
  })
  const { kafkaBrokers, kafkaTopic, kafkaClientId, retentionDays } = config.events
  const eventSink =
    options.eventSink ??
    (kafkaBrokers.length > 0
      ? new KafkaSink({ brokers: kafkaBrokers, topic: kafkaTopic, clientId: kafkaClientId })
      : undefined)
  // Without a sink there is nothing to relay to: events stay in the outbox, readable through the API.
  // Closed after the history writer has flushed, whose rows carry events too.
  if (eventSink) {
    lifecycle.add(
      new OutboxRelay({
        db: database.db,
        dialect: database.dialect,
        store: outbox,
        sink: eventSink,
        metrics,
        log,
        retentionDays,
      }),
    )
  }

  const historyRepository = createHistoryRepository(database.db, createBatchInsert(database))
  const history = createHistoryService(
    historyRepository,
    (size) => metrics.historyBatchSize.observe(size),
    // PostgreSQL: several batches in flight, leaving most of the pool to everything else.
    {
      writers: database.dialect === 'postgres' ? Math.min(4, Math.ceil(config.databasePoolMax / 3)) : 1,
      log,
    },
  )
  // Every acknowledged call's history row must be written before the pool and the database go away.
  lifecycle.add({ name: 'history writer', close: () => history.flush() })

  const retentionRules: RetentionRule[] = []
  if (config.historyRetentionDays !== undefined) {
    retentionRules.push({
      name: 'math_history',
      days: config.historyRetentionDays,
      prune: (beforeId, limit) => historyRepository.deleteBefore(beforeId, limit),
    })
  }
  // With no broker nothing will ever deliver the outbox, so it is kept like a log: EVENTS_RETENTION_DAYS.
  if (!eventSink) {
    retentionRules.push({
      name: 'events',
      days: retentionDays,
      prune: (beforeId, limit) => outbox.deleteBefore(beforeId, limit),
    })
  }
  const retention = lifecycle.add(new Retention({ rules: retentionRules, log }))

  const storage = new LocalDiskStorage(config.files.uploadDir)
  lifecycle.add(abandonedUploadSweep(storage, config.requestTimeoutMs, log))
  lifecycle.add(
    new PeriodicTask({
      name: 'token pruning',
      run: () => refreshTokens.deleteExpired(new Date().toISOString()),
      firstRunMs: HOURLY_MS,
      intervalMs: HOURLY_MS,
      log,
    }),
  )
  lifecycle.add(
    new PeriodicTask({
      name: 'idempotency key pruning',
      run: () => idempotency.prune(),
      firstRunMs: HOURLY_MS,
      intervalMs: HOURLY_MS,
      log,
    }),
  )

  const cacheNamed = <V extends string | Buffer = string>(name: string) =>
    new TwoTierCache<V>({
      name,
      metrics,
      maxBytes: config.cache.maxBytes,
      redisMaxValueBytes: config.cache.redisMaxValueBytes,
      redisTtlSeconds: config.cache.redisTtlSeconds,
      redisBudgetBytes: config.cache.redisBudgetBytes,
      redisCallerBudgetBytes: config.cache.redisCallerBudgetBytes,
      log,
      ...(redis ? { redis } : {}),
    })
  const files = createFilesService({
    writes,
    files: createFilesRepository(database.db),
    storage,
    maxUploadBytes: config.files.maxUploadBytes,
    maxUserStorageBytes: config.files.maxUserStorageBytes,
    log,
  })
  return {
    metrics,
    database,
    redis,
    outbox,
    retention,
    accessTokens,
    rateLimits: createRateLimits(new RateLimitStore(redis), metrics, config.rateLimit),
    idempotency,
    users: createUsersService({
      writes,
      users: usersRepository,
      refreshTokens,
      userStates,
      // A deleted user's file rows go by FK cascade; their stored bytes go through the files service.
      beforeDelete: files.prepareOwnerRemoval,
    }),
    files,
    auth: createAuthService({
      writes,
      users: usersRepository,
      refreshTokens,
      accessTokens,
      refreshTokenTtlSeconds: config.refreshTokenTtlSeconds,
      metrics,
    }),
    history,
    mathEngine: pool.engine,
    math: createMathService({
      pool,
      // Big results are kept as the bytes they were computed into (modules/math/engine/entry.ts).
      cache: cacheNamed<string | Buffer>('math'),
      history,
      limits: config.math,
      metrics,
      // Half the workers per user (rounded up); 16 more of a user's computations may wait behind its own.
      slots: new UserSlots(
        Math.max(1, Math.ceil(config.math.workers / 2)),
        16,
        config.math.timeoutMs,
        metrics,
      ),
    }),
    products: createProductsService({
      writes,
      products: createProductsRepository(database.db),
      cache: cacheNamed('products'),
      versions: new NamespaceVersions({ db: database.db, ...(redis ? { redis } : {}) }),
    }),
    tasks: createTasksService({ writes, tasks: createTasksRepository(database.db) }),
    /** Begins the background work: the outbox relay, retention, sweeping and pruning. */
    start: () => lifecycle.start(),
    /** Every part closes even if one fails; the first failure still fails the shutdown (a non-zero exit). */
    async close(): Promise<void> {
      const failures = await lifecycle.close()
      if (failures.length > 0) throw failures[0]
    },
  }
}

export type Services = Awaited<ReturnType<typeof createServices>>

export interface BuildOptions extends ServiceOptions {
  /** Replaces the pino logger configuration (tests pass false). */
  logger?: boolean
  /** Where log lines go instead of stdout (tests read them). */
  logStream?: { write(line: string): void }
  /** The built web UI served at `/` (default dist/web); when it holds no index.html, only the API is served. */
  webRoot?: string
}

/** Builds the whole service from a config: the one place where every part is created and wired. */
export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger === false ? false : loggerOptions(config.logLevel, options.logStream),
    logController: new AccessLog(),
    genReqId: requestId,
    trustProxy: config.trustProxy,
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: config.requestTimeoutMs,
    http: {
      // Node checks these timeouts only every connectionsCheckingInterval (30 s by default), so a client
      // trickling its headers a byte a second held its connection for up to 30 s past the timeout.
      headersTimeout: Math.min(15_000, config.requestTimeoutMs),
      connectionsCheckingInterval: 1000,
    },
    connectionTimeout: config.requestTimeoutMs + 5000,
    // Longer than a typical load balancer's idle timeout (60 s), so the balancer closes first.
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    frameworkErrors: frameworkError,
  }).withTypeProvider<TypeBoxTypeProvider>()
  app.setValidatorCompiler(validatorCompiler)
  registerBodyParsers(app)

  const services = await createServices(config, app.log, options)
  const { metrics, database, redis, accessTokens, rateLimits } = services
  services.start()
  app.addHook('onClose', () => services.close())

  if (config.bootstrapAdmin) {
    const { user, created } = await services.users.ensureAdmin(config.bootstrapAdmin)
    if (created) app.log.info({ username: user.username }, 'bootstrap admin created')
  }

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    // Everything after this hook, services included, runs inside the context: outbox rows read it.
    runWithRequestContext({ requestId: request.id, clientAddress: request.ip }, done)
  })
  registerErrorHandling(app, rateLimits.perUser, (dependency) => metrics.dependencyErrors.inc({ dependency }))
  registerHttpMetrics(app, metrics)
  registerAuthHooks(app, accessTokens, metrics)
  // Plain-HTTP deployments (localhost, a LAN) must keep working, so no upgrade-insecure-requests.
  registerSecurityHeaders(app, { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }, [
    `${API_PREFIX}/`,
    '/health',
    '/metrics',
    '/openapi.json',
  ])
  await app.register(cors, {
    origin: config.corsOrigins.includes('*')
      ? '*'
      : config.corsOrigins.length > 0
        ? [...config.corsOrigins]
        : false,
    exposedHeaders: [
      'x-request-id',
      'retry-after',
      'ratelimit-limit',
      'ratelimit-remaining',
      'ratelimit-reset',
      'idempotent-replayed',
      'location',
    ],
  })
  for (const schema of allNamedSchemas()) app.addSchema(schema)
  await app.register(swagger, { openapi: openApiDocument(), transform: optionalWhenDefaulted, refResolver })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  const dependencies: DependencyCheck[] = [{ name: 'database', required: true, check: () => database.ping() }]
  if (redis) dependencies.push({ name: 'redis', required: false, check: () => redis.ping() })
  const { name: engine, version } = services.mathEngine
  await app.register(healthRoutes, { dependencies, log: app.log, mathEngine: { engine, version } })

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.type(metrics.registry.contentType)
    return metrics.registry.metrics()
  })
  await registerWebUi(app, options.webRoot ?? DEFAULT_WEB_ROOT)

  await app.register(
    async (api) => {
      await api.register(authRoutes, {
        auth: services.auth,
        users: services.users,
        rateLimits,
        idempotency: services.idempotency,
      })
      // Everything but the auth endpoints counts against the caller's read or write budget. Counted
      // before the body is parsed or validated (after authentication, which names the caller), so a
      // request refused as malformed, too large or invalid spends budget like any other.
      await api.register(async (limited) => {
        limited.addHook('preParsing', beforeParsing(rateLimits.perUser))
        await limited.register(usersRoutes, { users: services.users })
        await limited.register(mathRoutes, { math: services.math })
        await limited.register(historyRoutes, { history: services.history })
        await limited.register(productsRoutes, {
          products: services.products,
          idempotency: services.idempotency,
        })
        await limited.register(tasksRoutes, { tasks: services.tasks, idempotency: services.idempotency })
        await limited.register(eventsRoutes, { outbox: services.outbox })
        await limited.register(filesRoutes, {
          files: services.files,
          idempotency: services.idempotency,
          maxUploadBytes: config.files.maxUploadBytes,
        })
      })
    },
    { prefix: API_PREFIX },
  )

  return app
}
