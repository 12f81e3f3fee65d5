import type { Operation } from './api'
import { h } from './dom'

export interface Point {
  x: number
  y: number
  series: Operation
}

/** Told apart by shape as well as colour: a circle, a square and a triangle. */
const COLORS: Record<Operation, string> = { fibonacci: '#2563eb', factorial: '#dc2626', power: '#16a34a' }
const SHAPES: Operation[] = ['fibonacci', 'factorial', 'power']

/**
 * A scatter plot on a canvas: a few hundred points need no chart library. Both axes are
 * logarithmic, since input sizes and compute times span orders of magnitude.
 */
export function scatterChart(label: string) {
  const canvas = h('canvas', { role: 'img', 'aria-label': label, height: '260' })
  const legend = h('p', { class: 'legend' })
  const figure = h('figure', { class: 'chart' }, canvas, legend)

  function draw(points: Point[]) {
    const inner = figure.clientWidth - Number.parseFloat(getComputedStyle(figure).paddingLeft) * 2
    const width = Math.max(240, Math.floor(inner) || 600)
    const height = 260
    const ratio = window.devicePixelRatio || 1
    canvas.width = width * ratio
    canvas.height = height * ratio
    canvas.style.width = `${width}px`
    canvas.style.height = `${height}px`
    const ctx = canvas.getContext('2d')
    if (!ctx) return
    ctx.scale(ratio, ratio)
    const style = getComputedStyle(figure)
    ctx.fillStyle = style.color
    ctx.strokeStyle = style.color
    ctx.font = '12px system-ui, sans-serif'
    const pad = { left: 56, right: 12, top: 12, bottom: 36 }
    const log = (v: number) => Math.log10(Math.max(v, 1e-3))
    const xs = points.map((p) => log(p.x + 1))
    const ys = points.map((p) => log(p.y))
    const [x0, x1] = range(xs)
    const [y0, y1] = range(ys)
    // Points sit a little inside the axes, so none is drawn on top of an axis or its labels.
    const inset = 10
    const sx = (v: number) =>
      pad.left + inset + ((v - x0) / (x1 - x0)) * (width - pad.left - pad.right - 2 * inset)
    const sy = (v: number) =>
      height - pad.bottom - inset - ((v - y0) / (y1 - y0)) * (height - pad.top - pad.bottom - 2 * inset)

    ctx.globalAlpha = 0.5
    ctx.beginPath()
    ctx.moveTo(pad.left, pad.top)
    ctx.lineTo(pad.left, height - pad.bottom)
    ctx.lineTo(width - pad.right, height - pad.bottom)
    ctx.stroke()
    ctx.globalAlpha = 1
    ctx.textAlign = 'center'
    for (let e = Math.ceil(x0); e <= x1; e++) ctx.fillText(`1e${e}`, sx(e), height - pad.bottom + 14)
    ctx.fillText('input size (n or exponent, log scale)', (pad.left + width - pad.right) / 2, height - 4)
    ctx.textAlign = 'right'
    for (let e = Math.ceil(y0); e <= y1; e++) ctx.fillText(duration(10 ** e), pad.left - 6, sy(e) + 4)

    points.forEach((point, i) => {
      ctx.fillStyle = COLORS[point.series] ?? '#888'
      const x = sx(xs[i]!)
      const y = sy(ys[i]!)
      ctx.beginPath()
      const shape = SHAPES.indexOf(point.series)
      if (shape === 1) ctx.rect(x - 3.5, y - 3.5, 7, 7)
      else if (shape === 2) {
        ctx.moveTo(x, y - 4.5)
        ctx.lineTo(x + 4.5, y + 3.5)
        ctx.lineTo(x - 4.5, y + 3.5)
        ctx.closePath()
      } else ctx.arc(x, y, 4, 0, Math.PI * 2)
      ctx.fill()
    })
    const series = [...new Set(points.map((p) => p.series))]
    legend.replaceChildren(
      ...(series.length
        ? series.map((name) =>
            h('span', {}, h('span', { class: `swatch ${name}`, 'aria-hidden': 'true' }), name),
          )
        : [h('span', { class: 'muted' }, 'Nothing to plot yet: successful calls appear here.')]),
    )
    canvas.setAttribute('aria-label', `${label}: ${points.length} calls plotted`)
  }
  return { element: figure, draw }
}

function range(values: number[]): [number, number] {
  if (values.length === 0) return [0, 1]
  const low = Math.floor(Math.min(...values))
  const high = Math.ceil(Math.max(...values))
  return high > low ? [low, high] : [low, low + 1]
}

const duration = (ms: number) => (ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`)
