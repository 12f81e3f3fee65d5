import { randomBytes, randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OutboxEvent } from '../../src/platform/events/outbox.js'
import type { EventSink } from '../../src/platform/events/sink.js'
import {
  adminSession,
  buildTestApp,
  postgresBackend,
  type Session,
  signUp,
  type TestApp,
} from '../helpers.js'
import { consume, kafkaMockAvailable, MockBroker } from './kafka-mock.js'
import { allEvents, metric, waitFor } from './support.js'

/** Stands in for the broker when the mock cannot run (locally only: CI requires the mock). */
class RecordingSink implements EventSink {
  readonly published: OutboxEvent[] = []
  async publish(events: OutboxEvent[]): Promise<void> {
    this.published.push(...events)
  }
  async close(): Promise<void> {}
}

const READ_LIMIT = 10

describe.runIf(postgresBackend)('two instances on one PostgreSQL and one Redis', () => {
  let broker: MockBroker | undefined
  const recording = new RecordingSink()
  let one: TestApp
  let two: TestApp
  let admin: Session

  beforeAll(async () => {
    broker = kafkaMockAvailable ? await MockBroker.start() : undefined
    const env = {
      REDIS_KEY_PREFIX: `shared-instances-${randomUUID()}:`,
      // Several instances must share the signing secret, as a deployment's do.
      JWT_SECRET: randomBytes(48).toString('base64url'),
      RATE_LIMIT_READ: String(READ_LIMIT),
      ...(broker ? { KAFKA_BROKERS: broker.bootstrap, KAFKA_TOPIC: broker.topic } : {}),
    }
    const options = broker ? {} : { eventSink: recording }
    one = await buildTestApp(postgresBackend!, env, options)
    two = await buildTestApp(postgresBackend!, { ...env, DATABASE_URL: one.config.databaseUrl }, options)
    admin = await adminSession(one.app)
  })
  afterAll(async () => {
    await two?.app.close()
    await one?.close()
    await broker?.stop()
  })

  it('count a rate limit across both', async () => {
    const alice = await signUp(one.app, 'alice')
    for (let i = 0; i < READ_LIMIT; i++) {
      const app = i % 2 === 0 ? one.app : two.app
      expect((await app.inject({ url: '/api/v1/tasks', headers: alice.headers })).statusCode).toBe(200)
    }
    expect((await one.app.inject({ url: '/api/v1/tasks', headers: alice.headers })).statusCode).toBe(429)
    expect((await two.app.inject({ url: '/api/v1/tasks', headers: alice.headers })).statusCode).toBe(429)
  })

  it('refuse on one a token revoked through the other, at once', async () => {
    const carol = await signUp(two.app, 'carol')
    // Instance two has carol's account state cached (locally and in Redis).
    expect((await two.app.inject({ url: '/api/v1/auth/me', headers: carol.headers })).statusCode).toBe(200)
    const deactivated = await one.app.inject({
      method: 'PATCH',
      url: `/api/v1/users/${carol.id}`,
      headers: admin.headers,
      payload: { isActive: false },
    })
    expect(deactivated.statusCode).toBe(200)
    // "At once" is Redis pub/sub delivery to the other instance's cache: milliseconds, not a TTL.
    const revokedAt = Date.now()
    await waitFor(
      async () =>
        (await two.app.inject({ url: '/api/v1/auth/me', headers: carol.headers })).statusCode === 401,
      1000,
    )
    expect(Date.now() - revokedAt).toBeLessThan(1000)
  })

  it('serve from the cache on one a result computed on the other', async () => {
    const bob = await signUp(one.app, 'bob')
    const first = await one.app.inject({ url: '/api/v1/math/fibonacci/5000', headers: bob.headers })
    expect(first.json().cached).toBe(false)
    const second = await two.app.inject({ url: '/api/v1/math/fibonacci/5000', headers: bob.headers })
    expect(second.json()).toMatchObject({ cached: true, result: first.json().result })
    expect((await two.app.inject({ url: '/metrics' })).body).toMatch(
      /cache_requests_total\{cache="math",tier="redis",outcome="hit"\} [1-9]/,
    )
  })

  it(`publish each event exactly once (${kafkaMockAvailable ? 'mock Kafka broker' : 'recording sink: no mock broker here'})`, async () => {
    // Both relays compete for the same rows while both instances write.
    const sessions = await Promise.all([signUp(one.app, 'dave'), signUp(two.app, 'erin')])
    await Promise.all(
      sessions.flatMap((session, i) =>
        Array.from({ length: 20 }, (_, n) =>
          (i === 0 ? one : two).app.inject({ url: `/api/v1/math/factorial/${n}`, headers: session.headers }),
        ),
      ),
    )
    await waitFor(async () => (await allEvents(one.app, admin)).every((event) => event.publishedAt !== null))
    const ids = (await allEvents(two.app, admin)).map((event) => event.id)
    const publishedByBoth =
      (await metric(one.app, 'events_published_total')) + (await metric(two.app, 'events_published_total'))
    expect(publishedByBoth).toBe(ids.length)
    const delivered = broker
      ? (await consume(broker, (messages) => messages.length >= ids.length)).map((message) => message.id)
      : recording.published.map((event) => event.id)
    expect(delivered).toHaveLength(ids.length)
    expect([...delivered].sort()).toEqual([...ids].sort())
  })
})
