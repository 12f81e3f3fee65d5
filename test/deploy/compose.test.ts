import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { EnvSchema } from '../../src/config.js'
import { COMPOSE_FILE, README, ROOT, readText, readYaml } from './deploy-files.js'

/*
 * docker-compose.yml is validated by `docker-compose config -q` in CI (.ci/steps/30-deploy-config.sh);
 * these tests keep it honest about the service: it sets only documented variables, never embeds a
 * secret, gives every long-running service a health check and orders start-up on health.
 */

interface Service {
  image?: string
  build?: unknown
  restart?: string
  environment?: Record<string, unknown> | string[]
  healthcheck?: { test?: unknown; disable?: boolean }
  depends_on?: string[] | Record<string, { condition?: string }>
}
const compose = readYaml(COMPOSE_FILE) as { services: Record<string, Service> }
const services = compose.services

const API_IMAGE = 'mathapi:local'
const apiServices = Object.entries(services).filter(([, service]) => service.image === API_IMAGE)
const oneShot = (service: Service) => service.restart === 'no'

function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {}
  if (Array.isArray(env))
    return Object.fromEntries(env.map((entry) => [entry.split('=')[0]!, entry.split('=').slice(1).join('=')]))
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value ?? '')]))
}

/** Variable names in the README's configuration table (the `| \`NAME\` | default | meaning |` rows). */
function readmeVariables(): Set<string> {
  const readme = readText(README)
  const start = readme.indexOf('\n## Configuration')
  expect(start, 'README has a "## Configuration" section').toBeGreaterThan(-1)
  const end = readme.indexOf('\n## ', start + 1)
  const section = readme.slice(start, end === -1 ? undefined : end)
  return new Set([...section.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((match) => match[1]!))
}

/** The variables the events work adds (README rows come with it); named so a missing one says why. */
const EVENT_VARIABLES = new Set(['KAFKA_BROKERS', 'KAFKA_TOPIC', 'KAFKA_CLIENT_ID', 'EVENTS_RETENTION_DAYS'])

describe('docker-compose.yml', () => {
  it('runs the migrate job and two replicas from the service image', () => {
    expect(apiServices.map(([name]) => name).sort()).toEqual(['api1', 'api2', 'migrate'])
    expect(services.migrate).toMatchObject({ command: ['node', 'dist/start.js', 'cli', 'migrate'] })
  })

  it('sets on the API only variables listed in the README configuration table', () => {
    const documented = readmeVariables()
    expect(documented.size).toBeGreaterThan(20)
    const problems: string[] = []
    for (const [name, service] of apiServices) {
      for (const variable of Object.keys(environmentOf(service))) {
        if (documented.has(variable)) continue
        problems.push(
          EVENT_VARIABLES.has(variable)
            ? `${name}: ${variable} is not in the README table yet (its row comes with the event-stream work)`
            : `${name}: ${variable} is not in the README configuration table`,
        )
      }
    }
    expect(problems, problems.join('\n')).toEqual([])
  })

  it('sets on the API only variables the service reads (src/config.ts)', () => {
    const read = new Set(Object.keys(EnvSchema.properties))
    for (const [name, service] of apiServices) {
      for (const variable of Object.keys(environmentOf(service))) {
        expect(read.has(variable), `${name}: ${variable} is read by loadConfig`).toBe(true)
      }
    }
  })

  it('takes every secret from the environment, never from the file', () => {
    const secrets = ['JWT_SECRET', 'POSTGRES_PASSWORD', 'REDIS_PASSWORD', 'GRAFANA_ADMIN_PASSWORD']
    const text = readText(COMPOSE_FILE)
    for (const secret of secrets) {
      // Every mention is a required interpolation (or a reference inside one) …
      expect(text).toContain(`\${${secret}:?`)
    }
    for (const [name, service] of Object.entries(services)) {
      for (const [variable, value] of Object.entries(environmentOf(service))) {
        if (!/SECRET|PASSWORD|REDISCLI_AUTH/.test(variable)) continue
        // … and every value of a secret-looking variable is an interpolation, not a literal.
        expect(value, `${name}.${variable}`).toMatch(/^\$\{[A-Z_]+:\?[^}]+\}$/)
      }
    }
    expect(environmentOf(services.api1!).DATABASE_URL).toMatch(
      /:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432\//,
    )
    expect(environmentOf(services.api1!).REDIS_URL).toMatch(
      /^redis:\/\/:\$\{REDIS_PASSWORD:\?[^}]+\}@redis:6379$/,
    )
  })

  it('shares what several instances must share', () => {
    const [first, second] = [environmentOf(services.api1!), environmentOf(services.api2!)]
    for (const variable of ['DATABASE_URL', 'REDIS_URL', 'REDIS_KEY_PREFIX', 'JWT_SECRET', 'KAFKA_TOPIC']) {
      expect(first[variable], variable).toBeDefined()
      expect(first[variable], variable).toBe(second[variable])
    }
    expect(first.KAFKA_CLIENT_ID).not.toBe(second.KAFKA_CLIENT_ID)
    const volumes = (service: Service & { volumes?: string[] }) => service.volumes ?? []
    expect(volumes(services.api1!)).toContain('api-data:/data') // uploads written by one, read by the other
    expect(volumes(services.api2!)).toContain('api-data:/data')
  })

  it('gives every long-running service a health check, and one-shot jobs none', () => {
    for (const [name, service] of Object.entries(services)) {
      if (oneShot(service)) {
        expect(service.healthcheck?.disable, `${name} is a job: its exit code is its health`).toBe(true)
      } else {
        expect(service.healthcheck?.test, `${name} has a health check`).toBeDefined()
        expect(service.healthcheck?.disable, name).not.toBe(true)
      }
    }
  })

  it('orders start-up on health (or on a job having succeeded)', () => {
    const jobs = Object.entries(services).filter(([, service]) => oneShot(service))
    for (const [name, service] of Object.entries(services)) {
      const dependsOn = service.depends_on ?? {}
      expect(Array.isArray(dependsOn), `${name}: depends_on names a condition for each dependency`).toBe(
        false,
      )
      for (const [target, { condition }] of Object.entries(
        dependsOn as Record<string, { condition?: string }>,
      )) {
        expect(services[target], `${name} depends on ${target}, which exists`).toBeDefined()
        const expected = oneShot(services[target]!) ? 'service_completed_successfully' : 'service_healthy'
        expect(condition, `${name} → ${target}`).toBe(expected)
      }
    }
    // Every job is waited for by something (or it would run unobserved).
    for (const [job] of jobs) {
      if (job === 'kafka-init') continue // creates the topic; the API deliberately does not wait for Kafka
      const waiters = Object.values(services).filter((service) => {
        const dependsOn = service.depends_on
        return dependsOn && !Array.isArray(dependsOn) && dependsOn[job]
      })
      expect(waiters.length, `${job} is awaited`).toBeGreaterThan(0)
    }
    expect(Object.keys(services.api1!.depends_on ?? {})).not.toContain('kafka') // starts without the broker
  })

  it('stops a replica gracefully: grace period longer than SHUTDOWN_TIMEOUT_MS', () => {
    for (const name of ['api1', 'api2']) {
      const service = services[name] as Service & { stop_grace_period?: string }
      const graceSeconds = Number(/^(\d+)s$/.exec(service.stop_grace_period ?? '')?.[1])
      expect(graceSeconds * 1000).toBeGreaterThan(Number(environmentOf(service).SHUTDOWN_TIMEOUT_MS))
    }
  })

  it('is consistent with the load balancer and Prometheus configuration', () => {
    const replicas = ['api1', 'api2']
    const nginx = readText(join(ROOT, 'deploy/nginx/nginx.conf'))
    const upstreams = [...nginx.matchAll(/^\s*server ([a-z0-9-]+):8000\b/gm)].map((match) => match[1])
    expect(upstreams.sort()).toEqual(replicas)
    const prometheus = readYaml(join(ROOT, 'deploy/prometheus/prometheus.yml')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[]
    }
    const job = prometheus.scrape_configs.find((config) => config.job_name === 'mathapi')!
    expect(job.static_configs.flatMap((config) => config.targets).sort()).toEqual(
      replicas.map((replica) => `${replica}:8000`),
    )
    for (const replica of replicas) expect(environmentOf(services[replica]!).PORT).toBe('8000')
  })
})
