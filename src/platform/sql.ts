import { type RawBuilder, type SqlBool, sql } from 'kysely'

const LIKE_ESCAPE = '\\'

/** `text` as a LIKE pattern matching it literally anywhere: the escape character, % and _ are escaped. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => LIKE_ESCAPE + char)}%`
}

/**
 * Case-insensitive "column contains text", the same on both databases: lower() on both sides rather than
 * ILIKE (PostgreSQL only) or SQLite's LIKE (case-insensitive for ASCII only), and the escape character
 * spelled out because SQLite has no default one. The text is always a bound parameter.
 */
export function containsText(column: string, text: string): RawBuilder<SqlBool> {
  return sql<SqlBool>`lower(${sql.ref(column)}) like lower(${containsPattern(text)}) escape ${sql.lit(LIKE_ESCAPE)}`
}
