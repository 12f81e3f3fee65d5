import type { ExpressionBuilder } from 'kysely'
import type { PageQuery } from './schemas.js'

/** The rows a repository reads for one page. */
export interface PageWindow {
  offset: number
  limit: number
}

/** What a repository answers for a window: the rows in it and how many match in all. */
export interface Counted<T> {
  items: T[]
  total: number
}

/** The response shape every listing shares (`PageOf` in platform/schemas.ts describes it). */
export interface Page<T> extends Counted<T> {
  page: number
  pageSize: number
}

function windowOf({ page, pageSize }: PageQuery): PageWindow {
  return { offset: (page - 1) * pageSize, limit: pageSize }
}

/**
 * A listing's page: the query's window read by `read`, each row mapped to what the API shows (identity
 * when the repository already answers in that shape), wrapped with the page number and size asked for.
 */
export async function paginate<Row, Item = Row>(
  query: PageQuery,
  read: (window: PageWindow) => Promise<Counted<Row>>,
  toItem?: (row: Row) => Item,
): Promise<Page<Item>> {
  const { items, total } = await read(windowOf(query))
  return {
    items: toItem ? items.map(toItem) : (items as unknown as Item[]),
    total,
    page: query.page,
    pageSize: query.pageSize,
  }
}

/** Selects how many rows a query matches, as `total`: `query.select(countTotal)`. */
// biome-ignore lint/suspicious/noExplicitAny: any table of any database: COUNT(*) needs no column.
export const countTotal = (eb: ExpressionBuilder<any, any>) =>
  eb.fn.countAll<number | string | bigint>().as('total')

/**
 * A window of rows and how many match in all, read concurrently: `rows` is the matching rows in their
 * order (with a unique tiebreaker, so pages never overlap), `count` the same filter selecting `countTotal`.
 */
export async function readWindow<Row, Item>(
  rows: { offset(offset: number): { limit(limit: number): { execute(): Promise<Row[]> } } },
  count: { executeTakeFirstOrThrow(): Promise<{ total: number | string | bigint }> },
  { offset, limit }: PageWindow,
  toItem: (row: Row) => Item,
): Promise<Counted<Item>> {
  const [items, counted] = await Promise.all([
    rows.offset(offset).limit(limit).execute(),
    count.executeTakeFirstOrThrow(),
  ])
  // PostgreSQL's count is a bigint, which pg returns as text.
  return { items: items.map(toItem), total: Number(counted.total) }
}
