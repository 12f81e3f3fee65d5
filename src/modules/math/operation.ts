import { type Static, Type } from 'typebox'

/*
 * The math operations, said once: the API's schemas (math results, history entries and filters), the
 * history column and the callers all take them from here. Kept apart from schemas.ts, which registers
 * named OpenAPI components as it loads: history/schemas.ts importing that would reorder the document.
 */
export const Operation = Type.Union(
  [Type.Literal('fibonacci'), Type.Literal('factorial'), Type.Literal('power')],
  { description: 'Math operation' },
)
export type MathOperation = Static<typeof Operation>
