import { mkdirSync } from 'node:fs'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { ADMIN } from '../helpers.js'
import { browserSuite, type Harness, logIn, REPO, type Size, startHarness } from './harness.js'
import { seedWorld } from './seed.js'

/*
 * `npm run screenshots` (SCREENSHOTS=1): the README's pictures of every page, at a desktop size and at
 * a phone's, with believable data. Skipped in a normal test run.
 */
const SCREENSHOTS = process.env.SCREENSHOTS === '1'
const SHOT_SIZES: Size[] = [
  { name: 'desktop', viewport: { width: 1280, height: 860 } },
  { name: 'phone', viewport: { width: 390, height: 844 } },
]

browserSuite('README screenshots', () => {
  let h: Harness
  let maria: { username: string; password: string }
  beforeAll(async () => {
    if (!SCREENSHOTS) return
    h = await startHarness()
    maria = await seedWorld(h.t)
  }, 120_000)
  afterAll(() => h?.close())

  /** Opens a page through the app and waits until its data is drawn. */
  async function show(page: Page, path: string) {
    await page.goto(`${h.base}${path}`)
    await page.locator('h1').waitFor()
    await expect.poll(() => page.locator('[aria-busy="true"]').count()).toBe(0)
    await page.evaluate('document.activeElement?.blur()')
  }

  it.runIf(SCREENSHOTS)(
    'saves every page at desktop and phone sizes',
    async () => {
      const dir = `${REPO}docs/screenshots`
      mkdirSync(dir, { recursive: true })
      for (const size of SHOT_SIZES) {
        const shot = (page: Page, name: string) =>
          page.screenshot({ path: `${dir}/${name}-${size.name}.png`, fullPage: size.name === 'desktop' })
        const guest = await h.newPage(size)
        await show(guest, '/login')
        await shot(guest, 'login')
        await guest.context().close()

        const user = await h.newPage(size)
        await logIn(user, h.base, maria.username, maria.password)
        await user.getByLabel('n', { exact: true }).fill('1000')
        await user.getByRole('button', { name: 'Compute' }).click()
        await user.getByTestId('digits').waitFor()
        await user.evaluate('document.activeElement?.blur()')
        await shot(user, 'calculator')
        for (const name of ['history', 'tasks', 'files']) {
          await show(user, `/${name}`)
          await shot(user, name)
        }
        await user.context().close()

        const admin = await h.newPage(size)
        await logIn(admin, h.base, ADMIN.username, ADMIN.password)
        for (const name of ['products', 'admin']) {
          await show(admin, `/${name}`)
          await shot(admin, name)
        }
        await admin.context().close()
      }
      expect(h.consoleErrors).toEqual([])
    },
    120_000,
  )
})
