import { type Static, Type } from 'typebox'
import { named, ref, Timestamp, Uuid } from '../../platform/schemas.js'
import { Operation } from '../math/operation.js'

export const HistoryQuery = Type.Object(
  {
    operation: Type.Optional(Operation),
    userId: Type.Optional(Type.String({ format: 'uuid', description: 'Admin only: one user’s entries' })),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Entries per page, 1–100' }),
    cursor: Type.Optional(
      Type.String({
        maxLength: 200,
        description: 'nextCursor from the previous page; omit for the newest entries',
      }),
    ),
  },
  { additionalProperties: false },
)
export type HistoryQuery = Static<typeof HistoryQuery>

/** How an operand longer than 64 characters is stored: enough to recognise it (and check it against a copy). */
export const OperandDigest = Type.Object(
  {
    preview: Type.String({ description: 'Its first and last 24 digits around an ellipsis' }),
    digits: Type.Integer({ description: 'How many digits it has' }),
    sha256: Type.String({
      description: 'SHA-256 (hex) of its decimal text as the math response echoed it',
    }),
  },
  { description: 'An integer operand longer than 64 characters, stored as a digest' },
)
export type OperandDigest = Static<typeof OperandDigest>

export const HistoryEntry = named(
  'HistoryEntry',
  Type.Object(
    {
      id: Uuid,
      userId: Type.String({ description: 'Who made the call' }),
      username: Type.String({ description: 'Their username' }),
      operation: Operation,
      input: Type.Record(
        Type.String(),
        Type.Union([
          Type.Number({ description: 'An operand, as the math response echoed it' }),
          Type.String({
            description: 'An integer operand of up to 64 digits, as the math response echoed it',
          }),
          OperandDigest,
        ]),
        { description: 'The call’s input, as in the math response; long operands are stored as a digest' },
      ),
      resultPreview: Type.Union([Type.String(), Type.Null()], {
        description: 'The whole result when short, else its first and last digits; null when refused',
      }),
      digits: Type.Union([Type.Integer(), Type.Null()], {
        description: 'Digits in the result; null when refused',
      }),
      exact: Type.Union([Type.Boolean(), Type.Null()], {
        description: 'Whether the result is exact; null when refused',
      }),
      cached: Type.Boolean({ description: 'Whether it was served without computing' }),
      computeMs: Type.Union([Type.Number(), Type.Null()], {
        description: 'Time spent computing, in milliseconds',
      }),
      status: Type.Integer({ description: 'HTTP status the call was answered with' }),
      createdAt: Timestamp,
    },
    { description: 'One recorded math call' },
  ),
  {
    id: '0192d4e3-0a1b-7c2d-8e3f-4a5b6c7d8e9f',
    userId: '0192d4e2-7c3a-7b1e-9f00-3c5a1b2d4e6f',
    username: 'ada',
    operation: 'factorial',
    input: { n: 20 },
    resultPreview: '2432902008176640000',
    digits: 19,
    exact: true,
    cached: false,
    computeMs: 0.004,
    status: 200,
    createdAt: '2026-01-15T11:00:00.000Z',
  },
)
export type HistoryEntry = Static<typeof HistoryEntry>
/** A call's input as stored: the math response's, with each long operand as its OperandDigest. */
export type StoredInput = HistoryEntry['input']

export const HistoryPage = named(
  'HistoryPage',
  Type.Object(
    {
      items: Type.Array(ref(HistoryEntry), { description: 'Entries, newest first' }),
      nextCursor: Type.Union([Type.String(), Type.Null()], {
        description: 'Cursor for the next page; null on the last',
      }),
    },
    { description: 'A page of history' },
  ),
  { items: [HistoryEntry.examples[0]], nextCursor: null },
)
export type HistoryPage = Static<typeof HistoryPage>
