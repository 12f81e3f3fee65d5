import './styles.css'
import { isAbort, isLoggedIn, loadMe, logout, me, onSessionChange } from './api'
import { h, notice } from './dom'
import { problemMessage } from './messages'
import { Scope } from './scope'
import { adminView } from './views/admin'
import { loginView, signupView } from './views/auth'
import { calculatorView } from './views/calculator'
import { filesView } from './views/files'
import { historyView } from './views/history'
import { productsView } from './views/products'
import { tasksView } from './views/tasks'

export type View = (outlet: HTMLElement, scope: Scope) => void

interface Route {
  title: string
  view: View
  /** Who may open it: anyone, a signed-in user, or an admin. */
  access: 'public' | 'guest' | 'user' | 'admin'
  nav?: boolean
  /** Shows more to an admin, so it is drawn again when the user's role changes. */
  roleAware?: boolean
}

// Keep in step with UI_ROUTES in src/platform/web-ui.ts, which lets these paths load on a deep link.
const routes: Record<string, Route> = {
  '/login': { title: 'Log in', view: loginView, access: 'guest' },
  '/signup': { title: 'Sign up', view: signupView, access: 'guest' },
  '/calculator': { title: 'Calculator', view: calculatorView, access: 'user', nav: true },
  '/history': { title: 'History', view: historyView, access: 'user', nav: true, roleAware: true },
  '/tasks': { title: 'Tasks', view: tasksView, access: 'user', nav: true },
  '/files': { title: 'Files', view: filesView, access: 'user', nav: true },
  '/products': { title: 'Products', view: productsView, access: 'public', nav: true, roleAware: true },
  '/admin': { title: 'Admin', view: adminView, access: 'admin', nav: true },
}

const app = document.querySelector<HTMLElement>('#app')!
const nav = h('nav', { class: 'nav', 'aria-label': 'Main' })
const account = h('div', { class: 'account' })
const menuToggle = h(
  'button',
  { type: 'button', class: 'menu-toggle', 'aria-expanded': 'false', 'aria-controls': 'site-menu' },
  h('span', { class: 'menu-icon', 'aria-hidden': 'true' }),
  'Menu',
)
const menu = h('div', { class: 'menu', id: 'site-menu' }, nav, account)
const header = h(
  'header',
  { class: 'topbar' },
  h(
    'a',
    { class: 'brand', href: '/', 'data-link': true },
    h('span', { class: 'logo', 'aria-hidden': 'true' }, '∑'),
    'Math API',
  ),
  menuToggle,
  menu,
)
const skipLink = h('a', { class: 'skip', href: '#main' }, 'Skip to content')
const banner = notice()
const outlet = h('main', { id: 'main', tabindex: '-1' })
app.append(skipLink, header, h('div', { class: 'banner' }, banner.element), outlet)

let scope = new Scope()
let renderedPath = ''
/** Told once on the next page drawn (a session that ended, a role that changed). */
let pendingNotice: { tone: 'success' | 'error'; text: string } | null = null

export function navigate(path: string, replace = false) {
  if (replace) history.replaceState(null, '', path)
  else history.pushState(null, '', path)
  render(true)
}

/** Where the user may be: a guest-only page sends a signed-in user on, a private one sends a guest to log in. */
function resolve(): string {
  const path = location.pathname
  const route = routes[path]
  if (!route) return isLoggedIn() ? '/calculator' : '/login'
  if (route.access === 'guest' && isLoggedIn()) return nextPath() ?? '/calculator'
  if ((route.access === 'user' || route.access === 'admin') && !isLoggedIn()) return '/login'
  if (route.access === 'admin' && me()?.role !== 'admin') return '/calculator'
  return path
}

/** The page a login should return to: a path of this app only, never another site. */
export function nextPath(): string | undefined {
  const next = new URLSearchParams(location.search).get('next')
  return next && routes[next] && routes[next].access !== 'guest' ? next : undefined
}

