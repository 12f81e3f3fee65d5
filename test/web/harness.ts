import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContextOptions, Page } from 'playwright-core'
import { describe, expect } from 'vitest'
import { DEFAULT_WEB_ROOT } from '../../src/platform/web-ui.js'
import { ADMIN, bearer, buildTestApp, login, type TestApp } from '../helpers.js'
import { findChromium, launchChromium } from './browser.js'

/*
 * What every browser test file shares: a real listening server on a temp SQLite database, Debian's
 * Chromium driven by playwright-core, the two screen sizes, and the checks run on every view (axe,
 * no sideways scrolling). The UI under test is dist/web: CI builds it in `npm install`; a tree that
 * was never built builds it here first.
 */
export const REPO = fileURLToPath(new URL('../..', import.meta.url))
const executablePath = findChromium()
if (!executablePath && process.env.CI === 'true') {
  throw new Error('CI requires Chromium for the browser tests: .ci/steps/40-browser.sh installs it')
}
const skipReason =
  'skipped: no Chromium found (apt-get install chromium-headless-shell, or set CHROMIUM_PATH)'
if (!executablePath) console.warn(`web UI in Chromium — ${skipReason}`)

/** describe when Chromium is there; otherwise skipped, with the reason in the title. */
export const browserSuite = (title: string, body: () => void) =>
  executablePath ? describe(title, body) : describe.skip(`${title} — ${skipReason}`, body)

export interface Size {
  name: 'desktop' | 'phone'
  viewport: { width: number; height: number }
}
export const DESKTOP: Size = { name: 'desktop', viewport: { width: 1280, height: 800 } }
export const PHONE: Size = { name: 'phone', viewport: { width: 390, height: 844 } }
export const SIZES = [DESKTOP, PHONE]

/** Every view of the app, with who may open it. */
export const VIEWS = [
  ['/login', 'guest'],
  ['/signup', 'guest'],
  ['/calculator', 'user'],
  ['/history', 'user'],
  ['/tasks', 'user'],
  ['/files', 'user'],
  ['/products', 'public'],
  ['/admin', 'admin'],
] as const

export interface Harness {
  t: TestApp
  base: string
  browser: Browser
  /** Console errors and page errors, each prefixed with its page's URL. */
  consoleErrors: string[]
  newPage(size?: Size, options?: BrowserContextOptions): Promise<Page>
  close(): Promise<void>
}

export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  if (!existsSync(`${DEFAULT_WEB_ROOT}/index.html`)) {
    execFileSync('npx', ['vite', 'build', 'web'], { cwd: REPO, stdio: 'inherit' })
  }
  const t = await buildTestApp({ name: 'sqlite' }, env)
  const base = await t.app.listen({ port: 0, host: '127.0.0.1' })
  const browser = await launchChromium(executablePath!)
  const consoleErrors: string[] = []
  return {
    t,
    base,
    browser,
    consoleErrors,
    async newPage(size = DESKTOP, options = {}) {
      const context = await browser.newContext({
        viewport: size.viewport,
        acceptDownloads: true,
        locale: 'en-US',
        // The test process's own zone, so due dates the tests compute are the browser's local days too.
        timezoneId: Intl.DateTimeFormat().resolvedOptions().timeZone,
        ...(size.name === 'phone' ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
        ...options,
      })
      const page = await context.newPage()
      page.on('console', (message) => {
        if (message.type() === 'error') consoleErrors.push(`${page.url()}: ${message.text()}`)
      })
      page.on('pageerror', (error) => consoleErrors.push(`${page.url()}: ${error.message}`))
      return page
    },
    async close() {
      await browser.close()
      await t.close()
    },
  }
}

/**
 * Chromium logs every 4xx/5xx response as a console error. A test that asks for one takes exactly the
 * ones it expects off the list (by status), so the list ends empty unless something unexpected happened.
 */
export function takeExpectedErrors(h: Harness, since: number, ...statuses: number[]) {
  const taken = h.consoleErrors.splice(since)
  expect(taken).toEqual(
    statuses.map((status) => expect.stringContaining(`the server responded with a status of ${status}`)),
  )
}

