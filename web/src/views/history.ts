import { type HistoryEntry, type HistoryQuery, listHistory, listUsers, me, type Operation } from '../api'
import { scatterChart } from '../chart'
import { badge, field, formatDateTime, formatMs, h, notice, select } from '../dom'
import { problemMessage } from '../messages'
import type { Scope } from '../scope'
import { dataTable } from '../table'
import { LOADING, loadLatest } from './common'

const PAGE = 50

export function historyView(outlet: HTMLElement, scope: Scope) {
  outlet.append(historyPanel(scope, me()?.role === 'admin'))
}

/** A result preview short enough for one line: its ends, with the whole preview a hover or long-press away. */
function preview(entry: HistoryEntry) {
  const text = entry.resultPreview
  if (text === null) return h('span', { class: 'muted' }, '—')
  const short = text.length > 27 ? `${text.slice(0, 12)}…${text.slice(-12)}` : text
  return h('code', { class: 'preview', title: text }, short)
}

/** A long operand is stored as a digest {preview, digits, sha256}: shown by its preview. */
const operandText = (value: HistoryEntry['input'][string]) =>
  typeof value === 'object' ? value.preview : String(value)

const inputText = (entry: HistoryEntry) =>
  Object.entries(entry.input)
    .map(([key, value]) => `${key}=${operandText(value)}`)
    .join(' ')

/** A link that opens the calculator filled in with this call's input (not when an operand is a digest). */
function again(entry: HistoryEntry) {
  const params = new URLSearchParams({ operation: entry.operation })
  for (const [key, value] of Object.entries(entry.input)) {
    if (typeof value === 'object') return null
    params.set(key, String(value))
  }
  return h(
    'a',
    {
      href: `/calculator?${params}`,
      'data-link': true,
      'aria-label': `Run again: ${entry.operation} ${inputText(entry)}`,
    },
    'Run again',
  )
}

/** The history list and chart; an admin sees everyone's calls, whose they were, and may pick one user. */
export function historyPanel(scope: Scope, forAdmin: boolean) {
  const operation = select('operation', [
    ['', 'All operations'],
    ...([
      ['fibonacci', 'Fibonacci'],
      ['factorial', 'Factorial'],
      ['power', 'Power'],
    ] satisfies [Operation, string][]),
  ])
  const userFilter = select('userId', [['', 'Everyone']])
  const filters = h(
    'form',
    { class: 'row filters', 'aria-label': 'History filters' },
    field('Operation', operation),
  )
  if (forAdmin) {
    filters.append(field('User', userFilter))
    listUsers(1, 100, scope.signal).then(
      (page) => userFilter.append(...page.items.map((u) => h('option', { value: u.id }, u.username))),
      () => undefined, // the filter still works for everyone; the list itself reports a failure
    )
  }
  filters.addEventListener('submit', (event) => event.preventDefault())
  const status = notice()
  const table = dataTable<HistoryEntry>('Math calls, newest first', [
    ...(forAdmin ? [{ label: 'User', cell: (e: HistoryEntry) => e.username }] : []),
    { label: 'When', cell: (e) => formatDateTime(e.createdAt), class: 'date' },
    {
      label: 'Call',
      primary: true,
      cell: (e) => [
        h('span', { class: 'op' }, e.operation),
        ' ',
        h('span', { class: 'input' }, inputText(e)),
      ],
    },
    { label: 'Result', cell: preview, wide: true },
    { label: 'Digits', cell: (e) => e.digits?.toLocaleString() ?? '—', class: 'num' },
    { label: 'Time (ms)', cell: (e) => formatMs(e.computeMs) || '—', class: 'num' },
    {
      label: 'Outcome',
      cell: (e) =>
        e.status === 200
          ? e.cached
            ? badge('cached', 'accent')
            : badge('computed', 'success')
          : badge(`refused (${e.status})`, 'danger'),
    },
    { label: 'Actions', actions: true, cell: again },
  ])
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more')
  const chart = scatterChart('Compute time by input size')
  const list = h('div', { class: 'list' }, table.element)
  table.empty(LOADING)
  const loaded: HistoryEntry[] = []
  let cursor: string | null = null

  async function load(reset: boolean) {
    status.clear()
    if (reset) scope.cancel('more')
    more.disabled = true
    try {
      const page = await loadLatest(scope, reset ? 'list' : 'more', list, (signal) =>
        listHistory(
          {
            // The select offers the API's operations, or '' for all (left out of the query).
            operation: operation.value as HistoryQuery['operation'],
            userId: userFilter.value,
            limit: PAGE,
            cursor: reset ? undefined : (cursor ?? undefined),
          },
          signal,
        ),
      )
      if (!page) return
      if (reset) loaded.length = 0
      loaded.push(...page.items)
      cursor = page.nextCursor
      if (loaded.length === 0) table.empty('No calls yet: try the calculator.')
      else table.render(loaded)
      more.hidden = cursor === null
      drawChart()
    } catch (error) {
      if (reset) {
        loaded.length = 0
        table.empty('Could not load the history.')
        more.hidden = true
        drawChart()
      }
      status.error(problemMessage(error), () => void load(reset))
    } finally {
      more.disabled = false
    }
  }

  const drawChart = () =>
    chart.draw(
      loaded
        .filter((e) => e.status === 200 && e.computeMs !== null)
        .map((e) => ({
          x: Number(e.input.n ?? e.input.exponent ?? 0),
          y: e.computeMs ?? 0,
          series: e.operation,
        })),
    )

  operation.addEventListener('change', () => void load(true))
  userFilter.addEventListener('change', () => void load(true))
  more.addEventListener('click', () => void load(false))
  let resizeTimer: number | undefined
  scope.listen(window, 'resize', () => {
    scope.clearTimeout(resizeTimer)
    resizeTimer = scope.setTimeout(drawChart, 150)
  })
  void load(true)
  return h(
    'section',
    { class: 'history' },
    filters,
    status.element,
    h('h2', {}, 'Compute time by input size'),
    chart.element,
    h('h2', {}, forAdmin ? 'Everyone’s calls' : 'Your calls'),
    list,
    h('div', { class: 'actions' }, more),
  )
}
