import type { OutboxEvent } from './outbox.js'

/** Where the relay delivers events. Resolves only once every event of the batch is durably accepted. */
export interface EventSink {
  publish(events: OutboxEvent[]): Promise<void>
  close(): Promise<void>
}
