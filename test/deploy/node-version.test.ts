import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from './deploy-files.js'

/*
 * scripts/check-node.mjs is what an unsupported Node.js meets first: at install (preinstall) and at start
 * (dist/start.js imports it before the service's code). Here it runs under this Node.js with
 * process.versions.node replaced, so every boundary can be tried; .ci/run also runs it, and npm's
 * engine-strict refusal, under the machine's real older Node.js.
 */
const CHECK = join(ROOT, 'scripts/check-node.mjs')
const required = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
).engines.node

function checkAs(version: string) {
  const pretend = `Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '${version}' } }); Object.defineProperty(process, 'version', { value: 'v${version}' })`
  return spawnSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(pretend)}`, CHECK],
    {
      encoding: 'utf8',
    },
  )
}

describe('Node.js version check', () => {
  it('declares one ">=X.Y.Z" floor in package.json and passes on this Node.js', () => {
    expect(required).toMatch(/^>=\d+\.\d+\.\d+$/)
    const result = spawnSync(process.execPath, [CHECK], { encoding: 'utf8' })
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' })
  })

  const [major, minor, patch] = required.slice(2).split('.').map(Number) as [number, number, number]
  const refused = [
    ...(patch > 0 ? [`${major}.${minor}.${patch - 1}`] : []),
    `${major}.${minor - 1}.99`,
    `${major - 1}.99.99`,
    '20.20.2',
    '9.11.2', // compared as numbers, not strings ("9" > "2")
    '0.10.48',
  ]
  const accepted = [
    `${major}.${minor}.${patch}`,
    `${major}.${minor}.${patch + 1}`,
    `${major}.${minor + 1}.0`,
    `${major + 1}.0.0`,
    '24.21.0',
    '100.0.0',
  ]

  it.each(refused)('refuses Node.js %s with the required version and how to get Node.js 24', (version) => {
    const result = checkAs(version)
    expect(result.status).toBe(1)
    expect(result.stderr).toContain(`needs Node.js ${required}; this is Node.js v${version}`)
    expect(result.stderr).toContain('nvm install 24')
    expect(result.stderr).toContain('npm install --prefix ~/.node24 node@24')
  })

  it.each(accepted)('accepts Node.js %s', (version) => {
    expect(checkAs(version)).toMatchObject({ status: 0, stderr: '' })
  })

  it('is what the start entry point runs before loading the service', () => {
    const entry = readFileSync(join(ROOT, 'src/start.ts'), 'utf8')
    const code = entry.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
    expect(
      code.trim().startsWith("await import(new URL('../scripts/check-node.mjs', import.meta.url).href)"),
    ).toBe(true)
    expect(code).not.toMatch(/^import /m)
  })
})
