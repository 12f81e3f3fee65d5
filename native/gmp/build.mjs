// Install script of the optional GMP engine. It never fails the install: without a C compiler, Python,
// Node's headers or libgmp-dev it prints why and exits 0, and the service runs its JavaScript engine.
// Rebuild later with `npm rebuild @mathapi/gmp` once the missing piece is installed.
import { spawnSync } from 'node:child_process'
import { existsSync, realpathSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const skip = (reason) => {
  console.warn(`@mathapi/gmp: not built (${reason}); the Math API will use its JavaScript engine.`)
  console.warn(
    '@mathapi/gmp: to get the GMP engine, install a C toolchain and libgmp-dev, then run `npm rebuild @mathapi/gmp`.',
  )
  rmSync(join(here, 'build'), { recursive: true, force: true })
  process.exit(0)
}

if (process.platform !== 'linux') skip(`${process.platform} is not supported`)
if (process.env.MATHAPI_GMP_BUILD === 'skip') skip('MATHAPI_GMP_BUILD=skip')

// npm tells its scripts where its bundled node-gyp lives.
const nodeGyp = process.env.npm_config_node_gyp
if (!nodeGyp || !existsSync(nodeGyp)) skip('node-gyp not found (run the install through npm)')

// Build against the headers of the Node that runs the install when they sit beside it (official
// tarballs, the node:*-slim images, the `node` npm package): node-gyp then needs no download.
const args = [nodeGyp, 'rebuild']
const prefix = dirname(dirname(realpathSync(process.execPath)))
const nodeDir = [prefix, join(prefix, 'node_modules', `node-${process.platform}-${process.arch}`)].find(
  (dir) => existsSync(join(dir, 'include', 'node', 'node_api.h')),
)
if (!process.env.npm_config_nodedir && nodeDir) args.push(`--nodedir=${nodeDir}`)
const build = spawnSync(process.execPath, args, { cwd: here, encoding: 'utf8' })
if (build.status !== 0) {
  const output = `${build.stdout ?? ''}${build.stderr ?? ''}`.trim().split('\n')
  const why =
    output.find((line) => /error:|not found|No such file|command not found/.test(line)) ??
    output.findLast((line) => !line.startsWith('gyp '))
  skip(`node-gyp failed${why ? `: ${why.trim()}` : build.error ? `: ${build.error.message}` : ''}`)
}

// Built is not enough: the library must load here (libgmp present, a compatible C library).
try {
  const addon = createRequire(import.meta.url)('./build/Release/gmp.node')
  console.log(`@mathapi/gmp: built against GMP ${addon.version}`)
} catch (error) {
  skip(`the built addon does not load: ${error instanceof Error ? error.message : String(error)}`)
}
