import { api, me, type Page, type User } from '../api'
import { confirmButton, formatDate, h, select } from '../dom'
import { historyPanel } from './history'
import { pagerButtons } from './tasks'

export function adminView(outlet: HTMLElement) {
  const rows = h('tbody')
  const pager = h('div', { class: 'pager' })
  const status = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite' })
  let page = 1

  /** Runs an admin action and shows the API's refusal (the last admin, say) instead of failing silently. */
  async function act(action: () => Promise<unknown>, done: string) {
    try {
      await action()
      status.textContent = done
    } catch (error) {
      status.textContent = error instanceof Error ? error.message : String(error)
    }
    await refresh()
  }

  async function refresh() {
    const list = await api<Page<User>>('GET', `/users?page=${page}&pageSize=20`)
    rows.replaceChildren(
      ...list.items.map((user) => {
        const self = user.id === me()?.id
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
          act(
            () => api('PUT', `/users/${user.id}/role`, { role: role.value }),
            `${user.username} is now ${role.value}`,
          ),
        )
        const active = h('input', {
          type: 'checkbox',
          checked: user.isActive !== false,
          'aria-label': `${user.username} is active`,
          disabled: self,
        })
        active.addEventListener('change', () =>
          act(
            () => api('PATCH', `/users/${user.id}`, { isActive: active.checked }),
            `${user.username} ${active.checked ? 'reactivated' : 'deactivated'}`,
          ),
        )
        return h(
          'tr',
          {},
          h('td', {}, user.username),
          h('td', {}, user.email),
          h('td', {}, role),
          h('td', {}, active),
          h('td', {}, formatDate(user.createdAt)),
          h(
            'td',
            {},
            self
              ? null
              : confirmButton('Delete', `Delete user ${user.username}`, () =>
                  act(() => api('DELETE', `/users/${user.id}`), `${user.username} deleted`),
                ),
          ),
        )
      }),
    )
    pager.replaceChildren(
      ...pagerButtons(list, (next) => {
        page = next
        void refresh()
      }),
    )
  }

  outlet.append(
    h('h2', {}, 'Users'),
    status,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['Username', 'Email', 'Role', 'Active', 'Joined', ''].map((t) => h('th', { scope: 'col' }, t)),
          ),
        ),
        rows,
      ),
    ),
    pager,
    h('h2', {}, 'Everyone’s history'),
    historyPanel(true),
  )
  void refresh()
}
