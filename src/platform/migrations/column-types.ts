import type { ColumnDataType } from 'kysely'
import type { Dialect } from '../database.js'

/** Column types that exist on both databases under different names. */
export function columnTypes(dialect: Dialect): {
  uuid: ColumnDataType
  timestamp: ColumnDataType
  flag: ColumnDataType
} {
  return dialect === 'postgres'
    ? { uuid: 'uuid', timestamp: 'timestamptz', flag: 'boolean' }
    : { uuid: 'text', timestamp: 'text', flag: 'integer' }
}
