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
    } else if (key === 'value' || key === 'checked') {
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

/** A labelled control with a slot under it for the API's message about that field. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement) {
  control.id ||= uniqueId(control.name || 'field')
  const error = h('p', { class: 'field-error', id: `${control.id}-error`, 'aria-live': 'polite' })
  control.setAttribute('aria-describedby', error.id)
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, error)
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

/** Deletes on a second click, so one slip of the finger does not remove anything. */
export function confirmButton(label: string, accessibleName: string, action: () => Promise<void>) {
  let armed: number | undefined
  const button = h('button', { type: 'button', class: 'danger', 'aria-label': accessibleName }, label)
  button.addEventListener('click', async () => {
    if (armed === undefined) {
      button.textContent = 'Confirm?'
      armed = window.setTimeout(() => {
        armed = undefined
        button.textContent = label
      }, 4000)
      return
    }
    window.clearTimeout(armed)
    armed = undefined
    button.disabled = true
    try {
      await action()
    } finally {
      button.disabled = false
      button.textContent = label
    }
  })
  return button
}

export function formatDate(iso: string | null | undefined) {
  return iso ? new Date(iso).toLocaleString() : ''
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
