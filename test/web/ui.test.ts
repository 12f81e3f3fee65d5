import { readFileSync } from 'node:fs'
import type { Page, Request } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN } from '../helpers.js'
import {
  apiCall,
  browserSuite,
  gate,
  type Harness,
  horizontalOverflow,
  inOrder,
  logIn,
  SIZES,
  startHarness,
  takeExpectedErrors,
  tokenOf,
} from './harness.js'
import { endOfDayIn } from './seed.js'

/*
 * Every behaviour of the UI, run at both sizes (desktop, and a 390×844 phone) against a real server.
 * Each size has its own users and data, so the two runs do not see each other.
 */
const F1000_HEAD =
  '43466557686937456435688527675040625802564660517371780402481729089536555417949051890403879840079255169295922593080322634775209689623239873322471161642996440906533187938298969649928516003704476137795166849228875'
/** A computed style of the first element `selector` finds. */
const computed = (page: Page, selector: string, property: string) =>
  page.evaluate(
    `getComputedStyle(document.querySelector(${JSON.stringify(selector)}))[${JSON.stringify(property)}]`,
  )
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

browserSuite('web UI in Chromium', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
  }, 120_000)
  afterAll(() => h?.close())

  describe.each(SIZES)('at $name size', { concurrent: true }, (size) =>
    inOrder(() => {
      const user = {
        username: `alice-${size.name}`,
        email: `alice-${size.name}@example.com`,
        password: 'alice-password-1',
      }
      let page: Page
      /** The Idempotency-Key of every POST the page sends, by path. */
      const posts: { path: string; key: string | null }[] = []
      const fieldError = (target: Page, name: string) =>
        target.locator(`.field:has([name="${name}"]) .field-error`)
      const goTo = async (target: Page, title: string) => {
        if (size.name === 'phone') await target.getByRole('button', { name: 'Menu' }).click()
        await target.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: title }).click()
        await target.waitForURL(`**/${title.toLowerCase()}`)
      }

      beforeAll(async () => {
        page = await h.newPage(size)
        page.on('request', (request: Request) => {
          if (request.method() === 'POST') {
            posts.push({
              path: new URL(request.url()).pathname,
              key: request.headers()['idempotency-key'] ?? null,
            })
          }
        })
      })
      afterAll(() => page.context().close())

      it('checks sign-up fields before sending, in words for people', async ({ expect }) => {
        await page.goto(`${h.base}/signup`)
        await page.getByLabel('Username').fill('x!')
        await page.getByLabel('Email').fill('not-an-email')
        await page.getByLabel('Password').fill('short')
        const sent = posts.length
        await page.getByRole('button', { name: 'Create account' }).click()
        expect(await fieldError(page, 'username').textContent()).toBe(
          'Use 3–32 letters, digits, dots, dashes or underscores.',
        )
        expect(await fieldError(page, 'email').textContent()).toBe(
          'Enter an email address, like name@example.com.',
        )
        expect(await fieldError(page, 'password').textContent()).toBe('Use at least 8 characters.')
        expect(await page.getByLabel('Username').getAttribute('aria-invalid')).toBe('true')
        // The first field to fix has the focus.
        expect(await page.evaluate('document.activeElement.name')).toBe('username')
        expect(posts.length).toBe(sent)
      })

      it('turns the server’s validator text into the same human words', async ({ expect }) => {
        // The page thinks the password is fine; on the way, it is cut to 5 characters, so the real
        // server answers with its own validator text ("must NOT have fewer than 8 characters").
        await page.route('**/api/v1/auth/register', (route) =>
          route.continue({ postData: JSON.stringify({ ...user, password: 'short' }) }),
        )
        await page.getByLabel('Username').fill(user.username)
        await page.getByLabel('Email').fill(user.email)
        await page.getByLabel('Password').fill(user.password)
        await page.getByRole('button', { name: 'Create account' }).click()
        await expect.poll(() => fieldError(page, 'password').textContent()).toBe('Use at least 8 characters.')
        expect(await page.locator('form').textContent()).not.toContain('must NOT')
        await page.unroute('**/api/v1/auth/register')
        takeExpectedErrors(page, 400)
      })

      it('signs up with an Idempotency-Key and shows who is logged in', async ({ expect }) => {
        await page.getByRole('button', { name: 'Create account' }).click()
        await page.waitForURL('**/calculator')
        await expect.poll(() => page.locator('.whoami').textContent()).toBe(`${user.username} user`)
        const register = posts.filter((post) => post.path === '/api/v1/auth/register')
        expect(register.at(-1)?.key).toMatch(UUID)
      })

      it('places a conflict at the field it is about', async ({ expect }) => {
        const other = await h.newPage(size)
        await other.goto(`${h.base}/signup`)
        await other.getByLabel('Username').fill(user.username.toUpperCase())
        await other.getByLabel('Email').fill(`other-${user.email}`)
        await other.getByLabel('Password').fill(user.password)
        await other.getByRole('button', { name: 'Create account' }).click()
        await expect
          .poll(() => fieldError(other, 'username').textContent())
          .toBe('Username is already taken.')
        takeExpectedErrors(other, 409)
        await other.goto(`${h.base}/login`)
        await other.getByLabel('Username').fill(user.username)
        await other.getByLabel('Password').fill('wrong-password')
        await other.getByRole('button', { name: 'Log in' }).click()
        await expect
          .poll(() => other.locator('.form-status').textContent())
          .toBe('Incorrect username or password.')
        takeExpectedErrors(other, 401)
        await other.context().close()
      })

      it('computes F(1000) and shows its digits', async ({ expect }) => {
        await page.getByLabel('Operation').selectOption('fibonacci')
        await page.getByLabel('n', { exact: true }).fill('1000')
        await page.getByRole('button', { name: 'Compute' }).click()
        await expect.poll(() => page.getByTestId('digits').textContent()).toBe('209')
        expect(await page.locator('.result-value').textContent()).toBe(F1000_HEAD)
        expect(await page.locator('.result h2').textContent()).toBe('F(1000)')
        expect(posts.at(-1)).toEqual({ path: '/api/v1/math/fibonacci', key: expect.stringMatching(UUID) })
      })

      it('never computes F(0) for an empty n, and takes the old result away beside a new error', async ({
        expect,
      }) => {
        const sent = posts.length
        await page.getByLabel('n', { exact: true }).fill('')
        await page.getByRole('button', { name: 'Compute' }).click()
        expect(await fieldError(page, 'n').textContent()).toBe('n is required.')
        expect(await page.locator('.result').isHidden()).toBe(true)
        await page.getByLabel('n', { exact: true }).fill('12.5')
        await page.getByRole('button', { name: 'Compute' }).click()
        expect(await fieldError(page, 'n').textContent()).toBe('Enter a whole number, 0 or more.')
        expect(posts.length).toBe(sent)
      })

      it('shows the server’s limit beside n, in words, with no result left from before', async ({
        expect,
      }) => {
        await page.getByLabel('n', { exact: true }).fill('10')
        await page.getByRole('button', { name: 'Compute' }).click()
        await expect.poll(() => page.getByTestId('digits').textContent()).toBe('2')
        await page.getByLabel('n', { exact: true }).fill('20000000')
        await page.getByRole('button', { name: 'Compute' }).click()
        await expect.poll(() => fieldError(page, 'n').textContent()).toBe('Enter at most 10,000,000.')
        expect(await page.getByLabel('n', { exact: true }).getAttribute('aria-invalid')).toBe('true')
        expect(await page.locator('.result').isHidden()).toBe(true)
        takeExpectedErrors(page, 422)
      })

      it('explains a modulus the server refuses, without its validator text', async ({ expect }) => {
        await page.getByLabel('Operation').selectOption('power')
        await page.getByLabel('Base').fill('2.5')
        await page.getByLabel('Exponent').fill('3')
        await page.getByLabel('Modulus (optional)').fill('7')
        await page.getByRole('button', { name: 'Compute' }).click()
        await expect
          .poll(() => fieldError(page, 'modulus').textContent())
          .toBe(
            'A modulus needs a whole number of 1 or more, with a whole-number base and an exponent of 0 or more.',
          )
        takeExpectedErrors(page, 400)
        await page.getByLabel('Modulus (optional)').fill('')
      })

      it('shows a huge result by its ends, expands it in steps and downloads it whole', async ({
        expect,
      }) => {
        await page.getByLabel('Base').fill('2')
        await page.getByLabel('Exponent').fill('200000')
        await page.getByRole('button', { name: 'Compute' }).click()
        await expect.poll(() => page.getByTestId('digits').textContent()).toBe('60,206')
        expect(await page.locator('.result-value .gap').textContent()).toContain('60,006 more digits')
        await page.getByRole('button', { name: 'Show more digits' }).click()
        expect(await page.locator('.result-value .gap').textContent()).toContain('10,006 more digits')
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.getByRole('button', { name: 'Download .txt' }).click(),
        ])
        const saved = readFileSync(await download.path(), 'utf8')
        expect(saved).toHaveLength(60_206)
        expect(saved.endsWith('09376')).toBe(true)
        expect(await horizontalOverflow(page)).toEqual([])
      })

      it('lists calls in the history, each result on one line, and runs one again', async ({ expect }) => {
        await goTo(page, 'History')
        const rows = page.locator('table.data tbody tr')
        // F(1000), F(10), F(20,000,000) refused with 422 (recorded too), 2^200000.
        await expect.poll(() => rows.count()).toBe(4)
        expect(await rows.first().textContent()).toContain('power')
        // 60,206 digits: shown by its ends on one line, never wrapped every few digits.
        const preview = rows.first().locator('code.preview')
        const box = await preview.boundingBox()
        const lineHeight = Number(
          await page.evaluate(
            'Number.parseFloat(getComputedStyle(document.querySelector("table.data tbody tr code.preview")).lineHeight) || 20',
          ),
        )
        expect(box!.height).toBeLessThan(lineHeight * 1.5)
        expect(await preview.getAttribute('title')).toMatch(/^\d{24}…\d{24}$/)
        await expect
          .poll(() =>
            page.getByRole('img', { name: /Compute time by input size/ }).getAttribute('aria-label'),
          )
          .toMatch(/3 calls plotted/)
        await page.getByLabel('Operation').selectOption('fibonacci')
        await expect.poll(() => rows.count()).toBe(3)
        expect(await rows.filter({ hasText: 'refused (422)' }).count()).toBe(1)
        await page.getByRole('link', { name: 'Run again: fibonacci n=1000' }).click()
        await page.waitForURL(
          (url) => url.pathname === '/calculator' && url.search === '?operation=fibonacci&n=1000',
        )
        expect(await page.getByLabel('n', { exact: true }).inputValue()).toBe('1000')
        expect(await horizontalOverflow(page)).toEqual([])
      })

      it('creates a task with a date-only due date and shows that date', async ({ expect }) => {
        await goTo(page, 'Tasks')
        const create = page.getByRole('form', { name: 'New task' })
        if (size.name === 'phone') await page.getByText('New task', { exact: true }).click()
        await create.getByLabel('Title').fill('Write the release notes')
        await create.getByLabel('Due date (optional)').fill('2030-01-31')
        await create.getByRole('button', { name: 'Add task' }).click()
        const task = page.locator('.task', { hasText: 'Write the release notes' })
        await expect.poll(() => task.count()).toBe(1)
        expect(await task.locator('.due').textContent()).toBe('Due Thu, Jan 31, 2030')
        expect(await page.locator('.notice.success').textContent()).toContain(
          'Added “Write the release notes”.',
        )
        expect(posts.at(-1)).toEqual({ path: '/api/v1/tasks', key: expect.stringMatching(UUID) })
        // The picked date is the user's end of that day, whatever their time zone.
        const stored = await apiCall(h.t, await tokenOf(h.t, user.username, user.password), 'GET', '/tasks')
        const due = new Date(stored.items[0].dueDate)
        expect([due.getFullYear(), due.getMonth(), due.getDate(), due.getHours(), due.getMinutes()]).toEqual([
          2030, 0, 31, 23, 59,
        ])
      })

      it('edits every field of a task, keeping a picked time', async ({ expect }) => {
        await page.getByRole('button', { name: 'Edit Write the release notes' }).click()
        const dialog = page.getByRole('dialog')
        await dialog.getByLabel('Title').fill('Publish the release notes')
        await dialog.getByLabel('Description (optional)').fill('With the upgrade guide.')
        await dialog.getByLabel('Priority').selectOption('high')
        await dialog.getByLabel('Status').selectOption('in_progress')
        // A date typed half-way reads as empty; it is refused rather than taken as "no due date".
        await dialog.getByLabel('Due date (optional)').focus()
        await page.keyboard.type('02')
        await dialog.getByRole('button', { name: 'Save changes' }).click()
        expect(await dialog.locator('.field:has([name="dueDate"]) .field-error').textContent()).toBe(
          'Enter a whole date, or clear it.',
        )
        expect(await dialog.isVisible()).toBe(true)
        await dialog.getByLabel('Due date (optional)').fill('2030-02-14')
        await dialog.getByLabel('Time (optional)').fill('09:30')
        await dialog.getByRole('button', { name: 'Save changes' }).click()
        await expect.poll(() => dialog.isHidden()).toBe(true)
        const task = page.locator('.task', { hasText: 'Publish the release notes' })
        await expect.poll(() => task.locator('.due').textContent()).toBe('Due Feb 14, 2030, 9:30 AM')
        expect(await task.textContent()).toContain('With the upgrade guide.')
        expect(await task.textContent()).toContain('High priority')
        expect(await task.getByLabel('Status of Publish the release notes').inputValue()).toBe('in_progress')
        // Focus returns to the task's controls, not to the top of the page.
        expect(await page.evaluate('document.activeElement.closest(".task") !== null')).toBe(true)
        // Clearing the date clears the due date.
        await task.getByRole('button', { name: 'Edit Publish the release notes' }).click()
        await dialog.getByLabel('Due date (optional)').fill('')
        await dialog.getByLabel('Time (optional)').fill('')
        await dialog.getByRole('button', { name: 'Save changes' }).click()
        await expect.poll(() => task.locator('.due').count()).toBe(0)
      })

      it('marks overdue and completed tasks, and sorts by priority and due date', async ({ expect }) => {
        const token = await tokenOf(h.t, user.username, user.password)
        await apiCall(h.t, token, 'POST', '/tasks', {
          title: 'Pay the invoice',
          priority: 'low',
          dueDate: endOfDayIn(-3),
        })
        const done = await apiCall(h.t, token, 'POST', '/tasks', {
          title: 'Order coffee',
          priority: 'medium',
        })
        await apiCall(h.t, token, 'PATCH', `/tasks/${done.id}`, { status: 'completed' })
        await page.getByLabel('Search').fill('e') // any change reloads; every title here has an e
        const overdue = page.locator('.task', { hasText: 'Pay the invoice' })
        await expect.poll(() => overdue.count()).toBe(1)
        expect(await overdue.getAttribute('class')).toContain('is-overdue')
        expect(await overdue.locator('.badge', { hasText: 'Overdue' }).count()).toBe(1)
        const completed = page.locator('.task', { hasText: 'Order coffee' })
        expect(await completed.getAttribute('class')).toContain('done')
        expect(await computed(page, '.task.done .task-title', 'textDecorationLine')).toBe('line-through')
        expect(await page.locator('.stats div', { hasText: 'Overdue' }).locator('dd').textContent()).toBe('1')
        if (size.name === 'phone') await page.getByText('Filter and sort').click()
        const titles = () => page.locator('.task-title').allTextContents()
        await page.getByLabel('Sort').selectOption('priority:desc')
        await expect.poll(titles).toEqual(['Publish the release notes', 'Order coffee', 'Pay the invoice'])
        await page.getByLabel('Sort').selectOption('priority:asc')
        await expect.poll(titles).toEqual(['Pay the invoice', 'Order coffee', 'Publish the release notes'])
        await page.getByLabel('Sort').selectOption('dueDate:asc')
        await expect.poll(async () => (await titles())[0]).toBe('Pay the invoice')
        await page.getByLabel('Sort').selectOption('createdAt:desc')
        await page.getByLabel('Search').fill('')
        expect(await horizontalOverflow(page)).toEqual([])
      })

      it('puts a status dropdown back when the change fails, and says why', async ({ expect }) => {
        const select = page.getByLabel('Status of Pay the invoice')
        await expect.poll(() => select.inputValue()).toBe('pending')
        await page.route('**/api/v1/tasks/*', (route) =>
          route.request().method() === 'PATCH'
            ? route.fulfill({
                status: 503,
                contentType: 'application/problem+json',
                headers: { 'retry-after': '5' },
                body: JSON.stringify({ title: 'Service Unavailable', status: 503, detail: 'database down' }),
              })
            : route.continue(),
        )
        await select.selectOption('completed')
        await expect
          .poll(() => page.locator('.notice.error').textContent())
          .toContain('Could not change “Pay the invoice”')
        expect(await page.locator('.notice.error').textContent()).toContain('Try again in 5 seconds.')
        expect(await select.inputValue()).toBe('pending')
        await page.unroute('**/api/v1/tasks/*')
        takeExpectedErrors(page, 503)
        await select.selectOption('completed')
        await expect.poll(() => page.locator('.notice.success').textContent()).toContain('is now completed')
        await expect
          .poll(() => page.locator('.stats div', { hasText: 'Overdue' }).locator('dd').textContent())
          .toBe('0')
      })

      it('keeps one key while a create’s outcome is unknown, so a retry never adds it twice', async ({
        expect,
      }) => {
        if (size.name === 'phone' && !(await page.getByRole('form', { name: 'New task' }).isVisible())) {
          await page.getByText('New task', { exact: true }).click()
        }
        const create = page.getByRole('form', { name: 'New task' })
        let dropped = 0
        await page.route('**/api/v1/tasks', (route) => {
          if (route.request().method() === 'POST' && dropped++ === 0) return route.abort('failed')
          return route.continue()
        })
        await create.getByLabel('Title').fill('Call the bank')
        await create.getByRole('button', { name: 'Add task' }).click()
        await expect
          .poll(() => create.locator('.form-status').textContent())
          .toBe('Cannot reach the server. Check your connection and try again.')
        await create.getByRole('button', { name: 'Add task' }).click()
        await expect.poll(() => page.locator('.task', { hasText: 'Call the bank' }).count()).toBe(1)
        await page.unroute('**/api/v1/tasks')
        const keys = posts.filter((post) => post.path === '/api/v1/tasks').slice(-2)
        expect(keys[0]!.key).toBe(keys[1]!.key)
        // The failed attempt's message went with the success.
        expect(await create.locator('.form-status').textContent()).toBe('')
        await create.getByLabel('Title').fill('Call the insurer')
        await create.getByRole('button', { name: 'Add task' }).click()
        await expect.poll(() => page.locator('.task', { hasText: 'Call the insurer' }).count()).toBe(1)
        expect(posts.filter((post) => post.path === '/api/v1/tasks').at(-1)!.key).not.toBe(keys[1]!.key)
        // The dropped request is the one line Chromium logged (net::ERR_FAILED).
        takeExpectedErrors(page, 'net::ERR_FAILED')
      })

      it('adds one task for a double click on a slow network', async ({ expect }) => {
        const create = page.getByRole('form', { name: 'New task' })
        const held = gate()
        let sent = 0
        await page.route('**/api/v1/tasks', async (route) => {
          if (route.request().method() === 'POST') {
            sent++
            await held.opened
          }
          await route.continue()
        })
        await create.getByLabel('Title').fill('Water the plants')
        await create.getByRole('button', { name: 'Add task' }).dblclick()
        await create.getByLabel('Title').press('Enter')
        expect(await create.getByRole('button', { name: 'Adding…' }).isDisabled()).toBe(true)
        held.open()
        await expect.poll(() => page.locator('.task', { hasText: 'Water the plants' }).count()).toBe(1)
        await page.unroute('**/api/v1/tasks')
        expect(sent).toBe(1)
        const token = await tokenOf(h.t, user.username, user.password)
        const found = await apiCall(h.t, token, 'GET', '/tasks?search=Water%20the%20plants')
        expect(found.total).toBe(1)
      })

      it('deletes a task only on the second press', async ({ expect }) => {
        const remove = page.getByRole('button', { name: 'Delete Water the plants' })
        await remove.click()
        const confirm = page.getByRole('button', { name: 'Confirm: Delete Water the plants' })
        expect(await confirm.textContent()).toBe('Confirm?')
        await confirm.click()
        await expect.poll(() => page.locator('.task', { hasText: 'Water the plants' }).count()).toBe(0)
        expect(await page.locator('.notice.success').textContent()).toContain('Deleted “Water the plants”.')
      })

      it('uploads a file with progress and a key, downloads it and deletes it', async ({ expect }) => {
        await goTo(page, 'Files')
        const text = 'hello from the browser test\n'
        const filename = `hello-${size.name}-with-a-rather-long-name-that-does-not-fit-on-a-phone-line.txt`
        await page.getByLabel('File', { exact: true }).setInputFiles({
          name: filename,
          mimeType: 'text/plain',
          buffer: Buffer.from(text),
        })
        await page.getByRole('button', { name: 'Upload' }).click()
        const row = page.locator('table.data tbody tr', { hasText: filename })
        await expect.poll(() => row.count()).toBe(1)
        expect(posts.at(-1)).toEqual({ path: '/api/v1/files', key: expect.stringMatching(UUID) })
        expect(await horizontalOverflow(page)).toEqual([])
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.getByRole('button', { name: `Download ${filename}` }).click(),
        ])
        expect(download.suggestedFilename()).toBe(filename)
        expect(readFileSync(await download.path(), 'utf8')).toBe(text)
        await page.getByRole('button', { name: `Delete ${filename}` }).click()
        await page.getByRole('button', { name: `Confirm: Delete ${filename}` }).click()
        await expect.poll(() => row.count()).toBe(0)
      })

      it('treats a file deleted elsewhere as gone, not as a failure', async ({ expect }) => {
        const name = `gone-${size.name}.txt`
        await page.getByLabel('File', { exact: true }).setInputFiles({
          name,
          mimeType: 'text/plain',
          buffer: Buffer.from('soon gone\n'),
        })
        await page.getByRole('button', { name: 'Upload' }).click()
        const row = page.locator('table.data tbody tr', { hasText: name })
        await expect.poll(() => row.count()).toBe(1)
        const token = await tokenOf(h.t, user.username, user.password)
        const files = await apiCall(h.t, token, 'GET', '/files')
        const stored = files.items.find((file: { filename: string }) => file.filename === name)
        await apiCall(h.t, token, 'DELETE', `/files/${stored.id}`) // another tab, say
        await page.getByRole('button', { name: `Delete ${name}` }).click()
        await page.getByRole('button', { name: `Confirm: Delete ${name}` }).click()
        await expect
          .poll(() => page.locator('main .notice.success').textContent())
          .toContain(`${name} was already deleted.`)
        await expect.poll(() => row.count()).toBe(0)
        takeExpectedErrors(page, 404)
      })

      it('says so when an upload is refused, beside the file field', async ({ expect }) => {
        await page.getByRole('button', { name: 'Upload' }).click()
        expect(await fieldError(page, 'file').textContent()).toBe('Choose a file first.')
        await page.getByLabel('File', { exact: true }).setInputFiles({
          name: 'page.html',
          mimeType: 'text/html',
          buffer: Buffer.from('<!doctype html><html><script>alert(1)</script></html>'),
        })
        expect(await fieldError(page, 'file').textContent()).toBe('')
        await page.getByRole('button', { name: 'Upload' }).click()
        await expect.poll(() => fieldError(page, 'file').textContent()).toMatch(/not accepted\.$/)
        takeExpectedErrors(page, 415)
      })
    }),
  )

  describe.each(SIZES)('products and admin at $name size', { concurrent: true }, (size) =>
    inOrder(() => {
      let admin: Page
      beforeAll(async () => {
        admin = await h.newPage(size)
        await logIn(admin, h.base, ADMIN.username, ADMIN.password)
      })
      afterAll(() => admin.context().close())
      const editor = () => admin.getByRole('dialog')
      const suffix = size.name === 'phone' ? 'P' : 'D'

      async function create(name: string, sku: string, price: string, stock: string, description = '') {
        await admin.getByRole('button', { name: 'New product' }).click()
        await editor().getByLabel('Name').fill(name)
        await editor().getByLabel('SKU').fill(sku)
        await editor().getByLabel('Category').fill(`tools-${suffix}`)
        await editor().getByLabel('Price (USD)').fill(price)
        await editor().getByLabel('Stock').fill(stock)
        await editor().getByLabel('Description (optional)').fill(description)
        await editor().getByRole('button', { name: 'Create product' }).click()
      }

      it('lets an admin add products, marks stock, and lines up each card’s buttons', async ({ expect }) => {
        await admin.goto(`${h.base}/products`)
        await create(`Slide rule ${suffix}`, `SR-${suffix}`, '12.50', '14')
        await expect
          .poll(() => admin.locator('.product', { hasText: `Slide rule ${suffix}` }).count())
          .toBe(1)
        await create(
          `Abacus ${suffix}`,
          `AB-${suffix}`,
          '30',
          '3',
          'Beech frame, thirteen rods, and a description long enough to make this card taller than the others.',
        )
        await create(`Compass ${suffix}`, `CO-${suffix}`, '4', '0')
        const card = (name: string) => admin.locator('.product', { hasText: name })
        await expect.poll(() => card(`Compass ${suffix}`).count()).toBe(1)
        expect(await card(`Compass ${suffix}`).locator('.badge').textContent()).toBe('Out of stock')
        expect(await card(`Abacus ${suffix}`).locator('.badge').textContent()).toBe('Only 3 left')
        expect(await card(`Slide rule ${suffix}`).locator('.badge').textContent()).toBe('14 in stock')
        // Edit and Delete sit at each card's foot: the same distance from its bottom edge, whatever its text.
        const gaps = await admin.locator('.product').evaluateAll((cards) =>
          cards.map((c) => {
            const edit = c.querySelector('button')!.getBoundingClientRect()
            const remove = c.querySelectorAll('button')[1]!.getBoundingClientRect()
            return [
              Math.round(c.getBoundingClientRect().bottom - edit.bottom),
              Math.round(edit.top - remove.top),
            ]
          }),
        )
        expect(new Set(gaps.map(([bottom]) => bottom)).size).toBe(1)
        expect(gaps.every(([, between]) => between === 0)).toBe(true)
        expect(await horizontalOverflow(admin)).toEqual([])
      })

      it('clears a failed create’s message before the next edit', async ({ expect }) => {
        await create(`Ruler ${suffix}`, `SR-${suffix}`, '2', '5')
        await expect
          .poll(() => editor().locator('.field:has([name="sku"]) .field-error').textContent())
          .toBe('A live product already has this SKU.')
        takeExpectedErrors(admin, 409)
        await editor().getByRole('button', { name: 'Cancel' }).click()
        await admin.getByRole('button', { name: `Edit Abacus ${suffix}` }).click()
        expect(await editor().locator('.field-error:not(:empty), .form-status:not(:empty)').count()).toBe(0)
        expect(await editor().getByLabel('SKU').getAttribute('aria-invalid')).toBeNull()
        expect(await editor().getByLabel('Name').inputValue()).toBe(`Abacus ${suffix}`)
        await editor().getByLabel('Price (USD)').fill('5.25')
        await editor().getByRole('button', { name: 'Save changes' }).click()
        await expect
          .poll(() =>
            admin
              .locator('.product', { hasText: `Abacus ${suffix}` })
              .locator('.price')
              .textContent(),
          )
          .toBe('$5.25')
        const remove = admin.getByRole('button', { name: `Delete Compass ${suffix}` })
        await remove.click()
        await admin.getByRole('button', { name: `Confirm: Delete Compass ${suffix}` }).click()
        await expect.poll(() => admin.locator('.product', { hasText: `Compass ${suffix}` }).count()).toBe(0)
      })

      it('shows visitors the catalogue, with filters folded away on a phone', async ({ expect }) => {
        const visitor = await h.newPage(size)
        await visitor.goto(`${h.base}/products`)
        await visitor.locator('.product').first().waitFor()
        const details = visitor.locator('details.more-filters')
        expect(await details.getAttribute('open')).toBe(size.name === 'desktop' ? '' : null)
        // The first screen shows products, not only filters.
        const first = await visitor.locator('.product').first().boundingBox()
        expect(first!.y).toBeLessThan(size.viewport.height / 2)
        expect(await visitor.getByRole('button', { name: 'New product' }).count()).toBe(0)
        if (size.name === 'phone') await visitor.getByText('Filter and sort').click()
        const names = () => visitor.locator('.product h2').allTextContents()
        await visitor.getByLabel('Category').fill(`tools-${suffix}`)
        await visitor.getByLabel('Sort').selectOption('price:desc')
        await expect.poll(names).toEqual([`Slide rule ${suffix}`, `Abacus ${suffix}`])
        await visitor.getByLabel('Max price').fill('10')
        await expect.poll(names).toEqual([`Abacus ${suffix}`])
        expect(await visitor.locator('.more-filters summary').textContent()).toBe(
          'Filter and sort (2 active)',
        )
        await visitor.getByLabel('Max price').fill('1.234')
        await expect
          .poll(() => visitor.locator('.field:has([name="maxPrice"]) .field-error').textContent())
          .toBe('Enter a price of 0 or more with at most 2 decimals, like 19.99.')
        await visitor.getByLabel('Max price').fill('')
        await visitor.getByLabel('Search by name').fill('slide')
        await expect.poll(names).toEqual([`Slide rule ${suffix}`])
        await visitor.context().close()
      })

      it('never shows the results of an older filter that answered late', async ({ expect }) => {
        const visitor = await h.newPage(size)
        await visitor.goto(`${h.base}/products`)
        await visitor.locator('.product').first().waitFor()
        // The first search is held until the second, typed later, has answered and been drawn.
        const held = gate()
        await visitor.route('**/api/v1/products?*', async (route) => {
          if (new URL(route.request().url()).searchParams.get('name') === 'abacus') await held.opened
          await route.continue().catch(() => undefined) // the page may have cancelled it meanwhile
        })
        const aborted: string[] = []
        visitor.on('requestfailed', (request) => aborted.push(request.url()))
        const slowSent = visitor.waitForRequest((request) => request.url().includes('name=abacus'))
        await visitor.getByLabel('Search by name').fill('abacus')
        await slowSent
        const fastAnswered = visitor.waitForResponse((response) => response.url().includes('name=slide'))
        await visitor.getByLabel('Search by name').fill('slide')
        await fastAnswered
        await expect.poll(() => aborted.some((url) => url.includes('name=abacus'))).toBe(true)
        held.open()
        await expect.poll(() => visitor.locator('[aria-busy="true"]').count()).toBe(0)
        const names = await visitor.locator('.product h2').allTextContents()
        expect(names.length).toBeGreaterThan(0)
        expect(names.filter((name) => !name.startsWith('Slide rule'))).toEqual([])
        await visitor.context().close()
      })

      it('changes a role with a success message that does not look like an error', async ({ expect }) => {
        const name = `bob-${size.name}`
        await apiCall(h.t, {}, 'POST', '/auth/register', {
          username: name,
          email: `${name}@example.com`,
          password: 'bob-password-1',
        })
        await admin.goto(`${h.base}/admin`)
        await admin.getByLabel(`Role of ${name}`).selectOption('admin')
        const success = admin.locator('.notice.success')
        await expect.poll(() => success.textContent()).toContain(`${name} is now admin.`)
        expect(await success.getAttribute('role')).toBe('status')
        const colours = (await admin.evaluate(`(() => {
        const root = getComputedStyle(document.documentElement)
        const probe = document.createElement('span')
        document.body.append(probe)
        const resolve = (name) => {
          probe.style.color = root.getPropertyValue(name)
          return getComputedStyle(probe).color
        }
        const result = {
          notice: getComputedStyle(document.querySelector('.notice.success')).color,
          success: resolve('--success'),
          danger: resolve('--danger'),
        }
        probe.remove()
        return result
      })()`)) as { notice: string; success: string; danger: string }
        expect(colours.notice).toBe(colours.success)
        expect(colours.notice).not.toBe(colours.danger)
      })

      it('puts a role back when the change is refused, and says why', async ({ expect }) => {
        const name = `bob-${size.name}`
        await admin.route('**/api/v1/users/*/role', (route) =>
          route.fulfill({
            status: 409,
            contentType: 'application/problem+json',
            body: JSON.stringify({
              title: 'Conflict',
              status: 409,
              detail: 'The last active admin cannot be demoted, deactivated or deleted',
            }),
          }),
        )
        await admin.getByLabel(`Role of ${name}`).selectOption('user')
        const error = admin.locator('.notice.error')
        await expect.poll(() => error.textContent()).toContain('The last active admin cannot be demoted')
        expect(await error.getAttribute('role')).toBe('alert')
        expect(await admin.getByLabel(`Role of ${name}`).inputValue()).toBe('admin')
        await admin.unroute('**/api/v1/users/*/role')
        takeExpectedErrors(admin, 409)
      })

      it('deactivates and then deletes a user', async ({ expect }) => {
        const name = `bob-${size.name}`
        await admin.getByLabel(`${name} is active`).uncheck()
        await expect
          .poll(() => admin.locator('.notice.success').textContent())
          .toContain(`${name} deactivated.`)
        const refused = await h.t.app.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: { username: name, password: 'bob-password-1' },
        })
        expect(refused.statusCode).toBe(401)
        await admin.getByRole('button', { name: `Delete user ${name}` }).click()
        await admin.getByRole('button', { name: `Confirm: Delete user ${name}` }).click()
        await expect.poll(() => admin.locator('.notice.success').textContent()).toContain(`Deleted ${name}.`)
        await expect.poll(() => admin.locator('tr', { hasText: name }).count()).toBe(0)
        expect(await horizontalOverflow(admin)).toEqual([])
      })
    }),
  )

  it('logged no unexpected console errors', () => {
    expect(h.consoleErrors).toEqual([])
  })
})
