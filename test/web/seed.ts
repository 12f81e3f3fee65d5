import type { TestApp } from '../helpers.js'
import { apiCall, tokenOf } from './harness.js'

/** Local end of a day `days` from today, as the UI stores a due date picked without a time. */
export function endOfDayIn(days: number) {
  const date = new Date()
  date.setDate(date.getDate() + days)
  date.setHours(23, 59, 59, 0)
  return date.toISOString()
}

/**
 * A believable account for screenshots and view checks: tasks in every state (one overdue, one done),
 * products in and out of stock, files, and math calls of each kind. Returns the user's credentials.
 */
export async function seedWorld(t: TestApp, username = 'maria') {
  const password = `${username}-password-1`
  await apiCall(t, {}, 'POST', '/auth/register', { username, email: `${username}@example.com`, password })
  const user = await tokenOf(t, username, password)
  const admin = await tokenOf(t)

  for (const [title, priority, status, due, description] of [
    ['Write the quarterly report', 'high', 'in_progress', endOfDayIn(3), 'Figures from the history export.'],
    ['Renew the TLS certificate', 'high', 'pending', endOfDayIn(-2), null],
    ['Review pull request #42', 'medium', 'pending', null, 'Check the cursor pagination edge cases.'],
    ['Book the team offsite', 'low', 'completed', endOfDayIn(-5), null],
  ] as const) {
    const task = await apiCall(t, user, 'POST', '/tasks', {
      title,
      priority,
      ...(description ? { description } : {}),
      ...(due ? { dueDate: due } : {}),
    })
    if (status !== 'pending') await apiCall(t, user, 'PATCH', `/tasks/${task.id}`, { status })
  }

  for (const [name, sku, category, price, stock, description] of [
    ['Slide rule', 'SR-1', 'tools', 12.5, 14, 'A classic 25 cm slide rule with a cursor.'],
    ['Abacus', 'AB-1', 'tools', 30, 3, 'Beech frame, 13 rods.'],
    ['Graph paper pad', 'GP-50', 'paper', 4.99, 0, 'Fifty sheets, 5 mm squares.'],
    ['Scientific calculator', 'SC-991', 'electronics', 19.99, 40, null],
  ] as const) {
    await apiCall(t, admin, 'POST', '/products', { name, sku, category, price, stock, description })
  }

  for (const [op, body] of [
    ['fibonacci', { n: 1000 }],
    ['factorial', { n: 500 }],
    ['power', { base: 2, exponent: 1000 }],
    ['fibonacci', { n: 100000 }],
    ['factorial', { n: 20 }],
    ['power', { base: 3, exponent: 200, modulus: 1000007 }],
    ['fibonacci', { n: 1000 }],
  ] as const) {
    await apiCall(t, user, 'POST', `/math/${op}`, body)
  }

  for (const [filename, content] of [
    ['meeting-notes.txt', 'Agenda: F(1000) has 209 digits.\n'],
    ['a-very-long-file-name-for-the-quarterly-report-draft-version-3-final.txt', 'draft\n'],
  ] as const) {
    const boundary = 'seedboundary'
    const payload =
      `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${filename}"\r\n` +
      `content-type: text/plain\r\n\r\n${content}\r\n--${boundary}--\r\n`
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/v1/files',
      headers: { ...user, 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload,
    })
    if (response.statusCode !== 201)
      throw new Error(`upload ${filename}: ${response.statusCode} ${response.body}`)
  }
  return { username, password }
}
