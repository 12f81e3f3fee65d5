// Preloaded into the service by bench/hostile.ts (node --import tsx --import this): the service's own
// loop probe. When the benchmark creates `${BENCH_LOOP_DELAY_FILE}.ask`, the probe writes its report
// since the last ask to BENCH_LOOP_DELAY_FILE and starts over, so each phase is measured alone. A file,
// not a signal: the service's graceful shutdown owns the signals.
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { startLoopProbe } from './loop-probe.js'

const file = process.env.BENCH_LOOP_DELAY_FILE
if (file) {
  const probe = startLoopProbe({ callbacks: true })
  setInterval(() => {
    if (!existsSync(`${file}.ask`)) return
    rmSync(`${file}.ask`, { force: true })
    writeFileSync(file, JSON.stringify(probe.report()))
  }, 50).unref()
}
