import { ApiError, type FieldError, isAbort, type Problem } from './api'

/**
 * Words for people. The API's field errors carry JSON-schema validator text ("must NOT have fewer than
 * 8 characters"); this turns each into a sentence about the field the user sees, using the label and
 * the hints the form gives that field. Problems without a field become one line for the whole form.
 */

/** What a form knows about one of its fields, for the messages about it. */
export interface FieldInfo {
  label: string
  /** Says what is allowed, for a value of the wrong shape ("Use 3–32 letters, digits, . _ or -"). */
  hint?: string | undefined
}

const numberFormat = new Intl.NumberFormat()
const formatLimit = (text: string) => {
  const value = Number(text)
  return Number.isFinite(value) ? numberFormat.format(value) : text
}

/**
 * One field error as a sentence. `labelOf` names other fields a message may refer to (minPrice "must
 * be <= maxPrice").
 */
export function fieldMessage(
  error: FieldError,
  field: FieldInfo,
  labelOf: (name: string) => string | undefined = () => undefined,
): string {
  const text = error.message.trim()
  const { label, hint } = field
  const ruleOf = (pattern: RegExp) => pattern.exec(text)
  if (/^(is required|must have required property)/.test(text)) return `${label} is required.`
  const fewer = ruleOf(/^must NOT have fewer than (\d+) characters?/)
  if (fewer) return fewer[1] === '1' ? `${label} is required.` : `Use at least ${fewer[1]} characters.`
  const more = ruleOf(/^must NOT have more than (\d+) characters?/)
  if (more) return `Use at most ${more[1]} characters.`
  const format = ruleOf(/^must match format "([^"]+)"/)
  if (format) {
    if (format[1] === 'email') return 'Enter an email address, like name@example.com.'
    if (format[1] === 'date-time' || format[1] === 'date') return 'Pick a valid date.'
    return hint ?? `Enter a valid ${label.toLowerCase()}.`
  }
  if (/^must match pattern/.test(text)) return hint ?? `${label} contains characters that are not allowed.`
  const bound = ruleOf(/^must be (>=|>|<=|<) (\S+)$/)
  if (bound) {
    const op = bound[1] ?? ''
    const limit = bound[2] ?? ''
    const other = labelOf(limit)
    if (other)
      return op.startsWith('<') ? `Must not be more than ${other}.` : `Must not be less than ${other}.`
    const shown = formatLimit(limit)
    if (op === '>=') return `Enter ${shown} or more.`
    if (op === '>') return `Enter more than ${shown}.`
    if (op === '<=') return `Enter at most ${shown}.`
    return `Enter less than ${shown}.`
  }
  if (/^must be integer/.test(text)) return 'Enter a whole number.'
  if (/^must be number/.test(text)) return 'Enter a number.'
  if (/^must have at most (\d+) decimal places?/.test(text))
    return 'Use at most 2 decimal places, like 19.99.'
  if (/^must be equal to (one of the allowed values|constant)|^must match a schema in anyOf/.test(text)) {
    return hint ?? 'Choose one of the options.'
  }
  if (/^must NOT have additional properties/.test(text))
    return 'This form sent a field the server does not know.'
  // A rule the UI has no sentence for: the field's own hint says what is allowed, else the server's words.
  return hint ?? `${label}: ${text}.`
}

/** The sentence for a problem that names no field (or none the form shows). */
export function problemMessage(error: unknown): string {
  if (isAbort(error)) return 'Cancelled.'
  if (!(error instanceof ApiError)) {
    return `Something went wrong in the page: ${error instanceof Error ? error.message : String(error)}`
  }
  const problem: Problem = error.problem
  const detail = problem.detail?.replace(/\s*\([A-Z][A-Z0-9_]+\)/g, '').trim()
  switch (problem.status) {
    case 0:
      return 'Cannot reach the server. Check your connection and try again.'
    case 401:
      return detail === 'Incorrect username or password'
        ? 'Incorrect username or password.'
        : 'Your session has ended. Log in again to continue.'
    case 403:
      return 'You are not allowed to do that.'
    case 404:
      return 'It is not there any more: someone may have just deleted it.'
    case 413:
      return 'That is larger than the server accepts.'
    case 429:
      return `Too many requests. Try again in ${problem.retryAfter ?? 'a few'} seconds.`
    case 503:
      return `The service is busy or one of its parts is down. Try again in ${problem.retryAfter ?? 'a few'} seconds.`
    default:
      if (problem.status >= 500) {
        return `Something went wrong on the server.${problem.requestId ? ` (Request id ${problem.requestId})` : ''}`
      }
      return detail ? sentence(detail) : `${problem.title}.`
  }
}

const sentence = (text: string) => {
  const capital = text.charAt(0).toUpperCase() + text.slice(1)
  return /[.!?]$/.test(capital) ? capital : `${capital}.`
}
