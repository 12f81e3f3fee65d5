import type { FastifyBaseLogger } from 'fastify'
import { Redis } from 'ioredis'
import { withTimeout } from './timeout.js'

export interface RedisHandle {
  /** Prefixed to every key by the client itself; channels carry it explicitly. */
  readonly keyPrefix: string
  /** Commands fail at once while disconnected (no offline queue), so callers can fall back instead of waiting. */
  readonly client: Redis
  /** Pub/sub needs its own connection. */
  readonly subscriber: Redis
  isReady(): boolean
  ping(timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

function connect(
  url: string,
  name: string,
  keyPrefix: string,
  log: FastifyBaseLogger,
  onStateChange: () => void,
): Redis {
  const client = new Redis(url, {
    keyPrefix,
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    connectTimeout: 2000,
    // Keep trying forever with a capped backoff: Redis coming back must be noticed without a restart.
    retryStrategy: (attempt) => Math.min(attempt * 200, 5000),
  })
  // A server that stops answering without closing the connection (a partition, a stalled Redis) leaves
  // the client 'ready', and every command of every request would wait out commandTimeout. After one times
  // out, reconnect: the client stops being ready, so callers fall back at once until Redis answers again.
  const sendCommand = client.sendCommand.bind(client)
  // Only the connection the command first went out on: a late timeout must not drop its healthy successor,
  // and ioredis re-sends an unanswered command (already rejected) on the next connection.
  const watched = new WeakSet<object>()
  client.sendCommand = (command, stream) => {
    if (watched.has(command)) return sendCommand(command, stream)
    watched.add(command)
    const connection = client.stream
    command.promise.catch((error: unknown) => {
      if (error instanceof Error && error.message === 'Command timed out' && client.stream === connection)
        if (client.status === 'ready') client.disconnect(true)
    })
    return sendCommand(command, stream)
  }
  let down = false
  client.on('ready', () => {
    if (down) log.info({ redis: name }, 'redis connection restored')
    down = false
    onStateChange()
  })
  client.on('error', (error) => {
    // Logged once per outage; ioredis emits an error on every reconnect attempt.
    if (!down) log.warn({ redis: name, err: error }, 'redis unavailable; degrading to in-process state')
    down = true
    onStateChange()
  })
  client.on('end', onStateChange)
  client.on('close', onStateChange)
  return client
}

export async function connectRedis(
  url: string,
  keyPrefix: string,
  log: FastifyBaseLogger,
  onStateChange: () => void = () => {},
): Promise<RedisHandle> {
  const client = connect(url, 'mathapi', keyPrefix, log, onStateChange)
  const subscriber = connect(url, 'mathapi-sub', keyPrefix, log, onStateChange)
  // Start-up waits briefly for Redis, but never fails because of it: the service works without it.
  await Promise.race([
    Promise.all([waitReady(client), waitReady(subscriber)]),
    new Promise((resolve) => setTimeout(resolve, 2000).unref()),
  ])
  return {
    keyPrefix,
    client,
    subscriber,
    isReady: () => client.status === 'ready',
    async ping(timeoutMs = 1000) {
      await withTimeout(client.ping(), timeoutMs, 'redis ping timed out')
    },
    async close() {
      await Promise.allSettled([client.quit(), subscriber.quit()])
      client.disconnect()
      subscriber.disconnect()
    },
  }
}

function waitReady(client: Redis): Promise<void> {
  if (client.status === 'ready') return Promise.resolve()
  return new Promise((resolve) => client.once('ready', () => resolve()))
}
