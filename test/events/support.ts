import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { expect } from 'vitest'
import type { EventItem as EventItemSchema, EventsPage } from '../../src/modules/events/schemas.js'
import type { Session } from '../helpers.js'
import type { Consumed } from './kafka-mock.js'

export type EventItem = Static<typeof EventItemSchema>

/** Every event in the outbox, through the admin API, following nextAfter to the end. */
export async function allEvents(app: FastifyInstance, admin: Session): Promise<EventItem[]> {
  const items: EventItem[] = []
  let after: string | null = null
  do {
    const query: string = after ? `?limit=500&after=${after}` : '?limit=500'
    const response = await app.inject({ url: `/api/v1/events${query}`, headers: admin.headers })
    if (response.statusCode !== 200) throw new Error(`events: ${response.statusCode} ${response.body}`)
    const page = response.json() as Static<typeof EventsPage>
    items.push(...page.items)
    after = page.nextAfter
  } while (after)
  return items
}

export async function metric(app: FastifyInstance, name: string): Promise<number> {
  const body = (await app.inject({ url: '/metrics' })).body
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(body)
  if (!match) throw new Error(`${name} not in /metrics`)
  return Number(match[1])
}

export async function waitFor(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Every id once, and within each key the first deliveries in id (= occurrence) order. */
export function expectDeliveredInOrder(consumed: Consumed[], expectedIds: string[]): void {
  const firstSeen = new Map<string, Consumed>()
  for (const message of consumed) if (!firstSeen.has(message.id)) firstSeen.set(message.id, message)
  expect([...firstSeen.keys()].sort()).toEqual([...expectedIds].sort())
  const byKey = new Map<string, string[]>()
  for (const message of firstSeen.values()) {
    expect(message.eventIdHeader).toBe(message.id)
    byKey.set(message.key, [...(byKey.get(message.key) ?? []), message.id])
  }
  for (const ids of byKey.values()) expect(ids).toEqual([...ids].sort())
}
