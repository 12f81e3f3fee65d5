import { api } from '../api'
import { bigResult } from '../big-result'
import { field, formatMs, h, select } from '../dom'
import { clearErrors, formStatus, formValues, showError } from '../forms'

interface MathResult {
  operation: string
  input: Record<string, number | string>
  result: string
  exact: boolean
  digits: number
  cached: boolean
  computeMs: number
}

/**
 * Operands go to the API as the text typed: the server reads decimal strings exactly (Number() here would
 * round 12345678901234567891, or make 7.0000000000000000001 the integer 7).
 */
const numeric = (text: string) => text.trim()

export function calculatorView(outlet: HTMLElement) {
  const operation = select('operation', [
    ['fibonacci', 'Fibonacci F(n)'],
    ['factorial', 'Factorial n!'],
    ['power', 'Power base^exponent'],
  ])
  const n = field('n', h('input', { name: 'n', inputmode: 'numeric', value: '1000' }))
  const base = field('Base', h('input', { name: 'base', inputmode: 'decimal', value: '2' }))
  const exponent = field('Exponent', h('input', { name: 'exponent', inputmode: 'decimal', value: '100' }))
  const modulus = field('Modulus (optional)', h('input', { name: 'modulus', inputmode: 'numeric' }))
  const powerFields = h('div', { class: 'row', hidden: true }, base, exponent, modulus)
  const submit = h('button', { type: 'submit' }, 'Compute')
  const form = h(
    'form',
    { class: 'card', 'data-main-field': 'n' },
    h('div', { class: 'row' }, field('Operation', operation), n),
    powerFields,
    formStatus(),
    submit,
  )
  const output = h('section', { class: 'card', 'aria-live': 'polite', 'aria-label': 'Result' })
  output.hidden = true

  operation.addEventListener('change', () => {
    const power = operation.value === 'power'
    n.hidden = power
    powerFields.hidden = !power
    form.dataset.mainField = power ? 'exponent' : 'n'
    clearErrors(form)
  })

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const values = formValues(form)
    const op = values.operation ?? 'fibonacci'
    const body =
      op === 'power'
        ? {
            base: numeric(values.base ?? ''),
            exponent: numeric(values.exponent ?? ''),
            ...(values.modulus ? { modulus: numeric(values.modulus) } : {}),
          }
        : { n: Number(values.n) }
    submit.disabled = true
    submit.textContent = 'Computing…'
    try {
      const result = await api<MathResult>('POST', `/math/${op}`, body)
      clearErrors(form)
      showResult(output, result)
    } catch (error) {
      showError(form, error)
    } finally {
      submit.disabled = false
      submit.textContent = 'Compute'
    }
  })
  outlet.append(form, output)
}

function showResult(output: HTMLElement, result: MathResult) {
  const input = Object.entries(result.input)
    .map(([key, value]) => `${key} = ${value}`)
    .join(', ')
  output.replaceChildren(
    h('h2', {}, `${result.operation}(${input})`),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Digits'),
      h('dd', { 'data-testid': 'digits' }, result.digits.toLocaleString()),
      h('dt', {}, 'Exact'),
      h('dd', {}, result.exact ? 'yes' : 'no (floating point)'),
      h('dt', {}, 'From cache'),
      h('dd', {}, result.cached ? 'yes' : 'no'),
      h('dt', {}, 'Compute time'),
      h('dd', {}, `${formatMs(result.computeMs)} ms`),
    ),
    bigResult(result.result, `${result.operation}-${Object.values(result.input).join('-')}.txt`),
  )
  output.hidden = false
}