function render(moveFocus = false) {
  const path = resolve()
  if (path !== location.pathname) {
    const keep =
      path === '/login' && routes[location.pathname] ? `?next=${encodeURIComponent(location.pathname)}` : ''
    history.replaceState(null, '', path + keep)
  }
  const route = routes[path]!
  scope.end()
  scope = new Scope()
  renderedPath = path
  closeMenu()
  renderHeader()
  document.title = `${route.title} · Math API`
  banner.clear()
  if (pendingNotice) {
    if (pendingNotice.tone === 'error') banner.error(pendingNotice.text)
    else banner.success(pendingNotice.text)
    pendingNotice = null
  }
  const heading = h('h1', { tabindex: '-1' }, route.title)
  outlet.replaceChildren(h('div', { class: 'page-head' }, heading))
  route.view(outlet, scope)
  // After a navigation, the heading of the new page is where a keyboard or screen-reader user continues.
  if (moveFocus) heading.focus()
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
          { href, 'data-link': true, 'aria-current': href === renderedPath ? 'page' : undefined },
          route.title,
        ),
      ),
  )
  account.replaceChildren(
    ...(user || isLoggedIn()
      ? [
          h(
            'span',
            { class: 'whoami' },
            h('span', { class: 'whoami-name', title: user?.username }, user?.username ?? 'Signed in'),
            ' ',
            user
              ? h('span', { class: `badge ${user.role === 'admin' ? 'accent' : 'neutral'}` }, user.role)
              : null,
          ),
          h('button', { type: 'button', class: 'secondary', onclick: signOut }, 'Log out'),
        ]
      : [
          h('a', { href: '/login', 'data-link': true }, 'Log in'),
          h('a', { href: '/signup', 'data-link': true, class: 'button-link' }, 'Sign up'),
        ]),
  )
}

function openMenu(open: boolean) {
  header.classList.toggle('open', open)
  menuToggle.setAttribute('aria-expanded', String(open))
}
const closeMenu = () => openMenu(false)

menuToggle.addEventListener('click', () => openMenu(!header.classList.contains('open')))
header.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && header.classList.contains('open')) {
    closeMenu()
    menuToggle.focus()
  }
})
document.addEventListener('click', (event) => {
  if (header.classList.contains('open') && !header.contains(event.target as Node)) closeMenu()
})

async function signOut(event: Event) {
  const button = event.currentTarget as HTMLButtonElement
  button.disabled = true
  await logout()
  pendingNotice = { tone: 'success', text: 'You are logged out.' }
  navigate('/login')
}

skipLink.addEventListener('click', (event) => {
  event.preventDefault()
  outlet.querySelector<HTMLElement>('h1')?.focus()
})

document.addEventListener('click', (event) => {
  const link = (event.target as Element).closest<HTMLAnchorElement>('a[data-link]')
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey || event.button !== 0) return
  event.preventDefault()
  if (link.pathname === renderedPath && !link.search) {
    closeMenu()
    return
  }
  navigate(link.pathname + link.search)
})

window.addEventListener('popstate', () => {
  // A change of the #fragment alone is not a new page.
  if (location.pathname !== renderedPath) render(true)
})

onSessionChange((change) => {
  const route = routes[renderedPath]
  if (change === 'expired') {
    pendingNotice = { tone: 'error', text: 'Your session has ended. Log in again to continue.' }
    if (route && route.access !== 'public' && route.access !== 'guest') {
      navigate(`/login?next=${encodeURIComponent(renderedPath)}`, true)
      return
    }
    render()
    return
  }
  if (change === 'login' && route?.roleAware) {
    // The user became known after the page was drawn (start-up while the server was out of reach).
    render()
    return
  }
  if (change === 'user') {
    const role = me()?.role
    if (route?.access === 'admin' && role !== 'admin') {
      pendingNotice = { tone: 'success', text: `Your role is now ${role}.` }
      navigate('/calculator', true)
      return
    }
    if (route?.roleAware) render()
    else renderHeader()
    banner.success(`Your role is now ${role}.`)
    return
  }
  renderHeader()
})

// The last line of defence: a failure no handler caught is still told, not left in the console.
window.addEventListener('unhandledrejection', (event) => {
  event.preventDefault()
  if (isAbort(event.reason)) return
  banner.error(problemMessage(event.reason))
  console.error('Unhandled failure:', event.reason)
})

/**
 * Who is signed in, read at start-up. With the server out of reach, the page still opens and says so,
 * and tries again on its own (and when the browser says it is back online) until it knows.
 */
let userRetry: number | undefined
function loadUser(delayMs = 2_000) {
  window.clearTimeout(userRetry)
  loadMe().catch((error) => {
    banner.error(problemMessage(error), () => loadUser())
    userRetry = window.setTimeout(() => loadUser(Math.min(delayMs * 2, 60_000)), delayMs)
  })
}
window.addEventListener('online', () => {
  if (isLoggedIn() && !me()) loadUser()
})

loadMe()
  .catch((error) => {
    pendingNotice = { tone: 'error', text: problemMessage(error) }
    userRetry = window.setTimeout(() => loadUser(), 2_000)
  })
  .finally(() => render())
