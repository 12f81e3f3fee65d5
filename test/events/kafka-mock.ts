import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { describe } from 'vitest'

/*
 * librdkafka's mock cluster, started by the launcher the CI step compiles (.ci/steps/20-kafka-mock.sh).
 * Locally its absence skips the broker suites with the reason; in CI it fails them.
 */
const LAUNCHER = process.env.KAFKA_MOCK_LAUNCHER
export const kafkaMockAvailable = LAUNCHER !== undefined && existsSync(LAUNCHER)
if (!kafkaMockAvailable && (process.env.CI === 'true' || process.env.REQUIRE_TEST_SERVICES === '1')) {
  throw new Error(
    `CI requires the Kafka mock broker: KAFKA_MOCK_LAUNCHER is ${LAUNCHER ? `${LAUNCHER}, which does not exist` : 'not set'}`,
  )
}

/** Like `describe`, but skipped with a visible reason when no mock broker can be started. */
export function describeWithBroker(title: string, suite: () => void): void {
  if (kafkaMockAvailable) describe(title, suite)
  else
    describe.skip(`${title} — skipped: KAFKA_MOCK_LAUNCHER not set (see .ci/steps/20-kafka-mock.sh)`, suite)
}

export class MockBroker {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: AsyncIterator<string>,
    readonly bootstrap: string,
    readonly topic: string,
  ) {}

  static async start(topic = 'api-events', partitions = 3): Promise<MockBroker> {
    const child = spawn(LAUNCHER!, [topic, String(partitions)], { stdio: ['pipe', 'pipe', 'pipe'] })
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
    const first = await lines.next()
    if (first.done) throw new Error('kafka mock exited before printing its address')
    return new MockBroker(child, lines, first.value.trim(), topic)
  }

  /** Drops every connection and refuses new ones; the address and the stored messages stay. */
  down(): Promise<void> {
    return this.command('down')
  }

  up(): Promise<void> {
    return this.command('up')
  }

  /** Answers the next `count` Produce requests with Kafka error `code`, appending nothing. */
  failProduce(count: number, code: number): Promise<void> {
    return this.command(`fail-produce ${count} ${code}`)
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.stdin.end()
    await exited
  }

  private async command(word: string): Promise<void> {
    this.child.stdin.write(`${word}\n`)
    const answer = await this.lines.next()
    if (answer.value?.trim() !== `ok ${word}`) throw new Error(`kafka mock did not acknowledge ${word}`)
  }
}

export interface Consumed {
  id: string
  key: string
  type: string
  partition: number
  eventIdHeader: string | undefined
  value: Record<string, unknown>
}

/**
 * Reads the topic from the beginning with a fresh consumer group until `done` says it has everything
 * (or the deadline passes), in arrival order per partition.
 */
export async function consume(
  broker: MockBroker,
  done: (messages: Consumed[]) => boolean,
  timeoutMs = 30_000,
): Promise<Consumed[]> {
  // Loaded here, not at the top: importing the client takes seconds on a busy machine, and the suites
  // that import this file run without a broker too.
  const { Consumer, stringDeserializers } = await import('@platformatic/kafka')
  const consumer = new Consumer<string, string, string, string>({
    clientId: 'test-consumer',
    groupId: `test-${Math.random().toString(36).slice(2)}`,
    bootstrapBrokers: [broker.bootstrap],
    deserializers: stringDeserializers,
  })
  const messages: Consumed[] = []
  let timer: NodeJS.Timeout | undefined
  try {
    const stream = await consumer.consume({
      topics: [broker.topic],
      mode: 'earliest',
      autocommit: false,
      maxWaitTime: 100,
    })
    const read = (async () => {
      if (done(messages)) return
      for await (const message of stream) {
        const value = JSON.parse(message.value) as Record<string, unknown>
        messages.push({
          id: value.id as string,
          key: message.key,
          type: value.type as string,
          partition: message.partition,
          eventIdHeader: message.headers.get('event-id'),
          value,
        })
        if (done(messages)) return
      }
    })()
    read.catch(() => {}) // past the deadline nobody awaits it; closing the consumer ends it
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`consumed ${messages.length} messages; expected more`)),
        timeoutMs,
      )
    })
    await Promise.race([read, timedOut])
  } finally {
    clearTimeout(timer)
    await consumer.close(true)
  }
  return messages
}
