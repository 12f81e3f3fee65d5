import { h, uniqueId } from './dom'

/**
 * A modal dialog (the native <dialog>: focus stays inside, Escape closes it). Focus goes back to what
 * opened it when it closes, so a keyboard user continues where they were.
 */
export function modal(title: string, body: HTMLElement) {
  const headingId = uniqueId('dialog-title')
  const heading = h('h2', { id: headingId }, title)
  const close = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close' }, '×')
  const element = h(
    'dialog',
    { class: 'modal', 'aria-labelledby': headingId },
    h('div', { class: 'modal-head' }, heading, close),
    body,
  )
  let returnTo: HTMLElement | null = null
  close.addEventListener('click', () => element.close())
  element.addEventListener('close', () => {
    if (returnTo?.isConnected) returnTo.focus()
    else document.querySelector<HTMLElement>('main h1')?.focus()
    returnTo = null
  })
  return {
    element,
    heading,
    open(opener?: HTMLElement | null) {
      returnTo = opener ?? (document.activeElement as HTMLElement | null)
      if (!element.isConnected) document.querySelector('main')?.append(element)
      element.showModal()
      element.querySelector<HTMLElement>('input, select, textarea')?.focus()
    },
    close: () => element.close(),
    /** Where focus goes on close, when the opener itself was replaced meanwhile (a list redrawn). */
    returnFocusTo(target: HTMLElement | null) {
      returnTo = target
    },
  }
}
