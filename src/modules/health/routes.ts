import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { type Static, Type } from 'typebox'
import { named, PUBLIC, ref } from '../../platform/schemas.js'
import { withTimeout } from '../../platform/timeout.js'

export interface DependencyCheck {
  name: string
  /** A required dependency being down makes the instance unready; an optional one only degrades it. */
  required: boolean
  check: () => Promise<void>
}

const CheckResult = Type.Object({
  status: Type.Union([Type.Literal('up'), Type.Literal('down')], { description: 'Whether it answered' }),
  required: Type.Boolean({ description: 'Whether the service is unready without it' }),
  latencyMs: Type.Number({ description: 'Time the check took, in milliseconds' }),
})

const MathEngine = Type.Object(
  {
    engine: Type.Union([Type.Literal('gmp'), Type.Literal('js')], {
      description: 'gmp: the native GMP addon computes exact results; js: V8 BigInt (the addon is not built)',
    }),
    version: Type.String({ description: "GMP's version for gmp, V8's for js" }),
  },
  { description: 'The engine computing exact math results' },
)

const Readiness = named(
  'Readiness',
  Type.Object(
    {
      status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('unavailable')], {
        description:
          'ok: everything answers; degraded: an optional dependency is down; unavailable: a required one is',
      }),
      checks: Type.Record(Type.String(), CheckResult, { description: 'Each configured dependency, by name' }),
      math: Type.Optional(MathEngine),
    },
    { description: 'Readiness report' },
  ),
  {
    status: 'ok',
    checks: { database: { status: 'up', required: true, latencyMs: 0.412 } },
    math: { engine: 'gmp', version: '6.3.0' },
  },
)

const Liveness = named(
  'Liveness',
  Type.Object(
    {
      status: Type.Literal('ok', { description: 'Always ok while the process runs' }),
      uptimeSeconds: Type.Number({ description: 'Seconds since the process started' }),
    },
    { description: 'Liveness report' },
  ),
  { status: 'ok', uptimeSeconds: 3600 },
)

const CHECK_TIMEOUT_MS = 2000

type CheckResult = { status: 'up' | 'down'; required: boolean; latencyMs: number }

const elapsed = (started: number) => Math.round((performance.now() - started) * 1000) / 1000

export interface HealthRoutesOptions {
  dependencies: DependencyCheck[]
  /** Where a failing check's error goes: the log, never the (public) response. */
  log: FastifyBaseLogger
  mathEngine?: Static<typeof MathEngine>
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (
  app,
  { dependencies, log, mathEngine },
) => {
  // A dependency's state changes are logged once each, with the error that made it go down.
  const lastStatus = new Map<string, 'up' | 'down'>()

  async function run(dependency: DependencyCheck): Promise<CheckResult> {
    const started = performance.now()
    let status: 'up' | 'down' = 'up'
    try {
      await withTimeout(dependency.check(), CHECK_TIMEOUT_MS, `no answer within ${CHECK_TIMEOUT_MS} ms`)
    } catch (error) {
      status = 'down'
      if (lastStatus.get(dependency.name) !== 'down') {
        log.warn({ dependency: dependency.name, err: error }, 'readiness: dependency check failed')
      }
    }
    if (status === 'up' && lastStatus.get(dependency.name) === 'down') {
      log.info({ dependency: dependency.name }, 'readiness: dependency answers again')
    }
    lastStatus.set(dependency.name, status)
    return { status, required: dependency.required, latencyMs: elapsed(started) }
  }

  // Anyone may probe readiness: probes that arrive while a round of checks is running share it.
  let inFlight: Promise<(readonly [string, CheckResult])[]> | undefined
  function checkAll() {
    inFlight ??= Promise.all(
      dependencies.map(async (dependency) => [dependency.name, await run(dependency)] as const),
    ).finally(() => {
      inFlight = undefined
    })
    return inFlight
  }

  const tags = ['operations']

  app.get(
    '/health/live',
    {
      schema: {
        operationId: 'health-live',
        description:
          'Answers 200 while the process runs, without checking any dependency. For liveness probes.',
        security: PUBLIC,
        summary: 'Liveness: 200 while the process runs',
        tags,
        response: { 200: ref(Liveness) },
      },
    },
    async () => ({ status: 'ok' as const, uptimeSeconds: Math.round(process.uptime()) }),
  )

  const ready = async (_request: FastifyRequest, reply: FastifyReply) => {
    const results = await checkAll()
    const requiredDown = results.some(([, result]) => result.required && result.status === 'down')
    const anyDown = results.some(([, result]) => result.status === 'down')
    return reply.code(requiredDown ? 503 : 200).send({
      status: requiredDown ? 'unavailable' : anyDown ? 'degraded' : 'ok',
      checks: Object.fromEntries(results),
      ...(mathEngine ? { math: mathEngine } : {}),
    })
  }
  const readySchema = (operationId: string, summary: string, description: string) => ({
    schema: {
      operationId,
      summary,
      description,
      tags,
      security: PUBLIC,
      response: {
        200: { ...ref(Readiness), description: 'Ready: ok, or degraded when an optional dependency is down' },
        503: { ...ref(Readiness), description: 'Not ready: a required dependency is down' },
      },
    },
  })
  app.get(
    '/health/ready',
    readySchema(
      'health-ready',
      'Readiness: 503 when a required dependency is down',
      'Checks each dependency (the database is required, Redis optional) and answers 200 (ok or degraded) or 503 (unavailable). For readiness probes and load balancers.',
    ),
    ready,
  )
  app.get(
    '/health',
    readySchema(
      'health',
      'Same as /health/ready',
      'The readiness report of /health/ready, at a shorter path.',
    ),
    ready,
  )
}
