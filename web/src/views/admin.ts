import {
  deleteUser,
  listUsers,
  loadMe,
  me,
  type Page,
  type Role,
  setUserActive,
  setUserRole,
  type User,
} from '../api'
import { badge, confirmButton, formatDate, h, holding, notice, select } from '../dom'
import { problemMessage } from '../messages'
import type { Scope } from '../scope'
import { dataTable } from '../table'
import { deleteFromList, isGone, LOADING, loadLatest, pageAfterDelete, pager } from './common'

const PAGE_SIZE = 20

export function adminView(outlet: HTMLElement, scope: Scope) {
  const status = notice()
  let page = 1
  let shown: Page<User> | undefined

  /** A control changed by hand: on failure it goes back to what the server still holds, and says why. */
  async function change(
    control: HTMLSelectElement | HTMLInputElement,
    undo: () => void,
    work: () => Promise<string>,
  ) {
    await holding(control, async () => {
      try {
        status.success(await work())
      } catch (error) {
        undo()
        status.error(problemMessage(error))
        if (isGone(error)) void refresh()
      }
    })
  }

  function roleControl(user: User) {
    const role = select(
      'role',
      [
        ['user', 'user'],
        ['admin', 'admin'],
      ],
      user.role,
    )
    role.setAttribute('aria-label', `Role of ${user.username}`)
    role.addEventListener('change', () =>
      change(
        role,
        () => {
          role.value = user.role
        },
        async () => {
          const updated = await setUserRole(user.id, role.value as Role)
          user.role = updated.role
          // Demoting yourself ends your admin pages; the session follows at once.
          if (user.id === me()?.id) await loadMe()
          return `${user.username} is now ${updated.role}.`
        },
      ),
    )
    return role
  }

  function activeControl(user: User) {
    const self = user.id === me()?.id
    const active = h('input', {
      type: 'checkbox',
      checked: user.isActive !== false,
      'aria-label': `${user.username} is active`,
      disabled: self,
      title: self ? 'You cannot deactivate yourself' : undefined,
    })
    active.addEventListener('change', () =>
      change(
        active,
        () => {
          active.checked = user.isActive !== false
        },
        async () => {
          const updated = await setUserActive(user.id, active.checked)
          user.isActive = updated.isActive
          return `${user.username} ${updated.isActive ? 'reactivated' : 'deactivated'}.`
        },
      ),
    )
    return active
  }

  const table = dataTable<User>('Users', [
    {
      label: 'User',
      primary: true,
      cell: (user) => [
        h('span', { class: 'username' }, user.username),
        user.id === me()?.id ? badge('you', 'neutral') : null,
      ],
    },
    { label: 'Email', cell: (user) => h('span', { class: 'email' }, user.email), wide: true },
    { label: 'Role', cell: roleControl },
    { label: 'Active', cell: activeControl },
    { label: 'Joined', cell: (user) => formatDate(user.createdAt), class: 'date' },
    {
      label: 'Actions',
      actions: true,
      cell: (user) =>
        user.id === me()?.id
          ? null
          : confirmButton('Delete', `Delete user ${user.username}`, async () => {
              const reload = () => {
                page = pageAfterDelete(shown)
                return refresh()
              }
              if (await deleteFromList(user.username, () => deleteUser(user.id), status, reload)) {
                outlet.querySelector<HTMLElement>('.list-heading')?.focus()
              }
            }),
    },
  ])
  const list = h('div', { class: 'list' }, table.element)
  table.empty(LOADING)
  const pages = pager('users', (next) => {
    page = next
    void refresh()
  })

  async function refresh() {
    try {
      const result = await loadLatest(scope, 'list', list, (signal) => listUsers(page, PAGE_SIZE, signal))
      if (!result) return
      shown = result
      table.render(result.items, (user) => ({
        'data-id': user.id,
        class: user.isActive === false ? 'inactive' : undefined,
      }))
      pages.update(result)
    } catch (error) {
      shown = undefined
      pages.hide()
      table.empty('Could not load the users.')
      status.error(problemMessage(error), () => void refresh())
    }
  }

  outlet.append(
    h('h2', { class: 'list-heading', tabindex: '-1' }, 'Users'),
    h('p', { class: 'muted' }, 'Everyone’s math calls are on the History page, with a filter by user.'),
    status.element,
    list,
    pages.element,
  )
  void refresh()
}
