import { rmSync } from 'node:fs'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { adminSession, buildTestApp, describeEachBackend, signUp, useApp } from '../helpers.js'
import { consume, describeWithBroker, MockBroker } from './kafka-mock.js'
import { allEvents, expectDeliveredInOrder, metric, waitFor } from './support.js'

describeWithBroker('event relay to a Kafka-protocol broker', () => {
  describeEachBackend('relay', (backend) => {
    let broker: MockBroker
    beforeAll(async () => {
      broker = await MockBroker.start()
    })
    // Registered before the app's hooks, so the broker stops after the app is closed.
    afterAll(() => broker.stop())
    const t = useApp(backend, {
      admin: true,
      env: () => ({ KAFKA_BROKERS: broker.bootstrap, KAFKA_TOPIC: broker.topic }),
    })

    /** A burst of work from several users: registrations, logins and math calls. */
    async function workload(prefix: string, users = 3, calls = 10): Promise<void> {
      const sessions = await Promise.all(
        Array.from({ length: users }, (_, i) => signUp(t.app, `${prefix}${i}`)),
      )
      await Promise.all(
        sessions.flatMap((session) =>
          Array.from({ length: calls }, (_, n) =>
            t.app.inject({ url: `/api/v1/math/fibonacci/${n}`, headers: session.headers }),
          ),
        ),
      )
    }

    const deliveredIds = async () => (await allEvents(t.app, t.admin)).map((event) => event.id)
    const allPublished = async () =>
      (await allEvents(t.app, t.admin)).every((event) => event.publishedAt !== null)

    it('delivers every event, in order per key, with the event-id header', async () => {
      await workload('order')
      await waitFor(allPublished)
      const expected = await deliveredIds()
      const consumed = await consume(
        broker,
        (messages) => new Set(messages.map((m) => m.id)).size >= expected.length,
      )
      expectDeliveredInOrder(consumed, expected)
      // Keys are the actors: the math calls of one user share a key (and so a partition).
      const mathKeys = new Set(consumed.filter((m) => m.type === 'math.computed').map((m) => m.key))
      expect(mathKeys.size).toBe(3)
      expect(await metric(t.app, 'events_pending')).toBe(0)
      expect(await metric(t.app, 'events_relay_lag_seconds')).toBe(0)
      expect(await metric(t.app, 'events_published_total')).toBeGreaterThanOrEqual(expected.length)
    })

    it('keeps events while the broker is down and delivers them all when it returns', async () => {
      await broker.down()
      const failuresBefore = await metric(t.app, 'events_publish_failures_total')
      await workload('outage', 2, 5)
      await waitFor(async () => (await metric(t.app, 'events_publish_failures_total')) > failuresBefore)
      expect(await metric(t.app, 'events_pending')).toBeGreaterThan(0)
      const lagBefore = await metric(t.app, 'events_relay_lag_seconds')
      expect(lagBefore).toBeGreaterThan(0)
      await workload('outage-more', 1, 5)
      expect(await metric(t.app, 'events_pending')).toBeGreaterThan(2 * 6)
      await broker.up()
      await waitFor(allPublished, 40_000)
      const expected = await deliveredIds()
      const consumed = await consume(
        broker,
        (messages) => new Set(messages.map((m) => m.id)).size >= expected.length,
      )
      expectDeliveredInOrder(consumed, expected)
      expect(await metric(t.app, 'events_pending')).toBe(0)
    })

    it('loses nothing across a restart of the service', async () => {
      await broker.down()
      await workload('restart', 2, 3)
      const pendingBeforeStop = await metric(t.app, 'events_pending')
      expect(pendingBeforeStop).toBeGreaterThan(0)
      await t.app.close()
      await broker.up()
      // A new instance on the same database picks the pending rows up.
      const next = await buildTestApp(backend, {
        DATABASE_URL: t.config.databaseUrl,
        KAFKA_BROKERS: broker.bootstrap,
        KAFKA_TOPIC: broker.topic,
      })
      try {
        const nextAdmin = await adminSession(next.app)
        await waitFor(async () =>
          (await allEvents(next.app, nextAdmin)).every((event) => event.publishedAt !== null),
        )
        const expected = (await allEvents(next.app, nextAdmin)).map((event) => event.id)
        const consumed = await consume(
          broker,
          (messages) => new Set(messages.map((m) => m.id)).size >= expected.length,
        )
        expectDeliveredInOrder(consumed, expected)
      } finally {
        await next.app.close()
        rmSync(next.config.dataDir, { recursive: true, force: true })
      }
    })
  })
})
