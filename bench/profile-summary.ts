/**
 * Where a V8 CPU profile (node --cpu-prof, e.g. from BENCH_PROFILE=dir npm run bench:http) spends its time:
 * self time grouped by area (the service's own files, each dependency, Node's internals, GC, idle) and the
 * heaviest functions. Idle time is left out of the shares, so they are shares of busy CPU.
 * Run: npx tsx bench/profile-summary.ts <file.cpuprofile> [--top 40] [--skip 10]
 *   --skip N      leaves out the first N seconds (start-up, module loading, schema compilation)
 *   --requests N  the requests the profiled process answered (bench:http prints it): adds µs per request
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '40' },
    skip: { type: 'string', default: '0' },
    requests: { type: 'string' },
  },
})
const file = positionals[0]
if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [--top N]')
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile

const byId = new Map(profile.nodes.map((node) => [node.id, node]))
const selfMicros = new Map<number, number>()
const skipMicros = Number(values.skip) * 1e6
let elapsed = 0
profile.samples.forEach((id, i) => {
  const delta = profile.timeDeltas[i] ?? 0
  elapsed += delta
  if (elapsed < skipMicros) return
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + delta)
})

/** A readable area for a script URL: our source, a package, or a part of Node. */
function area(node: ProfileNode): string {
  const { url, functionName } = node.callFrame
  if (!url) {
    if (functionName === '(idle)') return '(idle)'
    if (functionName === '(garbage collector)') return 'GC'
    if (functionName === '(program)') return '(program: native, unattributed)'
    return `native: ${functionName || '(anonymous)'}`
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return pkg[1]!
  const own = /\/(?:dist|src)\/(.*)$/.exec(url)
  if (own) return `ours: ${own[1]!.replace(/\.js$/, '')}`
  const internal = /^node:(internal\/)?([^/]+(?:\/[^/]+)?)/.exec(url)
  if (internal) return `node: ${internal[2]}`
  return url
}

const areas = new Map<string, number>()
const functions = new Map<string, number>()
let busy = 0
for (const [id, micros] of selfMicros) {
  const node = byId.get(id)!
  const name = area(node)
  if (name !== '(idle)') busy += micros
  areas.set(name, (areas.get(name) ?? 0) + micros)
  const fn = `${node.callFrame.functionName || '(anonymous)'} ${name}:${node.callFrame.lineNumber + 1}`
  functions.set(fn, (functions.get(fn) ?? 0) + micros)
}

const requests = values.requests ? Number(values.requests) : undefined
const table = (title: string, entries: Map<string, number>, top: number) => {
  const perRequest = requests ? ' µs per request |' : ''
  console.log(
    `\n| ${title} | self ms | share of busy |${perRequest}\n|---|---:|---:|${requests ? '---:|' : ''}`,
  )
  for (const [name, micros] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    if (name === '(idle)') continue
    const each = requests ? ` ${(micros / requests).toFixed(2)} |` : ''
    console.log(`| ${name} | ${(micros / 1000).toFixed(0)} | ${((micros / busy) * 100).toFixed(1)}% |${each}`)
  }
}

console.log(
  `${file}: busy ${(busy / 1e6).toFixed(2)} s, idle ${((areas.get('(idle)') ?? 0) / 1e6).toFixed(2)} s${requests ? `, ${(busy / requests).toFixed(1)} µs busy per request (main thread)` : ''}`,
)
table('area', areas, 30)
table('function', functions, Number(values.top))
