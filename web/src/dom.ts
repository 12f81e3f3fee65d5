type Child = Node | string | number | null | undefined | false
type Attrs = Record<string, unknown>

/** A tiny element factory: enough structure for a handful of views without a framework. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2).toLowerCase(), value as EventListener)
    } else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'hidden') {
      Reflect.set(element, key, value)
    } else {
      element.setAttribute(key, value === true ? '' : String(value))
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    element.append(typeof child === 'number' ? String(child) : child)
  }
  return element
}

let nextId = 0
export const uniqueId = (prefix: string) => `${prefix}-${++nextId}`

type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement

/**
 * A labelled control with a slot under it for the message about that field. `hint` is shown under the
 * control; `invalid` (else the hint) is what a value of the wrong shape is told (see messages.ts).
 */
export function field(
  label: string,
  control: Control,
  options: { hint?: string; invalid?: string; class?: string } = {},
) {
  control.id ||= uniqueId(control.name || 'field')
  control.dataset.label = label.replace(/\s*\(.*\)$/, '')
  if (options.invalid) control.dataset.invalid = options.invalid
  const error = h('p', { class: 'field-error', id: `${control.id}-error` })
  const describedBy = [error.id]
  let hint: HTMLElement | null = null
  if (options.hint) {
    control.dataset.hint = options.hint
    hint = h('p', { class: 'hint', id: `${control.id}-hint` }, options.hint)
    describedBy.unshift(hint.id)
  }
  control.setAttribute('aria-describedby', describedBy.join(' '))
  return h(
    'div',
    { class: `field${options.class ? ` ${options.class}` : ''}` },
    h('label', { for: control.id }, label),
    control,
    hint,
    error,
  )
}

export function select(name: string, options: [value: string, label: string][], value = '') {
  return h(
    'select',
    { name },
    ...options.map(([optionValue, text]) =>
      h('option', { value: optionValue, selected: optionValue === value }, text),
    ),
  )
}

/**
 * A message line for a view or a form: success and failure look different (colour and icon), and a
 * failure is announced at once (role=alert) while a success is announced politely.
 */
export function notice() {
  const element = h('div', { class: 'notice', hidden: true })
  const text = h('span', { class: 'notice-text' })
  const retry = h('button', { type: 'button', class: 'secondary small', hidden: true }, 'Retry')
  const close = h('button', { type: 'button', class: 'notice-close', 'aria-label': 'Dismiss message' }, '×')
  element.append(text, retry, close)
  let onRetry: (() => void) | undefined
  const hide = () => {
    element.hidden = true
    text.textContent = ''
    element.removeAttribute('role')
    onRetry = undefined
  }
  close.addEventListener('click', hide)
  retry.addEventListener('click', () => {
    const again = onRetry
    hide()
    again?.()
  })
  const show = (tone: 'success' | 'error', message: string, again?: () => void) => {
    element.className = `notice ${tone}`
    // A failure interrupts (alert); a success waits its turn (status).
    element.setAttribute('role', tone === 'error' ? 'alert' : 'status')
    text.textContent = message
    onRetry = again
    retry.hidden = !again
    element.hidden = false
  }
  return {
    element,
    success: (message: string) => show('success', message),
    error: (message: string, again?: () => void) => show('error', message, again),
    clear: hide,
  }
}
export type Notice = ReturnType<typeof notice>

/**
 * Deletes on a second click, so one slip of the finger does not remove anything. The action reports its
 * own failures; the button comes back either way.
 */
export function confirmButton(label: string, accessibleName: string, action: () => Promise<void>) {
  let armed: number | undefined
  const button = h('button', { type: 'button', class: 'danger', 'aria-label': accessibleName }, label)
  const disarm = () => {
    window.clearTimeout(armed)
    armed = undefined
    button.textContent = label
    button.setAttribute('aria-label', accessibleName)
    button.classList.remove('armed')
  }
  button.addEventListener('click', async () => {
    if (button.classList.contains('busy')) return
    if (armed === undefined) {
      button.textContent = 'Confirm?'
      button.setAttribute('aria-label', `Confirm: ${accessibleName}`)
      button.classList.add('armed')
      armed = window.setTimeout(disarm, 4000)
      return
    }
    disarm()
    button.classList.add('busy')
    button.disabled = true
    try {
      await action()
    } finally {
      button.classList.remove('busy')
      button.disabled = false
    }
  })
  button.addEventListener('blur', () => {
    if (armed !== undefined) disarm()
  })
  return button
}

