import { saveBlob } from './api'
import { h } from './dom'

/** Results up to this size are shown whole; past it, the head and tail with an expander. */
const INLINE_LIMIT = 2_000
const EDGE = 100
/** The expander adds this many digits per click, so the page never lays out millions of characters at once. */
const CHUNK = 50_000

export function bigResult(result: string, filename: string): HTMLElement {
  const value = h('output', { class: 'result-value', 'aria-label': 'Result' })
  const actions = h('div', { class: 'actions' })
  const note = h('span', { class: 'copy-note', role: 'status', 'aria-live': 'polite' })

  if (result.length <= INLINE_LIMIT) {
    value.textContent = result
  } else {
    const head = h('span', { class: 'head' }, result.slice(0, EDGE))
    const gap = h(
      'span',
      { class: 'gap' },
      ` … ${(result.length - 2 * EDGE).toLocaleString()} more digits … `,
    )
    const tail = h('span', { class: 'tail' }, result.slice(-EDGE))
    value.append(head, gap, tail)
    let shown = EDGE
    const more = h(
      'button',
      { type: 'button', class: 'secondary', 'aria-label': 'Show more digits' },
      'Show more',
    )
    more.addEventListener('click', () => {
      const end = Math.min(result.length - EDGE, shown + CHUNK)
      head.append(result.slice(shown, end))
      shown = end
      const left = result.length - EDGE - shown
      if (left > 0) gap.textContent = ` … ${left.toLocaleString()} more digits … `
      else {
        gap.remove()
        more.remove()
      }
    })
    actions.append(more)
  }

  actions.append(
    h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        onclick: async () => {
          try {
            await navigator.clipboard.writeText(result)
            note.textContent = 'Copied'
          } catch {
            note.textContent = 'Copy failed: use Download'
          }
        },
      },
      'Copy',
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        onclick: () => saveBlob(new Blob([result], { type: 'text/plain' }), filename),
      },
      'Download .txt',
    ),
    note,
  )
  return h('div', { class: 'big-result' }, value, actions)
}
