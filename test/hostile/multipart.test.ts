import { readdirSync } from 'node:fs'
import { expect, it } from 'vitest'
import { describeEachBackend, expectProblem, useApp } from '../helpers.js'

/*
 * Class 9 of issue 10: a browser form or an HTTP client may put text fields before the file (curl -F
 * does what the command line says; many forms put a description first), and a client may attach two
 * files. Text fields anywhere are fine; more than one file part is a 400 — never a 201 that silently
 * dropped one — and leaves nothing stored.
 */

interface Part {
  name: string
  filename?: string
  content: string
  type?: string
}

function form(parts: Part[]): { headers: Record<string, string>; body: Buffer } {
  const boundary = '----multipart-hostile-41'
  const body = parts
    .map((part) => {
      const disposition = `form-data; name="${part.name}"${part.filename === undefined ? '' : `; filename="${part.filename}"`}`
      const type = part.type ?? (part.filename === undefined ? undefined : 'text/plain')
      return `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type ? `Content-Type: ${type}\r\n` : ''}\r\n${part.content}\r\n`
    })
    .join('')
  return {
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: Buffer.from(`${body}--${boundary}--\r\n`),
  }
}

const FILE: Part = { name: 'file', filename: 'notes.txt', content: 'the content\n' }
const field = (name: string, content = 'some text'): Part => ({ name, content })

describeEachBackend('hostile input: multipart forms', (backend) => {
  const t = useApp(backend, { users: ['uploader'] })

  const upload = (parts: Part[]) => {
    const { headers, body } = form(parts)
    return t.app.inject({
      method: 'POST',
      url: '/api/v1/files',
      headers: { ...t.users.uploader.headers, ...headers },
      payload: body,
    })
  }
  const stored = async () =>
    (await t.app.inject({ url: '/api/v1/files?pageSize=100', headers: t.users.uploader.headers })).json()
      .total as number
  /** Files on disk, partial or complete. */
  const onDisk = () =>
    readdirSync(t.config.files.uploadDir, { recursive: true, withFileTypes: true }).filter((entry) =>
      entry.isFile(),
    ).length

  it.each([
    ['a field before the file', [field('description'), FILE]],
    ['a field after the file', [FILE, field('description')]],
    ['fields on both sides', [field('title'), field('tags', 'a,b'), FILE, field('note')]],
    ['an empty field first', [field('description', ''), FILE]],
    [
      'a field with a JSON content type first',
      [{ name: 'meta', content: '{"a":1}', type: 'application/json' }, FILE],
    ],
    ['a field named like the file part, before it', [field('file', 'not a file'), FILE]],
  ])('201 with %s; the file is the one stored', async (_, parts) => {
    const response = await upload(parts as Part[])
    expect(response.statusCode).toBe(201)
    const file = response.json()
    expect(file).toMatchObject({ filename: 'notes.txt', size: 12, contentType: 'text/plain' })
    const content = await t.app.inject({
      url: `/api/v1/files/${file.id}/content`,
      headers: t.users.uploader.headers,
    })
    expect(content.body).toBe('the content\n')
  })

  it.each([
    ['two file parts named file', [FILE, { ...FILE, filename: 'second.txt', content: 'second\n' }]],
    ['a second file under another name', [FILE, { name: 'attachment', filename: 'b.txt', content: 'b\n' }]],
    ['another file before the file', [{ name: 'attachment', filename: 'b.txt', content: 'b\n' }, FILE]],
    ['three files', [FILE, { ...FILE, filename: 'b.txt' }, { ...FILE, filename: 'c.txt' }]],
    [
      'two files with fields between',
      [field('a'), FILE, field('b'), { ...FILE, filename: 'z.txt' }, field('c')],
    ],
  ])('400 for %s, and nothing is stored', async (_, parts) => {
    const filesBefore = await stored()
    const diskBefore = onDisk()
    const response = await upload(parts as Part[])
    const problem = expectProblem(response, 400)
    expect(problem.detail).toMatch(/more than one file/)
    expect(await stored()).toBe(filesBefore)
    expect(onDisk()).toBe(diskBefore)
  })

  it.each([
    ['only fields', [field('description')]],
    ['a file under another name', [{ name: 'upload', filename: 'a.txt', content: 'a\n' }]],
    ['no parts', []],
  ])('400 for %s: there is no file named "file"', async (_, parts) => {
    expectProblem(await upload(parts as Part[]), 400)
  })
})
