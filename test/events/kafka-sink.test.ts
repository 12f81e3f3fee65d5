import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { KafkaSink } from '../../src/platform/events/kafka-sink.js'
import type { OutboxEvent } from '../../src/platform/events/outbox.js'
import { uuidv7 } from '../../src/platform/ids.js'
import { consume, describeWithBroker, MockBroker } from './kafka-mock.js'
import { expectDeliveredInOrder } from './support.js'

const event = (userId: string | null, n: number): OutboxEvent => ({
  id: uuidv7(),
  type: 'math.computed',
  occurredAt: new Date().toISOString(),
  actor: { userId, role: userId ? 'user' : null },
  requestId: `req-${n}`,
  data: { n },
})

/** Kafka's own murmur2 test vectors (the Java client's UtilsTest): key → signed 32-bit hash. */
const JAVA_MURMUR2: Record<string, number> = {
  '21': -973932308,
  foobar: -790332482,
  'a-little-bit-long-string': -985981536,
  'a-little-bit-longer-string': -1486304829,
  lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8: -58897971,
  abc: 479470107,
}
const PARTITIONS = 5

describeWithBroker('Kafka sink against a Kafka-protocol broker', () => {
  let broker: MockBroker
  let sink: KafkaSink

  beforeAll(async () => {
    broker = await MockBroker.start('sink-events', PARTITIONS)
  })
  afterEach(async () => {
    await sink.close()
  })
  afterAll(async () => {
    await broker.stop()
  })

  const newSink = () =>
    new KafkaSink({ brokers: [broker.bootstrap], topic: broker.topic, clientId: 'sink-test' })

  it('puts each key on the partition the Java client (and kafkajs before) chose, with the event-id header', async () => {
    sink = newSink()
    const events = Object.keys(JAVA_MURMUR2).map((key, n) => event(key, n))
    events.push(event(null, 99))
    await sink.publish(events)
    const consumed = await consume(broker, (messages) => messages.length >= events.length)
    expectDeliveredInOrder(
      consumed,
      events.map((e) => e.id),
    )
    for (const message of consumed) {
      const hash = JAVA_MURMUR2[message.key]
      if (hash === undefined) {
        expect(message.key).toBe('anonymous')
        continue
      }
      expect({ key: message.key, partition: message.partition }).toEqual({
        key: message.key,
        partition: (hash & 0x7fffffff) % PARTITIONS,
      })
    }
    const anonymous = consumed.find((message) => message.key === 'anonymous')
    expect(anonymous?.value).toMatchObject({ id: events.at(-1)?.id, actor: { userId: null, role: null } })
  })

  it('retries refused produce requests inside one publish: every event once, in order per key', async () => {
    sink = newSink()
    await sink.publish([event('warm-up', 0)]) // connected, producer id assigned
    // NOT_LEADER_OR_FOLLOWER twice: the client refreshes metadata and sends the batch again.
    await broker.failProduce(2, 6)
    const events = Array.from({ length: 30 }, (_, n) => event(`retry-user-${n % 4}`, n))
    await sink.publish(events)
    const consumed = await consume(
      broker,
      (messages) => messages.filter((m) => m.key.startsWith('retry-')).length >= 30,
    )
    expectDeliveredInOrder(
      consumed.filter((m) => m.key.startsWith('retry-')),
      events.map((e) => e.id),
    )
  })

  it('fails a publish while the broker is down, and recovers with a fresh producer', async () => {
    sink = newSink()
    await sink.publish([event('outage-user', 0)])
    await broker.down()
    try {
      await expect(sink.publish([event('outage-user', 1)])).rejects.toThrow()
    } finally {
      await broker.up()
    }
    const after = event('outage-user', 2)
    await sink.publish([after])
    const consumed = await consume(broker, (messages) => messages.some((m) => m.id === after.id))
    expect(consumed.filter((m) => m.id === after.id)).toHaveLength(1)
  })
})
