import { h, srOnly } from './dom'

type Cell = Node | string | number | null | undefined | false

export interface Column<T> {
  label: string
  cell: (item: T) => Cell | Cell[]
  class?: string
  /** The row's title: on a phone it heads the card, without a label in front. */
  primary?: boolean
  /** The row's buttons: on a phone they sit together at the foot of the card. */
  actions?: boolean
  /** Takes a whole line of the card on a phone (a long value). */
  wide?: boolean
}

/**
 * A table on a desktop, a stack of cards on a phone (styles.css, `table.data`): no list ever needs
 * sideways scrolling. The explicit roles keep the table's meaning for screen readers when CSS changes
 * how its parts are displayed.
 */
export function dataTable<T>(caption: string, columns: Column<T>[]) {
  const body = h('tbody', { role: 'rowgroup' })
  const element = h(
    'table',
    { class: 'data', role: 'table' },
    h('caption', { class: 'sr-only' }, caption),
    h(
      'thead',
      { role: 'rowgroup' },
      h(
        'tr',
        { role: 'row' },
        ...columns.map((column) =>
          h(
            'th',
            { scope: 'col', role: 'columnheader', class: column.class },
            column.actions ? srOnly(column.label) : column.label,
          ),
        ),
      ),
    ),
    body,
  )
  const classOf = (column: Column<T>) =>
    [column.class, column.primary && 'primary', column.actions && 'row-actions', column.wide && 'wide']
      .filter(Boolean)
      .join(' ') || undefined
  return {
    element,
    render(items: T[], rowAttrs: (item: T) => Record<string, unknown> = () => ({})) {
      body.replaceChildren(
        ...items.map((item) =>
          h(
            'tr',
            { role: 'row', ...rowAttrs(item) },
            ...columns.map((column) => {
              const content = column.cell(item)
              return h(
                'td',
                { role: 'cell', class: classOf(column), 'data-label': column.label },
                ...(Array.isArray(content) ? content : [content]),
              )
            }),
          ),
        ),
      )
    },
    /** One full-width row saying why the table is empty. */
    empty(message: string) {
      body.replaceChildren(
        h(
          'tr',
          { role: 'row', class: 'empty' },
          h('td', { role: 'cell', colspan: columns.length, class: 'empty-cell' }, message),
        ),
      )
    },
  }
}