export async function logIn(page: Page, base: string, username: string, password: string) {
  await page.goto(`${base}/login`)
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.waitForURL('**/calculator')
  await page.locator('.whoami').waitFor({ state: 'attached' })
}

/** An access token for API calls made by the test itself (seeding data, acting as another user). */
export async function tokenOf(t: TestApp, username = ADMIN.username, password = ADMIN.password) {
  return bearer((await login(t.app, username, password)).access_token)
}

export async function apiCall(
  t: TestApp,
  headers: Record<string, string>,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  payload?: object,
) {
  const response = await t.app.inject({ method, url: `/api/v1${url}`, headers, payload })
  if (response.statusCode >= 400) throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`)
  return response.body ? response.json() : undefined
}

// ---------------------------------------------------------------------------- the checks on every view

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

interface AxeViolation {
  id: string
  impact: string | null
  help: string
  nodes: { target: string[]; failureSummary?: string }[]
}

/**
 * Runs axe-core inside the page (evaluated through the DevTools protocol, so the app's CSP that allows
 * only its own scripts stays on) against WCAG 2.x A/AA and axe's best practices. Returns every violation,
 * summarised; callers assert there is no serious or critical one.
 */
export async function axe(page: Page): Promise<{ serious: string[]; other: string[] }> {
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(AXE_SOURCE)
  const violations = (await page.evaluate(`axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      resultTypes: ['violations'],
    }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) })))`)) as AxeViolation[]
  const describeOne = (v: AxeViolation) =>
    `${v.impact} ${v.id}: ${v.help} — ${v.nodes
      .slice(0, 3)
      .map((n) => n.target.join(' '))
      .join(', ')}`
  return {
    serious: violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map(describeOne),
    other: violations.filter((v) => v.impact !== 'serious' && v.impact !== 'critical').map(describeOne),
  }
}

/**
 * What does not fit the width of the screen: the page scrolling sideways, any element inside it that
 * scrolls sideways, and any visible element that reaches past the screen's edges (cut off by a parent
 * that hides its overflow). Empty when everything fits.
 */
export function horizontalOverflow(page: Page): Promise<string[]> {
  return page.evaluate(`(() => {
    const found = []
    const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + [...el.classList].map((c) => '.' + c).join('')
    const root = document.scrollingElement
    if (root.scrollWidth > root.clientWidth + 1) found.push('page: ' + root.scrollWidth + ' > ' + root.clientWidth)
    const width = root.clientWidth
    for (const el of document.querySelectorAll('body *')) {
      const style = getComputedStyle(el)
      if (['auto', 'scroll'].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1) {
        found.push(name(el) + ' scrolls: ' + el.scrollWidth + ' > ' + el.clientWidth)
      }
      if (el.closest('.sr-only, .skip, thead') || !el.checkVisibility()) continue
      const box = el.getBoundingClientRect()
      if (box.width > 0 && (box.right > width + 1 || box.left < -1)) {
        found.push(name(el) + ' reaches ' + Math.round(box.left) + '..' + Math.round(box.right) + ' of ' + width)
      }
    }
    return found
  })()`)
}

/**
 * Presses Tab until the focused element is the one `matches` picks (by role and accessible name, say),
 * as a keyboard user would; fails after `limit` presses.
 */
export async function tabTo(page: Page, description: string, matches: string, limit = 60, key = 'Tab') {
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press(key)
    if (await page.evaluate(`(() => { const el = document.activeElement; return !!el && (${matches}) })()`))
      return
  }
  const focused = await page.evaluate(
    '(() => { const el = document.activeElement; return el ? el.outerHTML.slice(0, 200) : "nothing" })()',
  )
  throw new Error(`${description}: not reached after ${limit} × ${key}; focus is on ${focused}`)
}

/** A focus matcher for `tabTo`: the element's accessible text (aria-label, label, or own text) is `name`. */
export const named = (name: string) => {
  const quoted = JSON.stringify(name)
  return `(el.getAttribute('aria-label') === ${quoted} || (el.labels && [...el.labels].some((l) => l.textContent.trim() === ${quoted})) || el.textContent.trim() === ${quoted})`
}
