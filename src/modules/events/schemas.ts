import { type Static, Type } from 'typebox'
import { named, ref, Timestamp, Uuid } from '../../platform/schemas.js'

export const EventsQuery = Type.Object(
  {
    after: Type.Optional(
      Type.String({
        format: 'uuid',
        description: 'Last event id already seen (the previous page’s nextAfter)',
      }),
    ),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100, description: 'Events per page, 1–500' }),
  },
  { additionalProperties: false },
)
export type EventsQuery = Static<typeof EventsQuery>

export const EventItem = named(
  'Event',
  Type.Object(
    {
      id: Type.String({
        format: 'uuid',
        description: 'Event id (UUIDv7: ids sort in the order events occurred)',
      }),
      type: Type.String({
        description: 'What happened, e.g. math.computed, user.registered, product.updated',
      }),
      occurredAt: { ...Timestamp, description: 'When the change committed' },
      actor: Type.Object(
        {
          userId: Type.Union([Uuid, Type.Null()], { description: 'Who caused it; null for the system' }),
          role: Type.Union([Type.Literal('user'), Type.Literal('admin'), Type.Null()], {
            description: 'Their role at the time, when known',
          }),
        },
        { description: 'Who caused the event' },
      ),
      requestId: Type.Union([Type.String(), Type.Null()], {
        description: 'X-Request-Id of the request that caused it; null outside a request',
      }),
      data: Type.Record(Type.String(), Type.Unknown(), {
        description: 'Event details: ids, changed field names, math inputs; never results or secrets',
      }),
      publishedAt: Type.Union([Timestamp, Type.Null()], {
        description:
          'When it was delivered to the event stream; null while pending (or with no stream configured)',
      }),
    },
    { description: 'One outbox event' },
  ),
  {
    id: '0192d4e3-1b2c-7d3e-8f4a-5b6c7d8e9f0a',
    type: 'task.created',
    occurredAt: '2026-01-15T09:50:00.000Z',
    actor: { userId: '0192d4e2-7c3a-7b1e-9f00-3c5a1b2d4e6f', role: 'user' },
    requestId: '0f8fad5b-d9cb-469f-a165-70867728950e',
    data: { taskId: '0192d4e2-8f44-7a02-b9d3-1e2f3a4b5c6d' },
    publishedAt: null,
  },
)

export const EventsPage = named(
  'EventsPage',
  Type.Object(
    {
      items: Type.Array(ref(EventItem), { description: 'Events in id (occurrence) order' }),
      nextAfter: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
        description: 'Pass as `after` for the next page; null when this page is the last',
      }),
    },
    { description: 'A page of outbox events' },
  ),
  { items: [EventItem.examples[0]], nextAfter: null },
)
