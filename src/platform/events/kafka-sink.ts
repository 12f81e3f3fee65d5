import type { Partitioner, Producer } from '@platformatic/kafka'
import type { OutboxEvent } from './outbox.js'
import type { EventSink } from './sink.js'

export interface KafkaSinkOptions {
  brokers: readonly string[]
  topic: string
  clientId: string
}

type StringProducer = Producer<string, string, string, string>

/**
 * Kafka producer (@platformatic/kafka): key = actor user id (per-user order on one partition), value =
 * the event JSON, `event-id` header for consumer-side de-duplication.
 *
 * - Idempotent: the broker de-duplicates the client's own retries of a produce request, so a retry
 *   after a lost acknowledgement neither duplicates nor reorders a batch; acks from every in-sync replica.
 * - Partitions chosen by the Java client's murmur2 (`compatibilityPartitioner`): the same key lands on
 *   the same partition as with the Java client and with kafkajs, which this sink replaced, so one user's
 *   events stay on one partition across the upgrade.
 * - Retries stay short: the relay owns the backoff, so a down broker shows up as a failed batch within
 *   seconds instead of a send hanging for minutes.
 */
export class KafkaSink implements EventSink {
  private producer: StringProducer | undefined

  constructor(private readonly options: KafkaSinkOptions) {}

  async publish(events: OutboxEvent[]): Promise<void> {
    const producer = await this.connected()
    try {
      await producer.send({
        messages: events.map((event) => ({
          topic: this.options.topic,
          key: event.actor.userId ?? 'anonymous',
          value: JSON.stringify({
            id: event.id,
            type: event.type,
            occurredAt: event.occurredAt,
            actor: event.actor,
            requestId: event.requestId,
            data: event.data,
          }),
          headers: { 'event-id': event.id },
        })),
      })
    } catch (error) {
      // A fresh producer (and producer id) for the relay's next attempt: after a failed send the old one's
      // sequence numbers and cached metadata may no longer match what the broker has.
      this.producer = undefined
      await producer.close(true).catch(() => {})
      throw error
    }
  }

  async close(): Promise<void> {
    const producer = this.producer
    this.producer = undefined
    await producer?.close()
  }

  private async connected(): Promise<StringProducer> {
    if (this.producer) return this.producer
    // Loaded on first use: importing the client costs about half a second of start-up (seconds on a busy
    // machine), which neither the embedded default (no KAFKA_BROKERS) nor the CLI needs.
    const { compatibilityPartitioner, ProduceAcks, Producer, stringSerializers } = await import(
      '@platformatic/kafka'
    )
    const producer: StringProducer = new Producer({
      clientId: this.options.clientId,
      bootstrapBrokers: [...this.options.brokers],
      serializers: stringSerializers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      partitioner: compatibilityPartitioner as Partitioner<string, string, string, string>,
      autocreateTopics: false,
      connectTimeout: 2000,
      timeout: 5000,
      retries: 2,
      retryDelay: 250,
    })
    try {
      // Asks for a producer id now, so an unreachable broker fails here. -1/-1 is the protocol's "no
      // producer id yet" (the Java client sends the same); some brokers refuse the client's default 0/0.
      await producer.initIdempotentProducer({ producerId: -1n, producerEpoch: -1 })
    } catch (error) {
      await producer.close(true).catch(() => {})
      throw error
    }
    this.producer = producer
    return producer
  }
}
