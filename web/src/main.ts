import './styles.css'
import { isLoggedIn, loadMe, logout, me, onSessionChange } from './api'
import { h } from './dom'
import { adminView } from './views/admin'
import { loginView, signupView } from './views/auth'
import { calculatorView } from './views/calculator'
import { filesView } from './views/files'
import { historyView } from './views/history'
import { productsView } from './views/products'
import { tasksView } from './views/tasks'

interface Route {
  title: string
  view: (outlet: HTMLElement) => void
  /** Who may open it: anyone, a signed-in user, or an admin. */
  access: 'public' | 'user' | 'admin'
  nav?: boolean
}

// Keep in step with UI_ROUTES in src/platform/web-ui.ts, which lets these paths load on a deep link.
const routes: Record<string, Route> = {
  '/login': { title: 'Log in', view: loginView, access: 'public' },
  '/signup': { title: 'Sign up', view: signupView, access: 'public' },
  '/calculator': { title: 'Calculator', view: calculatorView, access: 'user', nav: true },
  '/history': { title: 'History', view: historyView, access: 'user', nav: true },
  '/tasks': { title: 'Tasks', view: tasksView, access: 'user', nav: true },
  '/files': { title: 'Files', view: filesView, access: 'user', nav: true },
  '/products': { title: 'Products', view: productsView, access: 'public', nav: true },
  '/admin': { title: 'Admin', view: adminView, access: 'admin', nav: true },
}

const app = document.querySelector<HTMLElement>('#app')!
const nav = h('nav', { 'aria-label': 'Main' })
const account = h('div', { class: 'account' })
const outlet = h('main', { id: 'main', tabindex: '-1' })
app.append(
  h('a', { class: 'skip', href: '#main' }, 'Skip to content'),
  h('header', {}, h('a', { class: 'brand', href: '/', 'data-link': true }, 'Math API'), nav, account),
  outlet,
)

export function navigate(path: string, replace = false) {
  if (replace) history.replaceState(null, '', path)
  else history.pushState(null, '', path)
  render()
}

function resolve(): string {
  const user = me()
  const path = location.pathname
  const route = routes[path]
  if (!route) return isLoggedIn() ? '/calculator' : '/login'
  if (route.access !== 'public' && !isLoggedIn()) return '/login'
  if (route.access === 'admin' && user?.role !== 'admin') return '/calculator'
  return path
}

function render() {
  const path = resolve()
  if (path !== location.pathname) history.replaceState(null, '', path)
  const route = routes[path]!
  renderHeader()
  document.title = `${route.title} · Math API`
  outlet.replaceChildren(h('h1', {}, route.title))
  route.view(outlet)
}

/** The navigation and account corner, which follow the session (a login, a role change, a logout). */
function renderHeader() {
  const user = me()
  const visible = (route: Route) =>
    route.nav &&
    (route.access === 'public' || (isLoggedIn() && (route.access === 'user' || user?.role === 'admin')))
  nav.replaceChildren(
    ...Object.entries(routes)
      .filter(([, route]) => visible(route))
      .map(([href, route]) =>
        h(
          'a',
          { href, 'data-link': true, 'aria-current': href === location.pathname ? 'page' : undefined },
          route.title,
        ),
      ),
  )
  account.replaceChildren(
    ...(user
      ? [
          h('span', { class: 'whoami' }, `${user.username} (${user.role})`),
          h('button', { type: 'button', onclick: signOut }, 'Log out'),
        ]
      : [
          h('a', { href: '/login', 'data-link': true }, 'Log in'),
          h('a', { href: '/signup', 'data-link': true }, 'Sign up'),
        ]),
  )
}

async function signOut() {
  await logout()
  navigate('/login')
}

document.addEventListener('click', (event) => {
  const link = (event.target as Element).closest<HTMLAnchorElement>('a[data-link]')
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return
  event.preventDefault()
  navigate(link.pathname)
})
window.addEventListener('popstate', render)
onSessionChange(() => {
  if (!isLoggedIn() && routes[location.pathname]?.access !== 'public') navigate('/login', true)
  else renderHeader()
})

loadMe().finally(render)
