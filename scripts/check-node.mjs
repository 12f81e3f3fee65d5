// The one Node.js version check, dependency-free so it runs before anything is installed or loaded:
// `npm install` runs it as the preinstall script, and dist/start.js imports it before the service's
// code, so an unsupported Node.js gets this message instead of a native module's segmentation fault.
// The required version is package.json's engines.node (a `>=X.Y.Z` range).
import { readFileSync } from 'node:fs'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
// No `?.` or `??` here: this file must parse on old Node.js versions too, to tell them apart.
// biome-ignore lint/complexity/useOptionalChain: optional chaining is a syntax error before Node.js 14
const required = String((pkg.engines && pkg.engines.node) || '')
const minimum = /^>=\s*(\d+)\.(\d+)(?:\.(\d+))?$/.exec(required.trim())
if (!minimum) throw new Error(`package.json engines.node must be a ">=X.Y.Z" range, not "${required}"`)

const parts = (version) => version.split('.').map((part) => Number.parseInt(part, 10) || 0)
const [major, minor, patch] = parts(process.versions.node)
const [needMajor, needMinor, needPatch] = [minimum[1], minimum[2], minimum[3] || '0'].map(Number)
const supported =
  major !== needMajor ? major > needMajor : minor !== needMinor ? minor > needMinor : patch >= needPatch

if (!supported) {
  process.stderr.write(
    [
      '',
      `${pkg.name} needs Node.js ${required}; this is Node.js ${process.version} (${process.execPath}).`,
      'Install Node.js 24 (what CI and the container image use), then run the command again:',
      '  - with nvm:        nvm install 24 && nvm use 24',
      '  - from the site:   https://nodejs.org/en/download',
      '  - with only npm:   npm install --prefix ~/.node24 node@24',
      '                     export PATH="$HOME/.node24/node_modules/node/bin:$PATH"',
      '',
    ].join('\n'),
  )
  process.exit(1)
}
