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

export function windowOf({ page, pageSize }: PageQuery): PageWindow {
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
