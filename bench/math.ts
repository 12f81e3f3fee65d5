/**
 * Math engine cost: computing F(n), n! and 7^e, then converting to decimal with our toDecimal against
 * V8's toString, and against GMP (gmpy2) on the same inputs when it is installed.
 * Run: npm run bench:math   (GMP_PYTHON=/path/to/python3 to pick the interpreter that has gmpy2)
 */
import { spawnSync } from 'node:child_process'
import { cpus, platform, release } from 'node:os'
import { fileURLToPath } from 'node:url'
import { factorial, fibonacci, powerExact, toDecimal } from '../src/modules/math/engine/index.js'

/** Rows run smallest first; once this much time is spent the remaining rows are skipped. */
const BUDGET_MS = 75_000

interface Case {
  op: 'fibonacci' | 'factorial' | 'power'
  n: number
  label: string
  run: () => bigint
}

const cases: Case[] = [
  ...[1e4, 1e5, 1e6, 1e7].map((n) => ({
    op: 'fibonacci' as const,
    n,
    label: `F(10^${Math.log10(n)})`,
    run: () => fibonacci(n),
  })),
  ...[1e4, 1e5, 1e6].map((n) => ({
    op: 'factorial' as const,
    n,
    label: `(10^${Math.log10(n)})!`,
    run: () => factorial(n),
  })),
  ...[1e4, 1e5, 1e6, 1e7].map((n) => ({
    op: 'power' as const,
    n,
    label: `7^(10^${Math.log10(n)})`,
    run: () => powerExact(7n, BigInt(n)),
  })),
]

/** One run for slow work; best of several within ~0.2 s for fast work, where one run is mostly noise. */
function bestMs<T>(fn: () => T): { value: T; ms: number } {
  let started = performance.now()
  const value = fn()
  let best = performance.now() - started
  let spent = best
  for (let runs = 1; best < 20 && spent < 200 && runs < 20; runs++) {
    started = performance.now()
    fn()
    const elapsed = performance.now() - started
    best = Math.min(best, elapsed)
    spent += elapsed
  }
  return { value, ms: best }
}

interface Row {
  c: Case
  digits: number
  computeMs: number
  firstMs: number
  cachedMs: number
  nativeMs: number
  same: boolean
}

const benchStart = performance.now()
const rows: Row[] = []
for (const c of cases) {
  if (performance.now() - benchStart > BUDGET_MS) {
    console.error(`skipping ${c.label}: time budget spent`)
    continue
  }
  const { value, ms: computeMs } = bestMs(c.run)
  // The first conversion at a new size also builds the reciprocals of the new, larger powers of ten.
  const started = performance.now()
  const ours = toDecimal(value)
  const firstMs = performance.now() - started
  const cachedMs = bestMs(() => toDecimal(value)).ms
  const { value: native, ms: nativeMs } = bestMs(() => value.toString())
  rows.push({ c, digits: native.length, computeMs, firstMs, cachedMs, nativeMs, same: ours === native })
  console.error(`${c.label}: done`)
}

function findGmpPython(): string | undefined {
  const candidates = [process.env.GMP_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p)
  return candidates.find((py) => spawnSync(py, ['-c', 'import gmpy2'], { stdio: 'ignore' }).status === 0)
}

interface GmpResult {
  computeMs: number
  strMs: number
  digits: number
}

function runGmp(): { version: string; results: GmpResult[] } | undefined {
  const python = findGmpPython()
  if (!python) return undefined
  const script = fileURLToPath(new URL('./gmp-reference.py', import.meta.url))
  const input = JSON.stringify(rows.map((r) => ({ op: r.c.op, n: r.c.n })))
  const out = spawnSync(python, [script], { input, encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 20 })
  if (out.status !== 0) {
    console.error(`GMP reference failed: ${out.stderr || out.error?.message}`)
    return undefined
  }
  const parsed = JSON.parse(out.stdout) as { gmp: string; results: GmpResult[] }
  return { version: parsed.gmp, results: parsed.results }
}

const gmp = runGmp()

const fmt = (ms: number): string => (ms < 1 ? ms.toFixed(3) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0))
const cpu = cpus()
console.log(
  `\n### Math engine — ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, Node ${process.version}, ` +
    `${platform()} ${release()}${gmp ? `, ${gmp.version} via gmpy2` : ', GMP not available'}\n`,
)
const header = [
  'input',
  'digits',
  'compute ms',
  'toDecimal ms (first)',
  'toDecimal ms (cached)',
  'toString ms',
  'toString / toDecimal',
  'total ms',
]
if (gmp) header.push('GMP compute ms', 'GMP str ms', 'GMP total ms', 'ours / GMP')
console.log(`| ${header.join(' | ')} |`)
console.log(`|${header.map(() => '---').join('|')}|`)
rows.forEach((r, i) => {
  const total = r.computeMs + r.cachedMs
  const cells = [
    r.c.label,
    r.digits.toLocaleString('en-US'),
    fmt(r.computeMs),
    fmt(r.firstMs) + (r.same ? '' : ' (MISMATCH)'),
    fmt(r.cachedMs),
    fmt(r.nativeMs),
    `${(r.nativeMs / r.cachedMs).toFixed(2)}×`,
    fmt(total),
  ]
  const g = gmp?.results[i]
  if (g) {
    const gTotal = g.computeMs + g.strMs
    cells.push(fmt(g.computeMs), fmt(g.strMs), fmt(gTotal), `${(total / gTotal).toFixed(1)}×`)
  }
  console.log(`| ${cells.join(' | ')} |`)
})
console.log(
  '\ntotal = compute + cached toDecimal, what a long-lived worker pays. "first" is the first conversion in' +
    ' this process at that size: it also computes the reciprocals for powers of ten larger than any seen' +
    ' before (rows run smallest first). Fast rows are best of several runs, slow rows a single run.',
)
