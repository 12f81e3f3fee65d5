import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN } from '../helpers.js'
import {
  apiCall,
  browserSuite,
  gate,
  type Harness,
  inOrder,
  logIn,
  SIZES,
  startHarness,
  takeRepeatedErrors,
  tokenOf,
} from './harness.js'

/*
 * The session over time and the page under a hostile network: 3-second access tokens, so refreshes,
 * role changes and expiry happen within a test; requests delayed, dropped and superseded; navigation
 * (links and the back button) in the middle of all that.
 */
browserSuite('web UI sessions and requests in Chromium', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness({ ACCESS_TOKEN_TTL: '3s' })
  }, 120_000)
  afterAll(() => h?.close())

  const stored = (page: Page) =>
    page.evaluate('JSON.parse(sessionStorage.getItem("mathapi.session") || "null")') as Promise<{
      accessToken: string
      refreshToken: string
    } | null>

  describe.each(SIZES)('at $name size', { concurrent: true }, (size) =>
    inOrder(() => {
      const name = `carol-${size.name}`
      const password = 'carol-password-1'
      let userId: string
      let page: Page
      const goTo = async (title: string) => {
        if (size.name === 'phone') await page.getByRole('button', { name: 'Menu' }).click()
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: title }).click()
      }

      beforeAll(async () => {
        userId = (
          await apiCall(h.t, {}, 'POST', '/auth/register', {
            username: name,
            email: `${name}@example.com`,
            password,
          })
        ).id
        page = await h.newPage(size)
        await logIn(page, h.base, name, password)
      })
      afterAll(() => page.context().close())

      it('refreshes the token pair before the access token expires', async ({ expect }) => {
        const first = (await stored(page))!.accessToken
        await expect.poll(async () => (await stored(page))?.accessToken, { timeout: 6_000 }).not.toBe(first)
        await page.waitForTimeout(3_200) // the first token is dead by now; the page never used it
        await goTo('Tasks')
        await expect
          .poll(() => page.locator('.stats div', { hasText: 'Total' }).locator('dd').textContent())
          .toBe('0')
        expect(await page.locator('.whoami').textContent()).toBe(`${name} user`)
      })

      it('picks up a promotion made elsewhere without a reload or a click', async ({ expect }) => {
        const admin = await tokenOf(h.t)
        await apiCall(h.t, admin, 'PUT', `/users/${userId}/role`, { role: 'admin' })
        // The next refresh (within about 1.5 s) carries the new role; the page follows on its own.
        await expect
          .poll(() => page.locator('.whoami').textContent(), { timeout: 6_000 })
          .toBe(`${name} admin`)
        expect(await page.locator('nav.nav a', { hasText: 'Admin' }).count()).toBe(1)
        expect(await page.locator('.banner .notice.success').textContent()).toContain(
          'Your role is now admin.',
        )
        expect(page.url()).toMatch(/\/tasks$/)
      })

      it('leaves the admin page when demoted elsewhere', async ({ expect }) => {
        await goTo('Admin')
        await page.waitForURL('**/admin')
        const admin = await tokenOf(h.t)
        await apiCall(h.t, admin, 'PUT', `/users/${userId}/role`, { role: 'user' })
        await page.waitForURL('**/calculator', { timeout: 6_000 })
        expect(await page.locator('.whoami').textContent()).toBe(`${name} user`)
        expect(await page.locator('nav.nav a', { hasText: 'Admin' }).count()).toBe(0)
        expect(await page.locator('.banner .notice').textContent()).toContain('Your role is now user.')
      })

      it('cancels a view’s requests when it is left, and draws nothing of it on the next one', async ({
        expect,
      }) => {
        const held = gate()
        await page.route('**/api/v1/history?*', async (route) => {
          await held.opened
          await route.continue().catch(() => undefined)
        })
        const failed: string[] = []
        page.on('requestfailed', (request) => failed.push(`${request.url()} ${request.failure()?.errorText}`))
        await goTo('History')
        await page.waitForURL('**/history')
        await expect.poll(() => page.locator('.list[aria-busy="true"]').count()).toBe(1)
        await goTo('Tasks')
        await page.waitForURL('**/tasks')
        await expect.poll(() => failed.filter((line) => line.includes('/history?')).length).toBe(1)
        expect(failed.find((line) => line.includes('/history?'))).toContain('ERR_ABORTED')
        held.open() // the history answer is let through now, to a view that is gone
        await expect.poll(() => page.locator('.task-list .empty, .task').count()).toBeGreaterThan(0)
        expect(await page.locator('table.data').count()).toBe(0)
        expect(await page.locator('h1').textContent()).toBe('Tasks')
        await page.unroute('**/api/v1/history?*')
      })

      it('stops a view’s timers when it is left: a half-typed filter sends nothing afterwards', async ({
        expect,
      }) => {
        await goTo('Products')
        await page.waitForURL('**/products')
        await expect.poll(() => page.locator('[aria-busy="true"]').count()).toBe(0)
        const productRequests: string[] = []
        page.on('request', (request) => {
          if (request.url().includes('/api/v1/products')) productRequests.push(request.url())
        })
        // Typing and leaving in one turn of the page's event loop: the filter's timer is surely pending.
        await page.evaluate(`(() => {
        const search = document.querySelector('input[name="name"]')
        search.value = 'slide'
        search.dispatchEvent(new Event('input', { bubbles: true }))
        document.querySelector('nav.nav a[href="/calculator"]').click()
      })()`)
        await page.waitForURL('**/calculator')
        await page.waitForTimeout(600) // past the 250 ms the filter would have waited
        expect(productRequests).toEqual([])
      })

      it('goes back and forward through views while a slow load is pending', async ({ expect }) => {
        await page.route('**/api/v1/tasks?*', async (route) => {
          await new Promise((resolve) => setTimeout(resolve, 800))
          await route.continue().catch(() => undefined)
        })
        await goTo('Tasks')
        await page.waitForURL('**/tasks')
        await page.goBack()
        await page.waitForURL('**/calculator')
        expect(await page.locator('h1').textContent()).toBe('Calculator')
        await page.goForward()
        await page.waitForURL('**/tasks')
        await expect
          .poll(() => page.locator('.task-list .empty').textContent(), { timeout: 5_000 })
          .toBe('No tasks yet: add one above.')
        await page.unroute('**/api/v1/tasks?*')
        // A #fragment (the skip link, say) is not a new page: the view is not drawn again.
        await page.evaluate('document.querySelector("h1").dataset.drawn = "once"')
        await page.evaluate('location.hash = "main"')
        await page.waitForTimeout(100)
        expect(await page.evaluate('document.querySelector("h1").dataset.drawn')).toBe('once')
      })

      it('keeps Compute busy on a slow network, sends one request per double click, and cancels', async ({
        expect,
      }) => {
        await goTo('Calculator')
        await page.waitForURL('**/calculator')
        const computes: string[] = []
        let held = gate()
        await page.route('**/api/v1/math/**', async (route) => {
          computes.push(route.request().url())
          await held.opened
          await route.continue().catch(() => undefined)
        })
        await page.getByLabel('n', { exact: true }).fill('77')
        await page.getByRole('button', { name: 'Compute' }).dblclick()
        expect(await page.getByRole('button', { name: 'Computing…' }).isDisabled()).toBe(true)
        held.open()
        await expect.poll(() => page.getByTestId('digits').textContent()).toBe('16')
        expect(computes).toHaveLength(1)
        // Cancel: the request goes, the form says so, and no stale result is left.
        held = gate()
        await page.getByLabel('n', { exact: true }).fill('78')
        await page.getByRole('button', { name: 'Compute' }).click()
        await page.getByRole('button', { name: 'Cancel' }).click()
        await expect.poll(() => page.locator('.form-status').textContent()).toBe('Cancelled.')
        expect(await page.locator('.result').isHidden()).toBe(true)
        held.open()
        await page.unroute('**/api/v1/math/**')
      })

      it('sends the user to log in when the session ends, and back to where they were after', async ({
        expect,
      }) => {
        await goTo('Tasks')
        await page.waitForURL('**/tasks')
        // Another device logs this session out: its refresh token family is revoked.
        const session = (await stored(page))!
        await apiCall(h.t, {}, 'POST', '/auth/logout', { refresh_token: session.refreshToken })
        await page.waitForURL(
          (url) => url.pathname === '/login' && url.searchParams.get('next') === '/tasks',
          {
            timeout: 6_000,
          },
        )
        expect(await page.locator('.banner .notice.error').textContent()).toContain(
          'Your session has ended. Log in again to continue.',
        )
        await page.getByLabel('Username').fill(name)
        await page.getByLabel('Password').fill(password)
        await page.getByRole('button', { name: 'Log in' }).click()
        await page.waitForURL('**/tasks')
        expect(await page.locator('.whoami').textContent()).toBe(`${name} user`)
        // Chromium logged the refused refresh (401) and nothing else; a request that was in flight when the
        // session ended may have been refused too (under load the timing differs).
        takeRepeatedErrors(page, 401)
      })

      it('never follows a next= link off the app', async ({ expect }) => {
        if (size.name === 'phone') await page.getByRole('button', { name: 'Menu' }).click()
        await page.getByRole('button', { name: 'Log out' }).click()
        await page.waitForURL('**/login')
        await page.goto(`${h.base}/login?next=https://evil.example/`)
        await page.getByLabel('Username').fill(name)
        await page.getByLabel('Password').fill(password)
        await page.getByRole('button', { name: 'Log in' }).click()
        await page.waitForURL('**/calculator')
        expect(new URL(page.url()).origin).toBe(new URL(h.base).origin)
      })
    }),
  )

  it('keeps an admin out of nothing and a guest out of everything private', async () => {
    const guest = await h.newPage()
    for (const path of ['/calculator', '/history', '/tasks', '/files', '/admin']) {
      await guest.goto(`${h.base}${path}`)
      await guest.waitForURL((url) => url.pathname === '/login' && url.searchParams.get('next') === path)
    }
    await guest.getByLabel('Username').fill(ADMIN.username)
    await guest.getByLabel('Password').fill(ADMIN.password)
    await guest.getByRole('button', { name: 'Log in' }).click()
    await guest.waitForURL('**/admin')
    await guest.goto(`${h.base}/login`)
    await guest.waitForURL('**/calculator')
    await guest.context().close()
  })

  it('logged no unexpected console errors', () => {
    expect(h.consoleErrors).toEqual([])
  })
})
