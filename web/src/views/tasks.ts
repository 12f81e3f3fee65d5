import { api, type Page, query } from '../api'
import { confirmButton, field, formatDate, h, select } from '../dom'
import { formStatus, formValues, onFilterInput, showError } from '../forms'

interface Task {
  id: string
  title: string
  description: string | null
  priority: 'low' | 'medium' | 'high'
  status: 'pending' | 'in_progress' | 'completed'
  dueDate: string | null
}

interface Statistics {
  total: number
  byStatus: Record<string, number>
  byPriority: Record<string, number>
  overdue: number
}

const STATUSES: [string, string][] = [
  ['pending', 'Pending'],
  ['in_progress', 'In progress'],
  ['completed', 'Completed'],
]
const PRIORITIES: [string, string][] = [
  ['low', 'Low'],
  ['medium', 'Medium'],
  ['high', 'High'],
]
const PAGE_SIZE = 20

export function tasksView(outlet: HTMLElement) {
  const stats = h('dl', { class: 'stats', 'aria-label': 'Task statistics' })
  const create = h(
    'form',
    { class: 'card', 'aria-label': 'New task', 'data-main-field': 'title' },
    h('h2', {}, 'New task'),
    field('Title', h('input', { name: 'title', required: true })),
    field('Description', h('textarea', { name: 'description', rows: 2 })),
    h(
      'div',
      { class: 'row' },
      field('Priority', select('priority', PRIORITIES, 'medium')),
      field('Due date', h('input', { name: 'dueDate', type: 'date' })),
    ),
    formStatus(),
    h('button', { type: 'submit' }, 'Add task'),
  )
  const search = h('input', { name: 'search', type: 'search' })
  const status = select('status', [['', 'Any status'], ...STATUSES])
  const priority = select('priority', [['', 'Any priority'], ...PRIORITIES])
  const filters = h(
    'form',
    { class: 'row filters', role: 'search' },
    field('Search', search),
    field('Status', status),
    field('Priority', priority),
  )
  const rows = h('tbody')
  const pager = h('div', { class: 'pager' })
  let page = 1

  async function refresh() {
    const [list, statistics] = await Promise.all([
      api<Page<Task>>(
        'GET',
        `/tasks${query({ page, pageSize: PAGE_SIZE, search: search.value, status: status.value, priority: priority.value })}`,
      ),
      api<Statistics>('GET', '/tasks/statistics'),
    ])
    rows.replaceChildren(...list.items.map((task) => row(task, refresh)))
    if (list.items.length === 0) rows.append(h('tr', {}, h('td', { colspan: 5 }, 'No tasks match.')))
    pager.replaceChildren(
      ...pagerButtons(list, (next) => {
        page = next
        void refresh()
      }),
    )
    stats.replaceChildren(
      ...[
        ['Total', statistics.total],
        ...STATUSES.map(([key, label]) => [label, statistics.byStatus[key] ?? 0] as const),
        ['Overdue', statistics.overdue],
      ].map(([label, count]) => h('div', {}, h('dt', {}, String(label)), h('dd', {}, String(count)))),
    )
  }

  create.addEventListener('submit', async (event) => {
    event.preventDefault()
    const values = formValues(create)
    try {
      await api('POST', '/tasks', {
        title: values.title,
        priority: values.priority,
        ...(values.description ? { description: values.description } : {}),
        ...(values.dueDate ? { dueDate: new Date(`${values.dueDate}T23:59:59`).toISOString() } : {}),
      })
      create.reset()
      page = 1
      await refresh()
    } catch (error) {
      showError(create, error)
    }
  })
  onFilterInput(filters, () => {
    page = 1
    void refresh()
  })

  outlet.append(
    stats,
    create,
    filters,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h('tr', {}, ...['Title', 'Priority', 'Due', 'Status', ''].map((t) => h('th', { scope: 'col' }, t))),
        ),
        rows,
      ),
    ),
    pager,
  )
  void refresh()
}

function row(task: Task, refresh: () => Promise<void>) {
  const status = select('status', STATUSES, task.status)
  status.setAttribute('aria-label', `Status of ${task.title}`)
  status.addEventListener('change', async () => {
    await api('PATCH', `/tasks/${task.id}`, { status: status.value })
    await refresh()
  })
  return h(
    'tr',
    {},
    h(
      'td',
      {},
      h('strong', {}, task.title),
      task.description ? h('div', { class: 'muted' }, task.description) : null,
    ),
    h('td', {}, task.priority),
    h('td', {}, formatDate(task.dueDate)),
    h('td', {}, status),
    h(
      'td',
      {},
      confirmButton('Delete', `Delete task ${task.title}`, async () => {
        await api('DELETE', `/tasks/${task.id}`)
        await refresh()
      }),
    ),
  )
}

/** Previous / next buttons for a paginated list. */
export function pagerButtons(list: Page<unknown>, go: (page: number) => void) {
  const pages = Math.max(1, Math.ceil(list.total / list.pageSize))
  return [
    h('button', { type: 'button', disabled: list.page <= 1, onclick: () => go(list.page - 1) }, 'Previous'),
    h('span', {}, `Page ${list.page} of ${pages} (${list.total})`),
    h('button', { type: 'button', disabled: list.page >= pages, onclick: () => go(list.page + 1) }, 'Next'),
  ]
}
