import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContextOptions, Page } from 'playwright-core'
import { describe, expect, vi } from 'vitest'
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

// A loaded machine, or a phone flow running beside a desktop one, can take longer than vitest's defaults
// (1 s for expect.poll) to draw an answer; the waits end as soon as the answer is there.
vi.setConfig({ testTimeout: 60_000, expect: { poll: { timeout: 10_000, interval: 50 } } })

/** describe when Chromium is there; otherwise skipped, with the reason in the title. */
export const browserSuite = (title: string, body: () => void) =>
  executablePath ? describe(title, body) : describe.skip(`${title} — ${skipReason}`, body)

/**
 * The steps of one flow, one after another, inside a suite that runs side by side with its siblings
 * (`{ concurrent: true }`): the browser does the work and the test process mostly waits, so the desktop
 * and phone flows overlap instead of queueing. Each flow has its own users and data.
 */
export const inOrder = (steps: () => void): void => {
  describe('step by step', { concurrent: false }, steps)
}

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
  /** Every page's console errors and page errors not yet taken as expected, each with its page's URL. */
  readonly consoleErrors: string[]
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
  return {
    t,
    base,
    browser,
    get consoleErrors() {
      return [...errorsByPage.values()].flat()
    },
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
      const errors: string[] = []
      errorsByPage.set(page, errors)
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(`${page.url()}: ${message.text()}`)
      })
      page.on('pageerror', (error) => errors.push(`${page.url()}: ${error.message}`))
      return page
    },
    async close() {
      await browser.close()
      await t.close()
    },
  }
}

/** Console errors by page: each page's own, so flows running side by side never take each other's. */
const errorsByPage = new Map<Page, string[]>()

/**
 * Chromium logs every 4xx/5xx response (and every dropped request) as a console error. A test that asks
 * for one takes exactly what it expects off its page's list, in order: a status, or a text the line
 * contains. Anything else on that page's list fails the test, and the lists end empty.
 */
export function takeExpectedErrors(page: Page, ...expected: (number | string)[]) {
  const taken = (errorsByPage.get(page) ?? []).splice(0)
  expect(taken).toEqual(
    expected.map((item) =>
      expect.stringContaining(
        typeof item === 'number' ? `the server responded with a status of ${item}` : item,
      ),
    ),
  )
}

/**
 * Like takeExpectedErrors, for a status that may be logged more than once depending on timing (a request
 * in flight when a session ends is refused too): at least one line, and every line that status.
 */
export function takeRepeatedErrors(page: Page, status: number) {
  const taken = (errorsByPage.get(page) ?? []).splice(0)
  expect(taken.length).toBeGreaterThan(0)
  for (const line of taken) expect(line).toContain(`the server responded with a status of ${status}`)
}

/** Waits until no region of the page is loading (aria-busy), so what is checked next is the answer. */
export async function settled(page: Page) {
  await page.locator('[aria-busy="true"]').first().waitFor({ state: 'detached' })
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

/**
 * A request held in the test's hand: a route handler awaits `opened`, the test calls `open()` when it has
 * checked what the page does meanwhile. Deterministic where a fixed delay would race a loaded machine.
 */
export function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { opened, open }
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
