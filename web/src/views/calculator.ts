import {
  compute,
  isAbort,
  type MathInput,
  type MathResult,
  type Operand,
  type Operation,
  RetryKey,
} from '../api'
import { bigResult } from '../big-result'
import { badge, field, formatMs, h, select } from '../dom'
import { clearErrors, formStatus, formValues, rules, showError, validate } from '../forms'
import type { Scope } from '../scope'

/**
 * An operand as typed: a plain number goes as a JSON number; anything a double would change (an integer
 * past 2^53, 1e400, 0.1000000000000000001) goes as the decimal string, so the API sees exactly what was typed.
 */
export const operand = (text: string): Operand => {
  const trimmed = text.trim().replace(/^\+/, '')
  const value = Number(trimmed)
  return Number.isFinite(value) && String(value) === trimmed ? value : trimmed
}

const OPERATIONS: [Operation, string][] = [
  ['fibonacci', 'Fibonacci F(n)'],
  ['factorial', 'Factorial n!'],
  ['power', 'Power base^exponent'],
]

export function calculatorView(outlet: HTMLElement, scope: Scope) {
  const params = new URLSearchParams(location.search)
  const initial = (OPERATIONS.find(([op]) => op === params.get('operation'))?.[0] ?? 'fibonacci') as Operation
  const operation = select('operation', OPERATIONS, initial)
  const n = field(
    'n',
    h('input', { name: 'n', inputmode: 'numeric', autocomplete: 'off', value: params.get('n') ?? '1000' }),
    {
      hint: 'A whole number, 0 or more',
    },
  )
  const base = field(
    'Base',
    h('input', { name: 'base', inputmode: 'decimal', autocomplete: 'off', value: params.get('base') ?? '2' }),
    {
      invalid: 'Enter a number, like 2, -3 or 1.5.',
    },
  )
  const exponent = field(
    'Exponent',
    h('input', {
      name: 'exponent',
      inputmode: 'decimal',
      autocomplete: 'off',
      value: params.get('exponent') ?? '100',
    }),
    { invalid: 'Enter a number, like 100 or -0.5.' },
  )
  const modulus = field(
    'Modulus (optional)',
    h('input', {
      name: 'modulus',
      inputmode: 'numeric',
      autocomplete: 'off',
      value: params.get('modulus') ?? '',
    }),
    {
      invalid:
        'A modulus needs a whole number of 1 or more, with a whole-number base and an exponent of 0 or more.',
    },
  )
  const powerFields = h('div', { class: 'row' }, base, exponent, modulus)
  const submit = h('button', { type: 'submit' }, 'Compute')
  const cancel = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Cancel')
  const form = h(
    'form',
    { class: 'card', novalidate: true, 'aria-label': 'Calculator', 'data-main-field': 'n' },
    h('div', { class: 'row' }, field('Operation', operation, { class: 'full-on-phone' }), n),
    powerFields,
    formStatus(),
    h('div', { class: 'actions' }, submit, cancel),
  )
  const output = h('section', { class: 'card result', 'aria-label': 'Result', hidden: true })
  const keys = new RetryKey()

  const showFields = () => {
    const power = operation.value === 'power'
    n.hidden = power
    powerFields.hidden = !power
    form.dataset.mainField = power ? 'exponent' : 'n'
  }
  showFields()
  operation.addEventListener('change', () => {
    showFields()
    clearErrors(form)
  })
  cancel.addEventListener('click', () => scope.cancel('compute'))

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    if (submit.disabled) return
    const values = formValues(form)
    const op = (values.operation ?? 'fibonacci') as Operation
    const valid =
      op === 'power'
        ? validate(form, {
            base: [rules.required, rules.decimal],
            exponent: [rules.required, rules.decimal],
            modulus: [rules.wholeNumber],
          })
        : validate(form, { n: [rules.required, rules.wholeNumber] })
    if (!valid) {
      // A result beside a message about new input would read as the answer to it.
      output.hidden = true
      return
    }
    const body: MathInput =
      op === 'power'
        ? {
            base: operand(values.base ?? ''),
            exponent: operand(values.exponent ?? ''),
            ...(values.modulus?.trim() ? { modulus: operand(values.modulus) } : {}),
          }
        : { n: Number(values.n?.trim()) }
    const signal = scope.latest('compute')
    submit.disabled = true
    submit.textContent = 'Computing…'
    cancel.hidden = false
    output.classList.add('stale')
    output.setAttribute('aria-busy', 'true')
    try {
      const result = await compute(op, body, keys, signal)
      showResult(output, result)
    } catch (error) {
      output.hidden = true
      if (isAbort(error)) {
        if (!scope.ended) form.querySelector('.form-status')!.textContent = 'Cancelled.'
      } else showError(form, error)
    } finally {
      submit.disabled = false
      submit.textContent = 'Compute'
      cancel.hidden = true
      output.classList.remove('stale')
      output.removeAttribute('aria-busy')
    }
  })
  outlet.append(form, output)
}

/** How the result is written: F(1000), 1000!, 2^100 mod 7. */
function expression(result: MathResult) {
  const { n, base, exponent, modulus } = result.input
  if (result.operation === 'fibonacci') return h('span', {}, `F(${n})`)
  if (result.operation === 'factorial') return h('span', {}, `${n}!`)
  return h(
    'span',
    {},
    String(base),
    h('sup', {}, String(exponent)),
    modulus === undefined ? null : ` mod ${modulus}`,
  )
}

function showResult(output: HTMLElement, result: MathResult) {
  output.replaceChildren(
    h(
      'div',
      { class: 'result-head' },
      h('h2', {}, expression(result)),
      h(
        'div',
        { class: 'badges' },
        result.exact ? badge('exact', 'success') : badge('floating point, not exact', 'warning'),
        result.cached ? badge('from cache', 'accent') : badge('computed now', 'neutral'),
      ),
    ),
    h(
      'dl',
      { class: 'facts' },
      h(
        'div',
        {},
        h('dt', {}, 'Digits'),
        h('dd', { 'data-testid': 'digits' }, result.digits.toLocaleString()),
      ),
      h('div', {}, h('dt', {}, 'Compute time'), h('dd', {}, `${formatMs(result.computeMs)} ms`)),
    ),
    bigResult(result.result, `${result.operation}-${Object.values(result.input).join('-')}.txt`),
  )
  output.hidden = false
}
