// Preloaded into the service by bench/hostile.ts (node --import this): the service's own loop probe
// (bench/loop-probe.ts, loaded through Node's built-in type stripping, so the service runs as deployed,
// without a TypeScript loader). When the benchmark creates `${BENCH_LOOP_DELAY_FILE}.ask`, the probe
// writes its report since the last ask to BENCH_LOOP_DELAY_FILE and starts over, so each phase is measured
// alone. A file, not a signal: the service's graceful shutdown owns the signals.
import { existsSync, rmSync, writeFileSync } from 'node:fs'

const file = process.env.BENCH_LOOP_DELAY_FILE
if (file) {
  const { startLoopProbe } = await import(new URL('./loop-probe.ts', import.meta.url).href)
  const probe = startLoopProbe({ callbacks: true })
  setInterval(() => {
    if (!existsSync(`${file}.ask`)) return
    rmSync(`${file}.ask`, { force: true })
    writeFileSync(file, JSON.stringify(probe.report()))
  }, 50).unref()
}
