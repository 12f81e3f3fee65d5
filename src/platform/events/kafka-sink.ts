import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs'
import type { OutboxEvent } from './outbox.js'
import type { EventSink } from './sink.js'

export interface KafkaSinkOptions {
  brokers: readonly string[]
  topic: string
  clientId: string
}

/**
 * kafkajs producer: key = actor user id (per-user order on one partition), value = the event JSON,
 * `event-id` header for consumer-side de-duplication. Retries stay short here: the relay owns the backoff,
 * so a down broker shows up as a failed batch within seconds instead of a send hanging for minutes.
 */
export class KafkaSink implements EventSink {
  private readonly kafka: Kafka
  private producer: Producer | undefined

  constructor(private readonly options: KafkaSinkOptions) {
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: [...options.brokers],
      connectionTimeout: 2000,
      requestTimeout: 5000,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      // The relay logs failures once per batch; kafkajs would log every retry of every connection.
      logLevel: logLevel.NOTHING,
    })
  }

  async publish(events: OutboxEvent[]): Promise<void> {
    const producer = await this.connected()
    try {
      await producer.send({
        topic: this.options.topic,
        acks: -1,
        messages: events.map((event) => ({
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
      // A fresh producer on the next attempt: after a broker outage kafkajs' cached metadata and
      // connections may point at sockets that are gone.
      this.producer = undefined
      await producer.disconnect().catch(() => {})
      throw error
    }
  }

  async close(): Promise<void> {
    const producer = this.producer
    this.producer = undefined
    await producer?.disconnect()
  }

  private async connected(): Promise<Producer> {
    if (this.producer) return this.producer
    // One in flight keeps batches in order across kafkajs' own retries.
    const producer = this.kafka.producer({
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    })
    try {
      await producer.connect()
    } catch (error) {
      await producer.disconnect().catch(() => {})
      throw error
    }
    this.producer = producer
    return producer
  }
}
