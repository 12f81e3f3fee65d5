import { api, type Page, query, type User } from '../api'
import { scatterChart } from '../chart'
import { field, formatDate, formatMs, h, select } from '../dom'

interface Entry {
  id: string
  username: string
  operation: string
  input: Record<string, number | string | { preview: string; digits: number; sha256: string }>
  resultPreview: string | null
  digits: number | null
  cached: boolean
  computeMs: number | null
  status: number
  createdAt: string
}

export function historyView(outlet: HTMLElement) {
  outlet.append(historyPanel(false))
}

/** The history table and chart; an admin's version can filter by user and shows whose call it was. */
export function historyPanel(forAdmin: boolean) {
  const operation = select('operation', [
    ['', 'All operations'],
    ['fibonacci', 'Fibonacci'],
    ['factorial', 'Factorial'],
    ['power', 'Power'],
  ])
  const userFilter = select('userId', [['', 'All users']])
  const filters = h('form', { class: 'row filters' }, field('Operation', operation))
  if (forAdmin) {
    filters.append(field('User', userFilter))
    api<Page<User>>('GET', '/users?pageSize=100').then(
      (page) => userFilter.append(...page.items.map((u) => h('option', { value: u.id }, u.username))),
      () => undefined,
    )
  }
  const rows = h('tbody')
  const table = h(
    'table',
    {},
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...(forAdmin ? ['User'] : []).map((t) => h('th', { scope: 'col' }, t)),
        ...['When', 'Operation', 'Input', 'Result', 'Digits', 'Cached', 'Time (ms)', 'Status'].map((t) =>
          h('th', { scope: 'col' }, t),
        ),
      ),
    ),
    rows,
  )
  const more = h('button', { type: 'button' }, 'Load more')
  const empty = h('p', { class: 'muted' }, 'No calls yet: try the calculator.')
  const chart = scatterChart('Compute time by input size')
  const loaded: Entry[] = []
  let cursor: string | null = null

  async function load(reset: boolean) {
    if (reset) {
      loaded.length = 0
      cursor = null
      rows.replaceChildren()
    }
    const page = await api<{ items: Entry[]; nextCursor: string | null }>(
      'GET',
      `/history${query({ operation: operation.value, userId: userFilter.value, limit: 50, cursor })}`,
    )
    loaded.push(...page.items)
    cursor = page.nextCursor
    rows.append(...page.items.map((entry) => row(entry, forAdmin)))
    more.hidden = cursor === null
    empty.hidden = loaded.length > 0
    chart.draw(
      loaded
        .filter((e) => e.status === 200 && e.computeMs !== null)
        .map((e) => ({
          x: Number(e.input.n ?? e.input.exponent ?? 0),
          y: e.computeMs ?? 0,
          series: e.operation,
        })),
    )
  }

  operation.addEventListener('change', () => void load(true))
  userFilter.addEventListener('change', () => void load(true))
  more.addEventListener('click', () => void load(false))
  void load(true)
  return h(
    'section',
    { class: 'history' },
    filters,
    h('h2', {}, 'Compute time by input size'),
    chart.element,
    h('div', { class: 'table-wrap' }, table),
    empty,
    more,
  )
}

function row(entry: Entry, forAdmin: boolean) {
  // A long operand is stored as {preview, digits, sha256}: show its preview.
  const input = Object.entries(entry.input)
    .map(([k, v]) => `${k}=${typeof v === 'object' && v ? v.preview : v}`)
    .join(' ')
  return h(
    'tr',
    {},
    forAdmin && h('td', {}, entry.username),
    h('td', {}, formatDate(entry.createdAt)),
    h('td', {}, entry.operation),
    h('td', {}, input),
    h('td', { class: 'preview' }, entry.resultPreview ?? ''),
    h('td', {}, entry.digits?.toLocaleString() ?? ''),
    h('td', {}, entry.cached ? 'yes' : 'no'),
    h('td', {}, formatMs(entry.computeMs)),
    h('td', {}, entry.status),
  )
}