/**
 * Disables a control while `work` runs (no second change meanwhile) and gives it back afterwards,
 * focus included: disabling a focused control drops its focus, which a keyboard user must not lose.
 */
export async function holding<T>(
  control: HTMLInputElement | HTMLSelectElement,
  work: () => Promise<T>,
): Promise<T> {
  const focused = document.activeElement === control
  control.disabled = true
  try {
    return await work()
  } finally {
    control.disabled = false
    if (focused && control.isConnected && document.activeElement === document.body) control.focus()
  }
}

/** Disables a button and shows what it is doing until `work` settles; a second press meanwhile does nothing. */
export async function busy<T>(
  button: HTMLButtonElement,
  busyLabel: string,
  work: () => Promise<T>,
): Promise<T> {
  const label = button.textContent
  button.disabled = true
  button.textContent = busyLabel
  try {
    return await work()
  } finally {
    button.disabled = false
    button.textContent = label
  }
}

/** A small label; `tone` picks its colour and always comes with words, never colour alone. */
export const badge = (text: string, tone: string) => h('span', { class: `badge ${tone}` }, text)

// ---------------------------------------------------------------- formatting

const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' })
const weekdayDateFormat = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  month: 'short',
  day: 'numeric',
  year: 'numeric',
})

const thisYearFormat = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: 'numeric',
  minute: '2-digit',
})

/** When something happened: without the year when it is this year's. */
export function formatDateTime(iso: string | null | undefined) {
  if (!iso) return ''
  const date = new Date(iso)
  return (date.getFullYear() === new Date().getFullYear() ? thisYearFormat : dateTimeFormat).format(date)
}

/**
 * A due date picked as a date only is stored as the end of that day in the user's time zone; it is
 * shown as that date again, without a time. A due date with a time of its own shows the time.
 */
export function formatDue(iso: string) {
  const due = new Date(iso)
  return isEndOfDay(due) ? weekdayDateFormat.format(due) : dateTimeFormat.format(due)
}

export const formatDate = (iso: string) => dateFormat.format(new Date(iso))

export const isEndOfDay = (date: Date) => date.getHours() === 23 && date.getMinutes() === 59

const pad = (n: number) => String(n).padStart(2, '0')

/** yyyy-mm-dd of a date in the local time zone, for <input type=date>. */
export const dateInputValue = (date: Date) =>
  `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`

/** hh:mm for <input type=time>; empty for an end-of-day due date, which was picked without a time. */
export const timeInputValue = (date: Date) =>
  isEndOfDay(date) ? '' : `${pad(date.getHours())}:${pad(date.getMinutes())}`

/** The instant of a due date picked as a date (and maybe a time), in the user's time zone; null when none. */
export function dueInstant(dateText: string, timeText: string): Date | null {
  const date = /^(\d{4})-(\d{2})-(\d{2})$/.exec(dateText)
  if (!date) return null
  const time = /^(\d{2}):(\d{2})$/.exec(timeText)
  const [hours, minutes, seconds] = time ? [Number(time[1]), Number(time[2]), 0] : [23, 59, 59]
  return new Date(Number(date[1]), Number(date[2]) - 1, Number(date[3]), hours, minutes, seconds)
}

export function formatBytes(bytes: number) {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

/** Milliseconds to three significant digits: the API's float sums are not worth 17 digits. */
export function formatMs(ms: number | null | undefined) {
  return ms === null || ms === undefined ? '' : Number(ms.toPrecision(3)).toLocaleString()
}

/** Screen-reader-only text. */
export const srOnly = (text: string) => h('span', { class: 'sr-only' }, text)
