import { ApiError, type Page } from '../api'
import { h, type Notice } from '../dom'
import { problemMessage } from '../messages'
import type { Scope } from '../scope'

/**
 * Runs the newest load of one kind for a view: the previous one is cancelled, the region is marked busy
 * meanwhile, and an answer that arrives after a newer load began is dropped (undefined), so a list
 * never shows the results of an older filter.
 */
export async function loadLatest<T>(
  scope: Scope,
  kind: string,
  region: HTMLElement,
  fetcher: (signal: AbortSignal) => Promise<T>,
): Promise<T | undefined> {
  const signal = scope.latest(kind)
  region.setAttribute('aria-busy', 'true')
  try {
    const data = await fetcher(signal)
    return signal.aborted ? undefined : data
  } catch (error) {
    if (signal.aborted) return undefined
    throw error
  } finally {
    if (!signal.aborted) region.removeAttribute('aria-busy')
  }
}

/** Previous / next for a paginated list, with where the user is. */
export function pager(noun: string, go: (page: number) => void) {
  const previous = h(
    'button',
    { type: 'button', class: 'secondary', 'aria-label': 'Previous page' },
    '‹ Previous',
  )
  const next = h('button', { type: 'button', class: 'secondary', 'aria-label': 'Next page' }, 'Next ›')
  const where = h('span', { class: 'pager-where' })
  const total = h('span', { class: 'pager-total' })
  const element = h(
    'nav',
    { class: 'pager', 'aria-label': `Pages of ${noun}`, hidden: true },
    previous,
    h('span', { class: 'pager-text' }, where, total),
    next,
  )
  let current = 1
  previous.addEventListener('click', () => go(current - 1))
  next.addEventListener('click', () => go(current + 1))
  return {
    element,
    update(list: Page<unknown>) {
      const pages = Math.max(1, Math.ceil(list.total / list.pageSize))
      current = list.page
      previous.disabled = list.page <= 1
      next.disabled = list.page >= pages
      where.textContent = `Page ${list.page} of ${pages}`
      total.textContent = ` · ${list.total.toLocaleString()} ${noun}`
      element.hidden = list.total <= list.pageSize && list.page === 1
    },
    /** Hides the pager while the list shows no page (a failed load). */
    hide() {
      element.hidden = true
    },
  }
}

/** The page number to ask for after deleting from the one shown: the previous page when it held only that item. */
export const pageAfterDelete = (list: Page<unknown> | undefined) =>
  list && list.items.length === 1 && list.page > 1 ? list.page - 1 : (list?.page ?? 1)

/** What a list shows until its first answer arrives. */
export const LOADING = 'Loading…'

/** True on a phone-sized screen, where optional panels start folded. */
export const isNarrow = () => window.matchMedia('(max-width: 640px)').matches

/** The item is not there any more (deleted elsewhere, in another tab or by an admin). */
export const isGone = (error: unknown) => error instanceof ApiError && error.problem.status === 404

/**
 * Deletes one item of a list and reads the list again. A 404 means someone deleted it first, which is
 * what the user wanted: said as such, not as a failure. Returns false when it could not be deleted.
 */
export async function deleteFromList(
  what: string,
  remove: () => Promise<void>,
  status: Notice,
  reload: () => Promise<void>,
): Promise<boolean> {
  try {
    await remove()
    status.success(`Deleted ${what}.`)
  } catch (error) {
    if (!isGone(error)) {
      status.error(`Could not delete ${what}: ${problemMessage(error)}`)
      return false
    }
    status.success(`${what} was already deleted.`)
  }
  await reload()
  return true
}
