import { ApiError, isAbort } from './api'
import { h } from './dom'
import { type FieldInfo, fieldMessage, problemMessage } from './messages'
import type { Scope } from './scope'

/** A form-level message line; field messages go next to their fields. */
export function formStatus() {
  return h('p', { class: 'form-status', role: 'alert' })
}

type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement

const controlNamed = (form: HTMLFormElement, name: string) =>
  form.querySelector<Control>(`[name="${CSS.escape(name)}"]`)

const infoOf = (control: Control): FieldInfo => ({
  label: control.dataset.label ?? control.name,
  hint: control.dataset.invalid ?? control.dataset.hint,
})

export function clearErrors(form: HTMLFormElement) {
  for (const slot of form.querySelectorAll<HTMLElement>('.field-error, .form-status')) slot.textContent = ''
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid')
}

function placeAt(form: HTMLFormElement, control: Control, message: string) {
  const slot = form.querySelector<HTMLElement>(`#${CSS.escape(`${control.id}-error`)}`)
  if (!slot) return false
  control.setAttribute('aria-invalid', 'true')
  // One message per field: the first is the one to fix first.
  if (!slot.textContent) slot.textContent = message
  return true
}

function formLevel(form: HTMLFormElement, message: string) {
  const status = form.querySelector<HTMLElement>('.form-status')
  if (status) status.textContent = message
}

/** Moves focus to the first field with a message, so a keyboard or screen-reader user lands on it. */
function focusFirstInvalid(form: HTMLFormElement) {
  form.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus()
}

/**
 * Shows why a request failed: each field error beside its field, in words for people; a problem naming
 * no field beside the field it is about (a conflict naming a field's label, a limit on the form's main
 * field) or on the form's status line. An abort (the view was left) shows nothing.
 */
export function showError(form: HTMLFormElement, error: unknown) {
  if (isAbort(error)) return
  clearErrors(form)
  if (!(error instanceof ApiError)) {
    formLevel(form, problemMessage(error))
    return
  }
  const { problem } = error
  const labelOf = (name: string) => {
    const other = controlNamed(form, name)
    return other ? infoOf(other).label : undefined
  }
  let placed = false
  for (const fieldError of problem.errors ?? []) {
    const name = fieldError.path.split('/').filter(Boolean).at(-1)
    const control = name ? controlNamed(form, name) : null
    if (control && placeAt(form, control, fieldMessage(fieldError, infoOf(control), labelOf))) placed = true
  }
  if (!placed) {
    const message = problemMessage(error)
    const target =
      problem.status === 409 ? fieldNamedIn(form, problem.detail ?? '') : mainField(form, problem.status)
    if (!(target && placeAt(form, target, message))) formLevel(form, message)
  }
  focusFirstInvalid(form)
}

/** A conflict's text names the field it is about ("Username is already taken", "…has this SKU"). */
function fieldNamedIn(form: HTMLFormElement, detail: string): Control | null {
  const words = detail.toLowerCase()
  for (const control of form.querySelectorAll<Control>('[name]')) {
    const label = infoOf(control).label.toLowerCase()
    if (label && new RegExp(`\\b${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`).test(words))
      return control
  }
  return null
}

function mainField(form: HTMLFormElement, status: number): Control | null {
  const name = form.dataset.mainField
  // A limit (422), a size (413) or a kind (415) the server refused is about the form's main field.
  return [413, 415, 422].includes(status) && name ? controlNamed(form, name) : null
}

/** A client-side rule for one field: returns the message, or nothing when the value is fine. */
export type Rule = (value: string, control: Control) => string | undefined

export const rules = {
  required: ((value, control) =>
    value.trim() ? undefined : `${infoOf(control).label} is required.`) as Rule,
  wholeNumber: ((value) =>
    value.trim() === '' || /^\s*\+?\d+\s*$/.test(value)
      ? undefined
      : 'Enter a whole number, 0 or more.') as Rule,
  decimal: ((value) =>
    value.trim() === '' || /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(value)
      ? undefined
      : 'Enter a number, like 2, -3 or 1.5.') as Rule,
  price: ((value) =>
    value.trim() === '' || /^\s*\d+(\.\d{1,2})?\s*$/.test(value)
      ? undefined
      : 'Enter a price of 0 or more with at most 2 decimals, like 19.99.') as Rule,
  maxLength:
    (max: number): Rule =>
    (value) =>
      value.length > max
        ? `Use at most ${max.toLocaleString()} characters (now ${value.length.toLocaleString()}).`
        : undefined,
}

/**
 * Checks the fields before anything is sent, with the same words the server's errors are turned into,
 * so an empty or malformed field never becomes a request (an empty n is not F(0)). Returns true when
 * every field passes; otherwise marks the fields and focuses the first.
 */
export function validate(form: HTMLFormElement, checks: Record<string, Rule[]>): boolean {
  clearErrors(form)
  let ok = true
  for (const [name, fieldRules] of Object.entries(checks)) {
    const control = controlNamed(form, name)
    if (!control || control.closest('[hidden]')) continue
    for (const rule of fieldRules) {
      const message = rule(control.value, control)
      if (message) {
        placeAt(form, control, message)
        ok = false
        break
      }
    }
  }
  if (!ok) focusFirstInvalid(form)
  return ok
}

export function formValues(form: HTMLFormElement) {
  return Object.fromEntries(
    [...new FormData(form).entries()].map(([key, value]) => [key, typeof value === 'string' ? value : '']),
  ) as Record<string, string>
}

/**
 * Filter forms apply as the user types (debounced, so a word is one request) and never submit; Enter
 * applies at once. The timer belongs to the view's scope, so it dies with the view.
 */
export function onFilterInput(form: HTMLFormElement, scope: Scope, apply: () => void, delayMs = 250) {
  let timer: number | undefined
  const schedule = (delay: number) => {
    scope.clearTimeout(timer)
    timer = scope.setTimeout(apply, delay)
  }
  form.addEventListener('input', () => schedule(delayMs))
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    schedule(0)
  })
}
