import { afterAll, beforeAll, expect, it } from 'vitest'
import { consume, describeWithBroker, MockBroker } from '../events/kafka-mock.js'
import { allEvents, metric, waitFor } from '../events/support.js'
import { describeEachBackend, useApp } from '../helpers.js'

/*
 * The broker goes away (the mock drops every connection and refuses new ones) and comes back, twice, while
 * the service keeps taking writes of every kind. The outbox keeps the events meanwhile (events_pending
 * grows), and once the broker is back every event arrives, each id at least once, none lost.
 */
describeWithBroker('broker faults', () => {
  describeEachBackend('broker cut', (backend) => {
    let broker: MockBroker
    beforeAll(async () => {
      broker = await MockBroker.start('fault-events', 3)
    })
    // Registered before the app's hooks, so the broker stops after the app is closed.
    afterAll(() => broker?.stop())
    const t = useApp(backend, {
      admin: true,
      users: ['producer'],
      env: () => ({ KAFKA_BROKERS: broker.bootstrap, KAFKA_TOPIC: broker.topic }),
    })

    /** Writes of several kinds, concurrently: each produces one event or more. */
    async function burst(tag: string, size = 8): Promise<void> {
      const responses = await Promise.all(
        Array.from({ length: size }, (_, i) => [
          t.app.inject({
            method: 'POST',
            url: '/api/v1/tasks',
            headers: t.users.producer.headers,
            payload: { title: `${tag} ${i}` },
          }),
          t.app.inject({ url: `/api/v1/math/factorial/${i + 1}`, headers: t.users.producer.headers }),
          t.app.inject({
            method: 'POST',
            url: '/api/v1/products',
            headers: t.admin.headers,
            payload: { name: `${tag} ${i}`, price: i + 1, stock: i, category: tag, sku: `${tag}-${i}` },
          }),
        ]).flat(),
      )
      for (const response of responses) expect(response.statusCode, response.body).toBeLessThan(300)
    }

    it('keeps every event through two outages and delivers them all afterwards', async () => {
      await burst('before')
      await waitFor(async () => (await metric(t.app, 'events_pending')) === 0)

      await broker.down()
      const failures = await metric(t.app, 'events_publish_failures_total')
      await burst('outage-one')
      await waitFor(async () => (await metric(t.app, 'events_publish_failures_total')) > failures)
      const pendingOne = await metric(t.app, 'events_pending')
      expect(pendingOne).toBeGreaterThanOrEqual(3 * 8)
      await burst('outage-one-more')
      expect(await metric(t.app, 'events_pending')).toBeGreaterThanOrEqual(pendingOne + 3 * 8)

      // Back briefly while writes continue, then gone again mid-delivery.
      await broker.up()
      await burst('flap')
      await broker.down()
      await burst('outage-two')
      expect(await metric(t.app, 'events_pending')).toBeGreaterThan(0)

      await broker.up()
      await waitFor(async () => (await metric(t.app, 'events_pending')) === 0, 40_000)
      const stored = await allEvents(t.app, t.admin)
      expect(stored.every((event) => event.publishedAt !== null)).toBe(true)
      const expected = new Set(stored.map((event) => event.id))
      // 5 bursts of 24 writes, plus the sign-up's and logins' events.
      expect(expected.size).toBeGreaterThanOrEqual(5 * 24)

      const consumed = await consume(broker, (messages) => {
        const seen = new Set(messages.map((message) => message.id))
        return [...expected].every((id) => seen.has(id))
      })
      const delivered = new Set(consumed.map((message) => message.id))
      const lost = [...expected].filter((id) => !delivered.has(id))
      expect(lost).toEqual([])
      // Nothing delivered that the outbox does not hold, and each message carries its own id.
      expect([...delivered].filter((id) => !expected.has(id))).toEqual([])
      for (const message of consumed) expect(message.eventIdHeader).toBe(message.id)
    }, 55_000)
  })
})
