import { randomUUID } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import type { Task, TasksPage } from '../../src/modules/tasks/schemas.js'
import { describeEachBackend, expectProblem, type Session, signUp, useApp } from '../helpers.js'

const PAST = '2000-01-01T00:00:00.000Z'
const FUTURE = '2999-01-01T00:00:00.000Z'

describeEachBackend('tasks', (backend) => {
  const t = useApp(backend, { admin: true, users: ['alice', 'bob'] })

  const url = (id: string) => `/api/v1/tasks/${id}`

  async function create(session: Session, payload: Record<string, unknown>): Promise<Task> {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: session.headers,
      payload,
    })
    if (response.statusCode !== 201) throw new Error(`create: ${response.statusCode} ${response.body}`)
    return response.json()
  }

  async function list(session: Session, query = ''): Promise<TasksPage> {
    const response = await t.app.inject({ url: `/api/v1/tasks?${query}`, headers: session.headers })
    if (response.statusCode !== 200) throw new Error(`list: ${response.statusCode} ${response.body}`)
    return response.json()
  }

  const titles = (page: TasksPage) => page.items.map((task) => task.title)

  describe('create and read', () => {
    it('fills in the defaults and makes the caller the owner', async () => {
      const task = await create(t.users.alice, { title: 'Write report' })
      expect(task).toMatchObject({
        title: 'Write report',
        description: null,
        priority: 'medium',
        status: 'pending',
        dueDate: null,
        ownerId: t.users.alice.id,
      })
      expect(task.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
      expect(new Date(task.createdAt).toISOString()).toBe(task.createdAt)
      expect(task.updatedAt).toBe(task.createdAt)
      const read = await t.app.inject({ url: url(task.id), headers: t.users.alice.headers })
      expect(read.statusCode).toBe(200)
      expect(read.json()).toEqual(task)
    })

    it('stores every field and normalises the due date to UTC', async () => {
      const task = await create(t.users.alice, {
        title: 'Ship it',
        description: 'All of it',
        priority: 'high',
        status: 'in_progress',
        dueDate: '2030-01-02T03:04:05+02:00',
      })
      expect(task).toMatchObject({
        description: 'All of it',
        priority: 'high',
        status: 'in_progress',
        dueDate: '2030-01-02T01:04:05.000Z',
      })
      expect((await t.app.inject({ url: url(task.id), headers: t.users.alice.headers })).json()).toEqual(task)
    })

    it('accepts the longest title and description', async () => {
      const task = await create(t.users.alice, { title: 't'.repeat(200), description: 'd'.repeat(5000) })
      expect(task.title).toHaveLength(200)
      expect(task.description).toHaveLength(5000)
    })

    it('needs a token', async () => {
      expectProblem(await t.app.inject({ url: '/api/v1/tasks' }), 401)
      expectProblem(
        await t.app.inject({ method: 'POST', url: '/api/v1/tasks', payload: { title: 'x' } }),
        401,
      )
      expectProblem(await t.app.inject({ url: '/api/v1/tasks/statistics' }), 401)
    })

    it('answers 404 for an unknown id and 400 for a malformed one', async () => {
      expectProblem(await t.app.inject({ url: url(randomUUID()), headers: t.users.alice.headers }), 404)
      expectProblem(await t.app.inject({ url: url('not-a-uuid'), headers: t.users.alice.headers }), 400)
      expectProblem(await t.app.inject({ url: url("1' or '1'='1"), headers: t.users.alice.headers }), 400)
    })
  })

  describe('validation', () => {
    it.each([
      ['an empty title', { title: '' }],
      ['a 201-character title', { title: 'x'.repeat(201) }],
      ['a blank title', { title: '   ' }],
      ['no title', { priority: 'high' }],
      ['a title that is not a string', { title: 42 }],
      ['a 5001-character description', { title: 'ok', description: 'x'.repeat(5001) }],
      ['an unknown priority', { title: 'ok', priority: 'urgent' }],
      ['an unknown status', { title: 'ok', status: 'done' }],
      ['a due date that is not a date', { title: 'ok', dueDate: 'tomorrow' }],
      ['a due date without a time', { title: 'ok', dueDate: '2030-01-01' }],
      ['a due date without a time zone', { title: 'ok', dueDate: '2030-01-01T10:00:00' }],
      ['a due date that does not exist', { title: 'ok', dueDate: '2030-02-30T10:00:00Z' }],
      ['a leap-second due date', { title: 'ok', dueDate: '2016-12-31T23:59:60Z' }],
      ['a due date in year 0', { title: 'ok', dueDate: '0000-06-01T00:00:00Z' }],
      ['an unknown field', { title: 'ok', colour: 'red' }],
      ['an ownerId', { title: 'ok', ownerId: randomUUID() }],
    ])('rejects %s on create with 400', async (_name, payload) => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: t.users.alice.headers,
        payload,
      })
      expect(expectProblem(response, 400).errors?.length).toBeGreaterThan(0)
    })

    it('rejects bad PUT and PATCH bodies with 400 and changes nothing', async () => {
      const task = await create(t.users.alice, { title: 'Stable' })
      for (const [method, payload] of [
        ['PUT', { priority: 'high' }],
        ['PUT', { title: 'ok', status: 'archived' }],
        ['PATCH', {}],
        ['PATCH', { title: null }],
        ['PATCH', { title: '' }],
        ['PATCH', { status: 'done' }],
        ['PATCH', { priority: 'HIGH' }],
        ['PATCH', { dueDate: 'soon' }],
        ['PATCH', { id: randomUUID() }],
        ['PATCH', { createdAt: PAST }],
      ] as const) {
        const response = await t.app.inject({
          method,
          url: url(task.id),
          headers: t.users.alice.headers,
          payload,
        })
        expectProblem(response, 400)
      }
      expect((await t.app.inject({ url: url(task.id), headers: t.users.alice.headers })).json()).toEqual(task)
    })

    it.each([
      'sortBy=title',
      'sortBy=created_at',
      'sortOrder=up',
      'priority=urgent',
      'status=done',
      'page=0',
      'pageSize=0',
      'pageSize=101',
      'ownerId=not-a-uuid',
      `search=${'x'.repeat(201)}`,
      'colour=red',
    ])('rejects the list query %s with 400', async (query) => {
      expectProblem(
        await t.app.inject({ url: `/api/v1/tasks?${query}`, headers: t.users.alice.headers }),
        400,
      )
    })
  })

  describe('update', () => {
    it('PUT replaces every writable field, returning omitted ones to their defaults', async () => {
      const task = await create(t.users.alice, {
        title: 'Original',
        description: 'Details',
        priority: 'high',
        status: 'in_progress',
        dueDate: FUTURE,
      })
      const response = await t.app.inject({
        method: 'PUT',
        url: url(task.id),
        headers: t.users.alice.headers,
        payload: { title: 'Replaced', status: 'completed' },
      })
      expect(response.statusCode).toBe(200)
      const replaced: Task = response.json()
      expect(replaced).toMatchObject({
        id: task.id,
        title: 'Replaced',
        description: null,
        priority: 'medium',
        status: 'completed',
        dueDate: null,
        ownerId: t.users.alice.id,
        createdAt: task.createdAt,
      })
      expect(replaced.updatedAt >= task.updatedAt).toBe(true)
      expect((await t.app.inject({ url: url(task.id), headers: t.users.alice.headers })).json()).toEqual(
        replaced,
      )
    })

    it('PATCH changes only the fields given, and null clears the due date and description', async () => {
      const task = await create(t.users.alice, {
        title: 'Patchable',
        description: 'Keep me?',
        priority: 'low',
        dueDate: FUTURE,
      })
      const status = await t.app.inject({
        method: 'PATCH',
        url: url(task.id),
        headers: t.users.alice.headers,
        payload: { status: 'in_progress' },
      })
      expect(status.json()).toMatchObject({
        title: 'Patchable',
        description: 'Keep me?',
        priority: 'low',
        status: 'in_progress',
        dueDate: FUTURE,
        createdAt: task.createdAt,
      })
      const cleared = await t.app.inject({
        method: 'PATCH',
        url: url(task.id),
        headers: t.users.alice.headers,
        payload: { dueDate: null, description: null },
      })
      expect(cleared.json()).toMatchObject({ dueDate: null, description: null, status: 'in_progress' })
      const redated = await t.app.inject({
        method: 'PATCH',
        url: url(task.id),
        headers: t.users.alice.headers,
        payload: { dueDate: '2031-06-01T12:00:00-03:00' },
      })
      expect(redated.json().dueDate).toBe('2031-06-01T15:00:00.000Z')
    })

    it('answers 404 when the task is gone, and DELETE is 204 once', async () => {
      const task = await create(t.users.alice, { title: 'Short-lived' })
      const deleted = await t.app.inject({
        method: 'DELETE',
        url: url(task.id),
        headers: t.users.alice.headers,
      })
      expect(deleted.statusCode).toBe(204)
      expect(deleted.body).toBe('')
      expectProblem(await t.app.inject({ url: url(task.id), headers: t.users.alice.headers }), 404)
      expectProblem(
        await t.app.inject({ method: 'DELETE', url: url(task.id), headers: t.users.alice.headers }),
        404,
      )
      const patch = await t.app.inject({
        method: 'PATCH',
        url: url(task.id),
        headers: t.users.alice.headers,
        payload: { title: 'ghost' },
      })
      expectProblem(patch, 404)
    })
  })

  describe('ownership', () => {
    it('hides another user’s task behind the same 404 as a missing one, and leaves it untouched', async () => {
      const task = await create(t.users.alice, { title: 'Alice only', priority: 'high' })
      const missing = expectProblem(
        await t.app.inject({ url: url(randomUUID()), headers: t.users.bob.headers }),
        404,
      )
      const attempts = [
        { method: 'GET' as const },
        { method: 'PUT' as const, payload: { title: 'Taken over' } },
        { method: 'PATCH' as const, payload: { status: 'completed' } },
        { method: 'DELETE' as const },
      ]
      for (const attempt of attempts) {
        const response = await t.app.inject({ ...attempt, url: url(task.id), headers: t.users.bob.headers })
        expect(expectProblem(response, 404).detail).toBe(missing.detail)
      }
      expect((await t.app.inject({ url: url(task.id), headers: t.users.alice.headers })).json()).toEqual(task)
    })

    it('lets an admin read, change and delete anyone’s task without taking it over', async () => {
      const task = await create(t.users.alice, { title: 'Supervised' })
      expect((await t.app.inject({ url: url(task.id), headers: t.admin.headers })).json()).toEqual(task)
      const replaced = await t.app.inject({
        method: 'PUT',
        url: url(task.id),
        headers: t.admin.headers,
        payload: { title: 'Reworded by admin' },
      })
      expect(replaced.json()).toMatchObject({ title: 'Reworded by admin', ownerId: t.users.alice.id })
      const patched = await t.app.inject({
        method: 'PATCH',
        url: url(task.id),
        headers: t.admin.headers,
        payload: { priority: 'low' },
      })
      expect(patched.json()).toMatchObject({ priority: 'low', ownerId: t.users.alice.id })
      const deleted = await t.app.inject({ method: 'DELETE', url: url(task.id), headers: t.admin.headers })
      expect(deleted.statusCode).toBe(204)
      expectProblem(await t.app.inject({ url: url(task.id), headers: t.users.alice.headers }), 404)
    })

    it('lists only your own tasks; an admin sees everyone’s and may filter by owner', async () => {
      const carol = await signUp(t.app, 'carol')
      const dave = await signUp(t.app, 'dave')
      await create(carol, { title: 'Carol 1' })
      await create(carol, { title: 'Carol 2' })
      await create(dave, { title: 'Dave 1' })

      expect((await list(carol)).items.every((task) => task.ownerId === carol.id)).toBe(true)
      expect((await list(carol)).total).toBe(2)
      expect((await list(dave)).total).toBe(1)
      // Passing your own id is allowed; it is the same listing.
      expect((await list(carol, `ownerId=${carol.id}`)).total).toBe(2)

      const all = await list(t.admin, 'pageSize=100')
      const owners = new Set(all.items.map((task) => task.ownerId))
      expect(owners.has(carol.id) && owners.has(dave.id) && owners.has(t.users.alice.id)).toBe(true)
      const carols = await list(t.admin, `ownerId=${carol.id}`)
      expect(carols.total).toBe(2)
      expect(titles(carols).sort()).toEqual(['Carol 1', 'Carol 2'])
      expect((await list(t.admin, `ownerId=${randomUUID()}`)).total).toBe(0)
    })

    it('forbids a non-admin from asking for another owner’s tasks or statistics', async () => {
      expectProblem(
        await t.app.inject({
          url: `/api/v1/tasks?ownerId=${t.users.alice.id}`,
          headers: t.users.bob.headers,
        }),
        403,
      )
      expectProblem(
        await t.app.inject({
          url: `/api/v1/tasks/statistics?ownerId=${t.users.alice.id}`,
          headers: t.users.bob.headers,
        }),
        403,
      )
    })
  })

  describe('filters and search', () => {
    let finder: Session
    beforeAll(async () => {
      finder = await signUp(t.app, 'finder')
      await create(finder, { title: 'Buy milk', description: 'At the Store', priority: 'low' })
      await create(finder, { title: 'Fix 100% CPU', priority: 'high', status: 'in_progress' })
      await create(finder, { title: 'snake_case rename', status: 'completed' })
      await create(finder, { title: 'Plain task', description: 'about 100 percent of snakeXcase' })
      await create(finder, { title: 'C:\\temp\\new', priority: 'high' })
      await create(finder, { title: "Robert'); DROP TABLE tasks;--", priority: 'low', status: 'completed' })
    })

    const search = async (text: string, extra = '') =>
      titles(await list(finder, `search=${encodeURIComponent(text)}${extra}`)).sort()

    it('filters by priority and status, alone and together', async () => {
      expect(titles(await list(finder, 'priority=high')).sort()).toEqual(['C:\\temp\\new', 'Fix 100% CPU'])
      expect(titles(await list(finder, 'status=completed')).sort()).toEqual([
        "Robert'); DROP TABLE tasks;--",
        'snake_case rename',
      ])
      expect(titles(await list(finder, 'priority=low&status=completed'))).toEqual([
        "Robert'); DROP TABLE tasks;--",
      ])
      expect((await list(finder, 'priority=medium&status=in_progress')).total).toBe(0)
    })

    it('searches title and description regardless of case', async () => {
      expect(await search('MILK')).toEqual(['Buy milk'])
      expect(await search('store')).toEqual(['Buy milk'])
      expect(await search('100')).toEqual(['Fix 100% CPU', 'Plain task'])
      expect(await search('ta', '&status=completed')).toEqual(["Robert'); DROP TABLE tasks;--"])
    })

    it('treats %, _ and \\ as literal characters, not wildcards', async () => {
      expect(await search('100%')).toEqual(['Fix 100% CPU'])
      expect(await search('%')).toEqual(['Fix 100% CPU'])
      expect(await search('e_c')).toEqual(['snake_case rename'])
      expect(await search('_')).toEqual(['snake_case rename'])
      expect(await search('\\temp')).toEqual(['C:\\temp\\new'])
      expect(await search('\\')).toEqual(['C:\\temp\\new'])
      expect(await search('%%')).toEqual([])
    })

    it('treats SQL in the search text as plain data', async () => {
      expect(await search("'); DROP TABLE tasks;--")).toEqual(["Robert'); DROP TABLE tasks;--"])
      expect(await search("' or '1'='1")).toEqual([])
      expect(await search('" or 1=1 --')).toEqual([])
      // The table survived.
      expect((await list(finder)).total).toBe(6)
    })

    it('counts only the matching tasks in total', async () => {
      const page = await list(finder, 'search=a&pageSize=1')
      expect(page.items).toHaveLength(1)
      expect(page.total).toBe((await search('a')).length)
      expect((await list(finder, 'search=')).total).toBe(6)
    })
  })

  describe('sorting', () => {
    let sorter: Session
    beforeAll(async () => {
      sorter = await signUp(t.app, 'sorter')
      await create(sorter, { title: 'A', priority: 'low', dueDate: '2030-01-03T00:00:00Z' })
      await create(sorter, { title: 'B', priority: 'high' })
      await create(sorter, { title: 'C', priority: 'medium', dueDate: '2030-01-01T00:00:00Z' })
      await create(sorter, { title: 'D', priority: 'high', dueDate: '2030-01-02T00:00:00Z' })
      await create(sorter, { title: 'E', priority: 'low' })
    })

    it.each([
      ['', 'EDCBA'],
      ['sortBy=createdAt&sortOrder=desc', 'EDCBA'],
      ['sortOrder=asc', 'ABCDE'],
      // low < medium < high, not alphabetical; equal priorities fall back to creation order via the id.
      ['sortBy=priority&sortOrder=asc', 'AECBD'],
      ['sortBy=priority&sortOrder=desc', 'DBCEA'],
      // Tasks without a due date come last in both directions.
      ['sortBy=dueDate&sortOrder=asc', 'CDABE'],
      ['sortBy=dueDate&sortOrder=desc', 'ADCEB'],
    ])('orders by "%s" as %s', async (query, expected) => {
      expect(titles(await list(sorter, query)).join('')).toBe(expected)
    })

    it('keeps the order stable across pages', async () => {
      const pages = await Promise.all(
        [1, 2, 3].map((page) => list(sorter, `sortBy=priority&sortOrder=asc&pageSize=2&page=${page}`)),
      )
      expect(pages.flatMap(titles).join('')).toBe('AECBD')
    })
  })

  describe('pagination', () => {
    it('returns items, total, page and pageSize', async () => {
      const pager = await signUp(t.app, 'pager')
      for (let i = 1; i <= 5; i++) await create(pager, { title: `Task ${i}` })
      const pages = [await list(pager, 'pageSize=2'), await list(pager, 'pageSize=2&page=2')]
      pages.push(await list(pager, 'pageSize=2&page=3'))
      expect(pages.map((page) => page.items.length)).toEqual([2, 2, 1])
      expect(pages.map((page) => page.total)).toEqual([5, 5, 5])
      expect(pages[1]).toMatchObject({ page: 2, pageSize: 2 })
      expect(new Set(pages.flatMap((page) => page.items.map((task) => task.id))).size).toBe(5)
      const beyond = await list(pager, 'pageSize=2&page=4')
      expect(beyond).toEqual({ items: [], total: 5, page: 4, pageSize: 2 })
      expect(await list(pager)).toMatchObject({ page: 1, pageSize: 20, total: 5 })
    })
  })

  describe('statistics', () => {
    let counter: Session
    let pastDue: Task
    beforeAll(async () => {
      counter = await signUp(t.app, 'counter')
      pastDue = await create(counter, { title: 'late, pending', priority: 'low', dueDate: PAST })
      await create(counter, { title: 'late, started', status: 'in_progress', dueDate: PAST })
      await create(counter, { title: 'late, but done', priority: 'high', status: 'completed', dueDate: PAST })
      await create(counter, { title: 'not yet due', priority: 'high', dueDate: FUTURE })
      await create(counter, { title: 'no due date' })
      await create(counter, { title: 'done, no due date', priority: 'low', status: 'completed' })
      await create(counter, { title: 'also late, but done', status: 'completed', dueDate: PAST })
    })

    const statistics = async (session: Session, query = '') => {
      const response = await t.app.inject({
        url: `/api/v1/tasks/statistics${query}`,
        headers: session.headers,
      })
      expect(response.statusCode).toBe(200)
      return response.json()
    }

    it('counts by status and priority, and overdue only when past due and not completed', async () => {
      // toStrictEqual: every count must be a number, not the string some drivers return for sums.
      expect(await statistics(counter)).toStrictEqual({
        total: 7,
        byStatus: { pending: 3, in_progress: 1, completed: 3 },
        byPriority: { low: 2, medium: 3, high: 2 },
        overdue: 2,
      })
    })

    it('is all zeros for a user without tasks', async () => {
      const idle = await signUp(t.app, 'idle')
      expect(await statistics(idle)).toStrictEqual({
        total: 0,
        byStatus: { pending: 0, in_progress: 0, completed: 0 },
        byPriority: { low: 0, medium: 0, high: 0 },
        overdue: 0,
      })
    })

    it('follows changes: completing an overdue task stops it counting', async () => {
      const response = await t.app.inject({
        method: 'PATCH',
        url: url(pastDue.id),
        headers: counter.headers,
        payload: { status: 'completed' },
      })
      expect(response.statusCode).toBe(200)
      const after = await statistics(counter)
      expect(after.overdue).toBe(1)
      expect(after.byStatus).toEqual({ pending: 2, in_progress: 1, completed: 4 })
    })

    it('lets an admin count one owner’s tasks or everyone’s', async () => {
      expect(await statistics(t.admin, `?ownerId=${counter.id}`)).toStrictEqual(await statistics(counter))
      const everyone = await statistics(t.admin)
      expect(everyone.total).toBe((await list(t.admin)).total)
      expect(everyone.total).toBeGreaterThan(7)
      expect(everyone.byStatus.pending + everyone.byStatus.in_progress + everyone.byStatus.completed).toBe(
        everyone.total,
      )
      expect((await statistics(t.admin, `?ownerId=${randomUUID()}`)).total).toBe(0)
    })
  })

  describe('user deletion', () => {
    it('deletes the user’s tasks with them', async () => {
      const leaver = await signUp(t.app, 'leaver')
      const tasks = [await create(leaver, { title: 'Mine' }), await create(leaver, { title: 'Also mine' })]
      const removed = await t.app.inject({
        method: 'DELETE',
        url: `/api/v1/users/${leaver.id}`,
        headers: leaver.headers,
      })
      expect(removed.statusCode).toBe(204)
      for (const task of tasks)
        expectProblem(await t.app.inject({ url: url(task.id), headers: t.admin.headers }), 404)
      expect((await list(t.admin, `ownerId=${leaver.id}`)).total).toBe(0)
    })
  })

  describe('documentation', () => {
    it('documents every tasks operation under its operationId', async () => {
      const spec = (await t.app.inject({ url: '/openapi.json' })).json()
      const operationIds = Object.entries(
        spec.paths as Record<string, Record<string, { operationId: string }>>,
      )
        .filter(([path]) => path.startsWith('/api/v1/tasks'))
        .flatMap(([, methods]) => Object.values(methods).map((operation) => operation.operationId))
        .sort()
      expect(operationIds).toEqual([
        'tasks-create',
        'tasks-delete',
        'tasks-get',
        'tasks-list',
        'tasks-replace',
        'tasks-statistics',
        'tasks-update',
      ])
    })
  })
})
