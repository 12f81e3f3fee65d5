import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../events/support.js'
import { describeEachBackend, postgresBackend, type TestApp, useApp } from '../helpers.js'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'

/*
 * Short outages must be visible to Prometheus, which only sees what a scrape reads: every known series
 * exists at 0 before its first increment (else rate() misses that increment), redis_up is asked at the
 * scrape itself, and a Redis connection lost and regained between two scrapes is counted.
 */

async function scrape(t: TestApp): Promise<string> {
  return (await t.app.inject({ url: '/metrics' })).body
}
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describeEachBackend('metrics present from the start', (backend) => {
  const t = useApp(backend)

  it('every route’s documented statuses, plus 500 and 503, are at 0 before any request', async () => {
    const text = await scrape(t)
    for (const status of ['201', '400', '401', '409', '422', '429', '500', '503'])
      expect(
        sample(text, `http_requests_total{method="POST",route="/api/v1/tasks",status="${status}"}`),
        status,
      ).toBe(0)
    for (const status of ['200', '401', '422', '500', '503'])
      expect(
        sample(
          text,
          `http_requests_total{method="GET",route="/api/v1/math/fibonacci/:n",status="${status}"}`,
        ),
      ).toBe(0)
    expect(sample(text, 'http_requests_total{method="GET",route="/health/ready",status="503"}')).toBe(0)
  })

  it('dependency errors, auth failures, rate limits and cache series too', async () => {
    const text = await scrape(t)
    expect(sample(text, 'dependency_errors_total{dependency="database"}')).toBe(0)
    expect(sample(text, 'redis_connection_lost_total')).toBe(0)
    for (const cache of ['math', 'products']) {
      expect(sample(text, `cache_redis_errors_total{cache="${cache}"}`)).toBe(0)
      expect(sample(text, `cache_requests_total{cache="${cache}",tier="redis",outcome="hit"}`)).toBe(0)
    }
    for (const reason of ['missing_token', 'token_revoked', 'bad_credentials', 'refresh_reuse'])
      expect(sample(text, `auth_failures_total{reason="${reason}"}`), reason).toBe(0)
    for (const tier of ['read', 'write', 'auth-address', 'auth-login', 'auth-register'])
      expect(sample(text, `rate_limited_requests_total{tier="${tier}"}`), tier).toBe(0)
  })

  it('a request answered under a route increments its pre-existing series', async () => {
    await t.app.inject({ method: 'POST', url: '/api/v1/tasks', payload: { title: 'x' } })
    expect(
      sample(await scrape(t), 'http_requests_total{method="POST",route="/api/v1/tasks",status="401"}'),
    ).toBe(1)
  })
})

describe.runIf(postgresBackend)('redis_up and lost connections, through a Redis proxy', () => {
  let proxy: TcpProxy
  beforeAll(async () => {
    proxy = await startTcpProxy(postgresBackend!.redisUrl!, 6379)
  })
  afterAll(() => proxy?.close())
  const t = useApp(() => ({ ...postgresBackend!, redisUrl: proxy.url }))
  // Registered after useApp, so this runs before the app closes, whose close must get through the proxy.
  afterAll(() => proxy?.restore())

  it('redis_up reads 0 at the first scrape of a Redis that stopped answering, with no request in between', async () => {
    await waitFor(async () => sample(await scrape(t), 'redis_up') === 1, 20_000)
    proxy.blackHole()
    const started = performance.now()
    // The connection still looks open: only asking Redis at the scrape shows it is gone.
    expect(sample(await scrape(t), 'redis_up')).toBe(0)
    expect(performance.now() - started).toBeLessThan(3000)
    proxy.restore()
    await waitFor(async () => sample(await scrape(t), 'redis_up') === 1, 20_000)
  })

  it('counts a connection lost and regained between two scrapes', async () => {
    const before = sample(await scrape(t), 'redis_connection_lost_total') ?? 0
    proxy.cut()
    await new Promise((resolve) => setTimeout(resolve, 200))
    proxy.restore()
    await waitFor(async () => sample(await scrape(t), 'redis_up') === 1, 20_000)
    const text = await scrape(t)
    expect(sample(text, 'redis_up')).toBe(1)
    expect(sample(text, 'redis_connection_lost_total')).toBeGreaterThan(before)
  })
})
