import {
  createTask,
  deleteTask,
  listTasks,
  me,
  type Page,
  RetryKey,
  type Task,
  type TaskFilter,
  type TaskInput,
  type TaskPriority,
  type TaskStatistics,
  type TaskStatus,
  taskStatistics,
  updateTask,
} from '../api'
import { modal } from '../dialog'
import {
  badge,
  busy,
  confirmButton,
  dateInputValue,
  dueInstant,
  field,
  formatDue,
  h,
  holding,
  notice,
  select,
  timeInputValue,
} from '../dom'
import {
  clearErrors,
  formStatus,
  formValues,
  onFilterInput,
  type Rule,
  rules,
  showError,
  validate,
} from '../forms'
import { problemMessage } from '../messages'
import type { Scope } from '../scope'
import { deleteFromList, isGone, isNarrow, LOADING, loadLatest, pageAfterDelete, pager } from './common'

const STATUSES: [TaskStatus, string][] = [
  ['pending', 'Pending'],
  ['in_progress', 'In progress'],
  ['completed', 'Completed'],
]
const PRIORITIES: [TaskPriority, string][] = [
  ['low', 'Low'],
  ['medium', 'Medium'],
  ['high', 'High'],
]
/** One control for the sort key and direction: value is "sortBy:sortOrder". */
const SORTS: [string, string][] = [
  ['createdAt:desc', 'Newest first'],
  ['createdAt:asc', 'Oldest first'],
  ['dueDate:asc', 'Due date, soonest first'],
  ['dueDate:desc', 'Due date, latest first'],
  ['priority:desc', 'Priority, high first'],
  ['priority:asc', 'Priority, low first'],
]
const PAGE_SIZE = 20
const label = (pairs: [string, string][], value: string) => pairs.find(([key]) => key === value)?.[1] ?? value

const isOverdue = (task: Task) =>
  task.status !== 'completed' && task.dueDate !== null && new Date(task.dueDate).getTime() < Date.now()

/** The writable fields of a task form, with the due date and time as the user's own local date and time. */
function taskFields(task?: Task) {
  const due = task?.dueDate ? new Date(task.dueDate) : null
  const priority = field('Priority', select('priority', PRIORITIES, task?.priority ?? 'medium'))
  const dueDate = field(
    'Due date (optional)',
    h('input', { name: 'dueDate', type: 'date', value: due ? dateInputValue(due) : '' }),
  )
  const dueTime = field(
    'Time (optional)',
    h('input', { name: 'dueTime', type: 'time', value: due ? timeInputValue(due) : '' }),
    { hint: 'Empty: the end of the day' },
  )
  return [
    field(
      'Title',
      h('input', { name: 'title', value: task?.title ?? '', maxlength: 200, autocomplete: 'off' }),
    ),
    field(
      'Description (optional)',
      h('textarea', { name: 'description', rows: task ? 3 : 2 }, task?.description ?? ''),
    ),
    // Editing adds the status, beside the priority; creating fits everything on one line.
    ...(task
      ? [
          h('div', { class: 'row' }, priority, field('Status', select('status', STATUSES, task.status))),
          h('div', { class: 'row' }, dueDate, dueTime),
        ]
      : [h('div', { class: 'row' }, priority, dueDate, dueTime)]),
  ]
}

const timeNeedsDate: Rule = (value, control) =>
  value && !(control.form?.elements.namedItem('dueDate') as HTMLInputElement | null)?.value
    ? 'Pick a date for this time, or clear the time.'
    : undefined

/** A date or time typed half-way (02/30, say) reads as empty: it must not quietly clear the due date. */
const complete =
  (what: string): Rule =>
  (_value, control) =>
    control instanceof HTMLInputElement && control.validity.badInput
      ? `Enter a whole ${what}, or clear it.`
      : undefined

const taskRules = {
  title: [rules.required, rules.maxLength(200)],
  description: [rules.maxLength(5000)],
  dueDate: [complete('date')],
  dueTime: [complete('time'), timeNeedsDate],
}

function dueOf(values: Record<string, string>): string | null {
  return dueInstant(values.dueDate ?? '', values.dueTime ?? '')?.toISOString() ?? null
}

