import { type Static, Type } from 'typebox'
import { Timestamp, Uuid } from '../../platform/schemas.js'

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

export const EventItem = Type.Object(
  {
    id: Type.String({
      format: 'uuid',
      description: 'Event id (UUIDv7: ids sort in the order events occurred)',
    }),
    type: Type.String({ description: 'What happened, e.g. math.computed, user.registered, product.updated' }),
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
)

export const EventsPage = Type.Object(
  {
    items: Type.Array(EventItem, { description: 'Events in id (occurrence) order' }),
    nextAfter: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
      description: 'Pass as `after` for the next page; null when this page is the last',
    }),
  },
  { description: 'A page of outbox events' },
)
