import { ApiError } from './api'
import { h } from './dom'

/** A form-level message region; field messages go next to their fields. */
export function formStatus() {
  return h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite' })
}

export function clearErrors(form: HTMLFormElement) {
  for (const slot of form.querySelectorAll<HTMLElement>('.field-error, .form-status')) slot.textContent = ''
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid')
}

/**
 * Puts each problem+json field error beside the control named by the last segment of its path
 * (`/n`, `/body/price`). A problem naming no field (a 422 limit, a 409) goes beside the control the
 * form marks as its main one, or in the form's status line.
 */
export function showError(form: HTMLFormElement, error: unknown) {
  clearErrors(form)
  const status = form.querySelector<HTMLElement>('.form-status')
  if (!(error instanceof ApiError)) {
    if (status) status.textContent = error instanceof Error ? error.message : String(error)
    return
  }
  const { problem } = error
  let placed = false
  for (const fieldError of problem.errors ?? []) {
    const name = fieldError.path.split('/').filter(Boolean).at(-1)
    if (name && placeAt(form, name, fieldError.message)) placed = true
  }
  if (placed) return
  const main = form.dataset.mainField
  const message = problem.detail ?? problem.title
  if (!(problem.status === 422 && main && placeAt(form, main, message)) && status)
    status.textContent = message
}

function placeAt(form: HTMLFormElement, name: string, message: string) {
  const control = form.querySelector<HTMLElement>(`[name="${CSS.escape(name)}"]`)
  const slot = control && form.querySelector<HTMLElement>(`#${CSS.escape(`${control.id}-error`)}`)
  if (!control || !slot) return false
  control.setAttribute('aria-invalid', 'true')
  slot.textContent = slot.textContent ? `${slot.textContent}; ${message}` : message
  return true
}

export function formValues(form: HTMLFormElement) {
  return Object.fromEntries(
    [...new FormData(form).entries()].map(([key, value]) => [key, typeof value === 'string' ? value : '']),
  ) as Record<string, string>
}

/** Filter forms apply as the user types (debounced, so a word is one request) and never submit. */
export function onFilterInput(form: HTMLFormElement, apply: () => void, delayMs = 250) {
  let timer: number | undefined
  form.addEventListener('input', () => {
    window.clearTimeout(timer)
    timer = window.setTimeout(apply, delayMs)
  })
  form.addEventListener('submit', (event) => event.preventDefault())
}