export function tasksView(outlet: HTMLElement, scope: Scope) {
  const stats = h('dl', { class: 'stats', 'aria-label': 'Task statistics' })
  const status = notice()

  // ------------------------------------------------------------ creating
  const createKeys = new RetryKey()
  const addButton = h('button', { type: 'submit' }, 'Add task')
  const create = h(
    'form',
    { novalidate: true, 'aria-label': 'New task', 'data-main-field': 'title' },
    ...taskFields(),
    formStatus(),
    h('div', { class: 'actions' }, addButton),
  )
  const createPanel = h(
    'details',
    { class: 'card panel', open: !isNarrow() },
    h('summary', {}, h('h2', {}, 'New task')),
    create,
  )
  create.addEventListener('submit', async (event) => {
    event.preventDefault()
    if (addButton.disabled || !validate(create, taskRules)) return
    const values = formValues(create)
    const body: TaskInput = {
      title: (values.title ?? '').trim(),
      priority: values.priority as TaskPriority,
      ...(values.description?.trim() ? { description: values.description.trim() } : {}),
      ...(dueOf(values) ? { dueDate: dueOf(values) } : {}),
    }
    try {
      const task = await busy(addButton, 'Adding…', () => createTask(body, createKeys))
      create.reset()
      clearErrors(create)
      status.success(`Added “${task.title}”.`)
      query.page = 1
      void refresh()
      create.querySelector<HTMLInputElement>('[name="title"]')?.focus()
    } catch (error) {
      showError(create, error)
    }
  })

  // ------------------------------------------------------------ filtering and sorting
  const search = h('input', {
    name: 'search',
    type: 'search',
    autocomplete: 'off',
    placeholder: 'Title or description',
  })
  const statusFilter = select('status', [['', 'Any status'], ...STATUSES])
  const priorityFilter = select('priority', [['', 'Any priority'], ...PRIORITIES])
  const sort = select('sort', SORTS, 'createdAt:desc')
  const activeCount = h('span', { class: 'count' })
  const filters = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Find tasks' },
    field('Search', search, { class: 'grow' }),
    h(
      'details',
      { class: 'more-filters', open: !isNarrow() },
      h('summary', {}, 'Filter and sort', activeCount),
      h(
        'div',
        { class: 'row' },
        field('Status', statusFilter),
        field('Priority', priorityFilter),
        field('Sort', sort),
      ),
    ),
  )
  const query = { page: 1 }

  // ------------------------------------------------------------ the list
  const list = h('ul', { class: 'task-list', 'aria-label': 'Tasks' }, h('li', { class: 'empty' }, LOADING))
  const pages = pager('tasks', (page) => {
    query.page = page
    void refresh()
  })
  let shown: Page<Task> | undefined

  async function refresh() {
    const [sortBy, sortOrder] = sort.value.split(':')
    const active = [statusFilter.value, priorityFilter.value].filter(Boolean).length
    activeCount.textContent = active ? ` (${active} active)` : ''
    try {
      const result = await loadLatest(scope, 'list', list, (signal) =>
        Promise.all([
          listTasks(
            {
              page: query.page,
              pageSize: PAGE_SIZE,
              search: search.value.trim(),
              // The selects offer the API's values, or '' for any (left out of the query).
              status: statusFilter.value as TaskFilter['status'],
              priority: priorityFilter.value as TaskFilter['priority'],
              sortBy: sortBy as TaskFilter['sortBy'],
              sortOrder: sortOrder as TaskFilter['sortOrder'],
            },
            signal,
          ),
          taskStatistics(signal),
        ]),
      )
      if (!result) return
      const [page, statistics] = result
      // A page emptied by deletes elsewhere: show the last page that has tasks.
      if (page.items.length === 0 && page.page > 1 && page.total > 0) {
        query.page = Math.ceil(page.total / page.pageSize)
        return refresh()
      }
      shown = page
      showStats(statistics)
      const filtered = search.value.trim() || active
      list.replaceChildren(
        ...(page.items.length
          ? page.items.map(taskItem)
          : [
              h(
                'li',
                { class: 'empty' },
                filtered ? 'No tasks match these filters.' : 'No tasks yet: add one above.',
              ),
            ]),
      )
      pages.update(page)
    } catch (error) {
      shown = undefined
      pages.hide()
      list.replaceChildren(h('li', { class: 'empty' }, 'Could not load the tasks.'))
      status.error(problemMessage(error), () => void refresh())
    }
  }

  /** The counts; dashes until the first answer, so the page does not jump when it arrives. */
  function showStats(statistics: TaskStatistics | null) {
    const count = (n: number | undefined) => (statistics ? (n ?? 0).toLocaleString() : '–')
    const tiles: [string, string, string][] = [
      ['Total', count(statistics?.total), ''],
      ...STATUSES.map(
        ([key, text]) => [text, count(statistics?.byStatus[key]), ''] as [string, string, string],
      ),
      ['Overdue', count(statistics?.overdue), (statistics?.overdue ?? 0) > 0 ? 'alarm' : ''],
    ]
    stats.replaceChildren(
      ...tiles.map(([text, value, tone]) =>
        h('div', { class: tone || undefined }, h('dt', {}, text), h('dd', {}, value)),
      ),
    )
  }
  showStats(null)

  // ------------------------------------------------------------ one task
  function taskItem(task: Task) {
    const overdue = isOverdue(task)
    const done = task.status === 'completed'
    const statusSelect = select('status', STATUSES, task.status)
    statusSelect.setAttribute('aria-label', `Status of ${task.title}`)
    statusSelect.addEventListener('change', async () => {
      const previous = task.status
      const next = statusSelect.value as TaskStatus
      const changed = await holding(statusSelect, async () => {
        try {
          await updateTask(task.id, { status: next })
          return true
        } catch (error) {
          // The control goes back to what the server still holds.
          statusSelect.value = previous
          status.error(`Could not change “${task.title}”: ${problemMessage(error)}`)
          if (isGone(error)) void refresh()
          return false
        }
      })
      if (!changed) return
      status.success(`“${task.title}” is now ${label(STATUSES, next).toLowerCase()}.`)
      const hadFocus = document.activeElement === statusSelect
      await refresh()
      if (hadFocus) list.querySelector<HTMLElement>(`[data-id="${task.id}"] select`)?.focus()
    })
    const editButton = h(
      'button',
      { type: 'button', class: 'secondary', 'aria-label': `Edit ${task.title}` },
      'Edit',
    )
    editButton.addEventListener('click', () => openEditor(task, editButton))
    const remove = confirmButton('Delete', `Delete ${task.title}`, async () => {
      const reload = () => {
        query.page = pageAfterDelete(shown)
        return refresh()
      }
      if (await deleteFromList(`“${task.title}”`, () => deleteTask(task.id), status, reload)) {
        ;(outlet.querySelector<HTMLElement>('.task-list .task button') ?? outlet.querySelector('h1'))?.focus()
      }
    })
    const due = task.dueDate
      ? h('span', { class: `due${overdue ? ' overdue' : ''}` }, `Due ${formatDue(task.dueDate)}`)
      : null
    return h(
      'li',
      { class: `task${done ? ' done' : ''}${overdue ? ' is-overdue' : ''}`, 'data-id': task.id },
      h(
        'div',
        { class: 'task-main' },
        h('h3', { class: 'task-title' }, task.title),
        h(
          'div',
          { class: 'badges' },
          done
            ? badge('✓ Completed', 'success')
            : task.status === 'in_progress'
              ? badge('In progress', 'accent')
              : null,
          overdue ? badge('Overdue', 'danger') : null,
          badge(`${label(PRIORITIES, task.priority)} priority`, `priority-${task.priority}`),
          due,
        ),
        task.description ? h('p', { class: 'task-description' }, task.description) : null,
      ),
      h('div', { class: 'task-actions' }, statusSelect, editButton, remove),
    )
  }

  // ------------------------------------------------------------ editing
  const editForm = h('form', { novalidate: true, 'aria-label': 'Edit task', 'data-main-field': 'title' })
  const editor = modal('Edit task', editForm)
  let editing: Task | null = null

  function openEditor(task: Task, opener: HTMLElement) {
    editing = task
    const save = h('button', { type: 'submit' }, 'Save changes')
    const cancel = h(
      'button',
      { type: 'button', class: 'secondary', onclick: () => editor.close() },
      'Cancel',
    )
    editForm.replaceChildren(...taskFields(task), formStatus(), h('div', { class: 'actions' }, save, cancel))
    editor.heading.textContent = `Edit “${task.title}”`
    editor.open(opener)
  }

  editForm.addEventListener('submit', async (event) => {
    event.preventDefault()
    const task = editing
    const save = editForm.querySelector<HTMLButtonElement>('button[type="submit"]')!
    if (!task || save.disabled || !validate(editForm, taskRules)) return
    const values = formValues(editForm)
    const patch: Partial<TaskInput> = {}
    const title = (values.title ?? '').trim()
    const description = values.description?.trim() || null
    if (title !== task.title) patch.title = title
    if (description !== (task.description ?? null)) patch.description = description
    if (values.priority !== task.priority) patch.priority = values.priority as TaskPriority
    if (values.status !== task.status) patch.status = values.status as TaskStatus
    const due = task.dueDate ? new Date(task.dueDate) : null
    const dueUnchanged =
      (values.dueDate ?? '') === (due ? dateInputValue(due) : '') &&
      (values.dueTime ?? '') === (due ? timeInputValue(due) : '')
    if (!dueUnchanged) patch.dueDate = dueOf(values)
    if (Object.keys(patch).length === 0) {
      editor.close()
      return
    }
    try {
      const updated = await busy(save, 'Saving…', () => updateTask(task.id, patch))
      editing = null
      status.success(`Saved “${updated.title}”.`)
      editor.close()
      await refresh()
      list.querySelector<HTMLElement>(`[data-id="${task.id}"] button`)?.focus()
    } catch (error) {
      showError(editForm, error)
      if (isGone(error)) void refresh()
    }
  })

  // ------------------------------------------------------------ wiring
  onFilterInput(filters, scope, () => {
    query.page = 1
    void refresh()
  })
  outlet.append(
    stats,
    createPanel,
    h('h2', { class: 'list-heading' }, me()?.role === 'admin' ? 'Everyone’s tasks' : 'Your tasks'),
    filters,
    status.element,
    list,
    pages.element,
    editor.element,
  )
  void refresh()
}
