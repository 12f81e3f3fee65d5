import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'

/**
 * A stand-in UI build (index.html and one hashed asset) for the suite, so that serving it needs neither
 * Vite nor a browser. Call it before useApp: the files are written before the app is built, and removed
 * after it is closed.
 */
export function useStandInWebRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'mathapi-web-'))
  beforeAll(() => {
    mkdirSync(join(root, 'assets'))
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>ui</title>')
    writeFileSync(join(root, 'assets', 'index-abc123.js'), 'console.log(1)')
  })
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  return root
}
