import { createHash, randomUUID } from 'node:crypto'
import { existsSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { contentDisposition } from '../../src/modules/files/routes.js'
import type { FilePublic } from '../../src/modules/files/schemas.js'
import { sanitizeFilename } from '../../src/modules/files/service.js'
import { describeEachBackend, expectProblem, type Session, signUp, useApp } from '../helpers.js'
import { doc, docx, elf, exe, gif, jpeg, pdf, png, zip } from './fixtures/samples.js'

const MAX_UPLOAD_BYTES = 256 * 1024
const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

/** A real multipart body, as a browser's FormData would send it. */
async function formBody(content: Uint8Array, filename: string, type: string, field = 'file') {
  const form = new FormData()
  form.append(field, new Blob([content], { type }), filename)
  const response = new Response(form)
  return {
    payload: Buffer.from(await response.arrayBuffer()),
    contentType: response.headers.get('content-type')!,
  }
}

/** A hand-written multipart body, for part headers FormData would escape. */
function rawBody(dispositionParams: string, content: Buffer, boundary = 'xXxBoundaryxXx') {
  return {
    payload: Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; ${dispositionParams}\r\n` +
          'Content-Type: application/octet-stream\r\n\r\n',
        'utf8',
      ),
      content,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  }
}

/** Every file under the upload directory, relative to it. */
function storedFiles(uploadDir: string): string[] {
  if (!existsSync(uploadDir)) return []
  return readdirSync(uploadDir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(uploadDir, join(entry.parentPath, entry.name)))
    .sort()
}

const utf8Text = (bytes: number) =>
  Buffer.from('Zażółć gęślą jaźń — ✓ 🚀\n'.repeat(bytes / 40 + 1)).subarray(0, bytes)

describeEachBackend('files', (backend) => {
  const t = useApp(backend, {
    admin: true,
    users: ['alice', 'bob'],
    env: { MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES) },
  })

  const onDisk = () => storedFiles(t.config.files.uploadDir)
  const url = (id: string) => `/api/v1/files/${id}`

  async function upload(
    session: Session,
    content: Uint8Array,
    filename = 'sample.bin',
    type = 'application/octet-stream',
  ) {
    const body = await formBody(content, filename, type)
    return t.app.inject({
      method: 'POST',
      url: '/api/v1/files',
      headers: { ...session.headers, 'content-type': body.contentType },
      payload: body.payload,
    })
  }

  async function uploaded(session: Session, content: Uint8Array, filename?: string, type?: string) {
    const response = await upload(session, content, filename, type)
    if (response.statusCode !== 201) throw new Error(`upload: ${response.statusCode} ${response.body}`)
    return response.json() as FilePublic
  }

  const totalFiles = async (session: Session) =>
    (await t.app.inject({ url: '/api/v1/files', headers: session.headers })).json().total as number

  describe('upload', () => {
    it.each([
      ['plain text', () => Buffer.from('hello, world\n'), 'notes.txt', 'text/plain'],
      ['empty text', () => Buffer.alloc(0), 'empty.txt', 'text/plain'],
      ['PDF', pdf, 'paper.pdf', 'application/pdf'],
      ['PNG', png, 'pixel.png', 'image/png'],
      ['JPEG', jpeg, 'photo.jpg', 'image/jpeg'],
      ['GIF', gif, 'anim.gif', 'image/gif'],
      ['DOCX', docx, 'letter.docx', DOCX],
      ['DOC (OLE compound file)', doc, 'old.doc', 'application/msword'],
    ])(
      'accepts %s as its detected type with the right size and hash',
      async (_kind, make, filename, type) => {
        const bytes = make()
        const response = await upload(t.users.alice, bytes, filename)
        expect(response.statusCode).toBe(201)
        const file = response.json()
        expect(file).toMatchObject({
          filename,
          size: bytes.length,
          contentType: type,
          sha256: sha256(bytes),
          ownerId: t.users.alice.id,
        })
        expect(file.id).toMatch(/^[0-9a-f-]{36}$/)
        expect(Date.parse(file.createdAt)).not.toBeNaN()
        expect(response.headers.location).toBe(url(file.id))
      },
    )

    it('streams text larger than the detection window, multi-byte characters split across chunks', async () => {
      const bytes = utf8Text(200 * 1024)
      // Cut where a character is whole, so only chunking (not the sample) could split one.
      const text = Buffer.from(bytes.toString('utf8').replace(/\uFFFD+$/, ''))
      const file = await uploaded(t.users.alice, text, 'long.txt')
      expect(file).toMatchObject({ contentType: 'text/plain', size: text.length, sha256: sha256(text) })
    })

    it('ignores the name and the declared type: a PNG called .txt is a PNG, text called .png is text', async () => {
      expect((await uploaded(t.users.alice, png(), 'notes.txt', 'text/plain')).contentType).toBe('image/png')
      expect(
        (await uploaded(t.users.alice, Buffer.from('just words'), 'cat.png', 'image/png')).contentType,
      ).toBe('text/plain')
    })

    it.each([
      ['a Windows executable', exe, 'setup.txt', 'text/plain'],
      ['an ELF binary', elf, 'tool', 'application/octet-stream'],
      ['a ZIP that is not a DOCX', () => zip({ 'hello.txt': 'hi' }), 'archive.docx', DOCX],
      [
        'HTML',
        () => Buffer.from('<!DOCTYPE html><html><script>alert(1)</script></html>'),
        'page.txt',
        'text/plain',
      ],
      ['HTML declared as an image', () => Buffer.from('  <script>alert(1)</script>'), 'cat.png', 'image/png'],
      [
        'SVG',
        () => Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>'),
        'x.svg',
        'image/svg+xml',
      ],
      ['XML', () => Buffer.from('<?xml version="1.0"?><doc/>'), 'data.txt', 'text/plain'],
      ['text with a NUL byte', () => Buffer.from('abc\0def'), 'nul.txt', 'text/plain'],
      ['Latin-1 text (not UTF-8)', () => Buffer.from('caf\xe9', 'latin1'), 'cafe.txt', 'text/plain'],
      [
        'text ending inside a UTF-8 character',
        () => Buffer.from('ok \xe2\x82', 'latin1'),
        'cut.txt',
        'text/plain',
      ],
      [
        'unknown binary after a long text start',
        () => Buffer.concat([utf8Text(100 * 1024), Buffer.from([0xff, 0xfe, 0])]),
        'x.txt',
        'text/plain',
      ],
    ])('refuses %s with 415, storing nothing', async (_kind, make, filename, type) => {
      const before = onDisk()
      const filesBefore = await totalFiles(t.users.alice)
      expectProblem(await upload(t.users.alice, make(), filename, type), 415)
      expect(onDisk()).toEqual(before)
      expect(await totalFiles(t.users.alice)).toBe(filesBefore)
    })

    it('accepts exactly MAX_UPLOAD_BYTES and refuses one byte more with 413, leaving nothing behind', async () => {
      const exact = await uploaded(t.users.alice, Buffer.alloc(MAX_UPLOAD_BYTES, 0x61), 'exact.txt')
      expect(exact.size).toBe(MAX_UPLOAD_BYTES)
      const before = onDisk()
      const filesBefore = await totalFiles(t.users.alice)
      const text = expectProblem(
        await upload(t.users.alice, Buffer.alloc(MAX_UPLOAD_BYTES + 1, 0x61), 'big.txt'),
        413,
      )
      expect(text.detail).toMatch(/upload limit/)
      const image = Buffer.concat([png(), Buffer.alloc(MAX_UPLOAD_BYTES)])
      expectProblem(await upload(t.users.alice, image, 'big.png'), 413)
      expect(onDisk()).toEqual(before)
      expect(await totalFiles(t.users.alice)).toBe(filesBefore)
    })

    it('answers 400 when the form has no "file" part', async () => {
      const form = new FormData()
      form.append('note', 'no file here')
      const response = new Response(form)
      const noFile = await t.app.inject({
        method: 'POST',
        url: '/api/v1/files',
        headers: { ...t.users.alice.headers, 'content-type': response.headers.get('content-type')! },
        payload: Buffer.from(await response.arrayBuffer()),
      })
      expect(expectProblem(noFile, 400).errors?.[0]?.path).toBe('/body/file')

      const wrongField = await formBody(Buffer.from('hi'), 'a.txt', 'text/plain', 'upload')
      expectProblem(
        await t.app.inject({
          method: 'POST',
          url: '/api/v1/files',
          headers: { ...t.users.alice.headers, 'content-type': wrongField.contentType },
          payload: wrongField.payload,
        }),
        400,
      )
    })

    it('answers 415 for a body that is not multipart, and 400 for broken multipart', async () => {
      expectProblem(
        await t.app.inject({
          method: 'POST',
          url: '/api/v1/files',
          headers: t.users.alice.headers,
          payload: { file: 'aGVsbG8=' },
        }),
        415,
      )
      expectProblem(
        await t.app.inject({
          method: 'POST',
          url: '/api/v1/files',
          headers: { ...t.users.alice.headers, 'content-type': 'application/octet-stream' },
          payload: png(),
        }),
        415,
      )
      const before = onDisk()
      expectProblem(
        await t.app.inject({
          method: 'POST',
          url: '/api/v1/files',
          headers: { ...t.users.alice.headers, 'content-type': 'multipart/form-data' },
          payload: 'no boundary',
        }),
        400,
      )
      const cut = rawBody('name="file"; filename="a.txt"', Buffer.from('hello'))
      expectProblem(
        await t.app.inject({
          method: 'POST',
          url: '/api/v1/files',
          headers: { ...t.users.alice.headers, 'content-type': cut.contentType },
          payload: cut.payload.subarray(0, cut.payload.length - 30),
        }),
        400,
      )
      expect(onDisk()).toEqual(before)
    })

    it('needs a token', async () => {
      const body = await formBody(Buffer.from('hi'), 'a.txt', 'text/plain')
      expectProblem(
        await t.app.inject({
          method: 'POST',
          url: '/api/v1/files',
          headers: { 'content-type': body.contentType },
          payload: body.payload,
        }),
        401,
      )
    })
  })

  describe('filenames', () => {
    it('keeps only the last path segment, and never names anything on disk after it', async () => {
      const file = await uploaded(t.users.bob, Buffer.from('root:x:0:0'), '../../etc/passwd')
      expect(file.filename).toBe('passwd')
      const windows = rawBody('name="file"; filename="..\\\\..\\\\boot.ini"', Buffer.from('[boot]'))
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/files',
        headers: { ...t.users.bob.headers, 'content-type': windows.contentType },
        payload: windows.payload,
      })
      expect(response.json().filename).toBe('boot.ini')
      for (const path of onDisk()) expect(path).toMatch(/^[0-9a-f]{2}\/[0-9a-f-]{36}$/)
      expect(existsSync(join(t.config.files.uploadDir, '..', '..', 'etc', 'passwd'))).toBe(false)
    })

    it('strips control and bidi-override characters, keeps other Unicode', async () => {
      const body = rawBody(`name="file"; filename="re\x07port\x1b[31m\u202Efdp.exe"`, Buffer.from('text'))
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/files',
        headers: { ...t.users.bob.headers, 'content-type': body.contentType },
        payload: body.payload,
      })
      expect(response.json().filename).toBe('report[31mfdp.exe')
      expect((await uploaded(t.users.bob, Buffer.from('x'), 'résumé 2024 ✓ 日本.txt')).filename).toBe(
        'résumé 2024 ✓ 日本.txt',
      )
    })

    it('limits names to 255 bytes, keeping the extension and whole characters', () => {
      const long = `${'日'.repeat(200)}.txt`
      const name = sanitizeFilename(long)
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255)
      expect(name.endsWith('日.txt')).toBe(true)
      expect(sanitizeFilename(undefined)).toBe('file')
      expect(sanitizeFilename('..')).toBe('file')
      expect(sanitizeFilename('a/b\\..')).toBe('file')
      expect(sanitizeFilename('\x00\x01')).toBe('file')
    })
  })

  describe('download', () => {
    it('streams the exact bytes as an attachment with type, length, nosniff and ETag', async () => {
      const bytes = png()
      const file = await uploaded(t.users.alice, bytes, 'Zdjęcie z wakacji 🌴.png')
      const response = await t.app.inject({ url: `${url(file.id)}/content`, headers: t.users.alice.headers })
      expect(response.statusCode).toBe(200)
      expect(Buffer.compare(response.rawPayload, bytes)).toBe(0)
      expect(response.headers['content-type']).toBe('image/png')
      expect(response.headers['content-length']).toBe(String(bytes.length))
      expect(response.headers['x-content-type-options']).toBe('nosniff')
      expect(response.headers.etag).toBe(`"${sha256(bytes)}"`)
      expect(response.headers['content-disposition']).toBe(
        `attachment; filename="Zdj_cie z wakacji _.png"; filename*=UTF-8''Zdj%C4%99cie%20z%20wakacji%20%F0%9F%8C%B4.png`,
      )
    })

    it('serves text as UTF-8 text', async () => {
      const text = Buffer.from('żółw\n')
      const file = await uploaded(t.users.alice, text, 'turtle.txt')
      const response = await t.app.inject({ url: `${url(file.id)}/content`, headers: t.users.alice.headers })
      expect(response.headers['content-type']).toBe('text/plain; charset=utf-8')
      expect(response.body).toBe('żółw\n')
    })

    it('answers 304 when If-None-Match matches the ETag, 200 otherwise', async () => {
      const file = await uploaded(t.users.alice, gif(), 'x.gif')
      const etag = `"${file.sha256}"`
      for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const response = await t.app.inject({
          url: `${url(file.id)}/content`,
          headers: { ...t.users.alice.headers, 'if-none-match': header },
        })
        expect(response.statusCode, header).toBe(304)
        expect(response.body).toBe('')
        expect(response.headers.etag).toBe(etag)
      }
      const changed = await t.app.inject({
        url: `${url(file.id)}/content`,
        headers: { ...t.users.alice.headers, 'if-none-match': '"something-else"' },
      })
      expect(changed.statusCode).toBe(200)
    })
  })

  describe('ownership', () => {
    let file: { id: string }
    beforeAll(async () => {
      file = await uploaded(t.users.alice, pdf(), 'private.pdf')
    })

    it('hides another user’s file as 404 on get, download and delete', async () => {
      expectProblem(await t.app.inject({ url: url(file.id), headers: t.users.bob.headers }), 404)
      expectProblem(await t.app.inject({ url: `${url(file.id)}/content`, headers: t.users.bob.headers }), 404)
      expectProblem(
        await t.app.inject({ method: 'DELETE', url: url(file.id), headers: t.users.bob.headers }),
        404,
      )
      expect((await t.app.inject({ url: url(file.id), headers: t.users.alice.headers })).statusCode).toBe(200)
    })

    it('lets an admin read and download anyone’s file', async () => {
      expect((await t.app.inject({ url: url(file.id), headers: t.admin.headers })).json().ownerId).toBe(
        t.users.alice.id,
      )
      const content = await t.app.inject({ url: `${url(file.id)}/content`, headers: t.admin.headers })
      expect(Buffer.compare(content.rawPayload, pdf())).toBe(0)
    })

    it('answers 400 for ids that are not UUIDs, traversal attempts included, and 404 for unknown ones', async () => {
      for (const id of ['not-a-uuid', '..%2F..%2Fetc%2Fpasswd', '..%5C..%5Cboot.ini', "1' or '1'='1"]) {
        expectProblem(await t.app.inject({ url: url(id), headers: t.users.alice.headers }), 400)
        expectProblem(await t.app.inject({ url: `${url(id)}/content`, headers: t.users.alice.headers }), 400)
      }
      // Dot segments are resolved before routing: whatever they resolve to, it is not a file route.
      for (const path of ['/api/v1/files/../../etc/passwd', '/api/v1/files/%2e%2e/%2e%2e/etc/passwd']) {
        const dotted = await t.app.inject({ url: path, headers: t.users.alice.headers })
        expect([400, 404]).toContain(dotted.statusCode)
      }
      expectProblem(await t.app.inject({ url: url(randomUUID()), headers: t.users.alice.headers }), 404)
      expectProblem(
        await t.app.inject({ url: `${url(randomUUID())}/content`, headers: t.users.alice.headers }),
        404,
      )
    })
  })

  describe('list', () => {
    it('shows users their own files and an admin everyone’s, newest first, paginated', async () => {
      const carol = await signUp(t.app, 'carol')
      const first = await uploaded(carol, Buffer.from('one'), 'one.txt')
      const second = await uploaded(carol, Buffer.from('two'), 'two.txt')
      const own = (await t.app.inject({ url: '/api/v1/files', headers: carol.headers })).json()
      expect(own).toMatchObject({ total: 2, page: 1, pageSize: 20 })
      expect(own.items.map((item: { id: string }) => item.id)).toEqual([second.id, first.id])
      expect(JSON.stringify(own)).not.toMatch(/storageKey/)

      const bobs = (
        await t.app.inject({ url: '/api/v1/files?pageSize=100', headers: t.users.bob.headers })
      ).json()
      expect(bobs.items.every((item: { ownerId: string }) => item.ownerId === t.users.bob.id)).toBe(true)

      const all = (await t.app.inject({ url: '/api/v1/files?pageSize=100', headers: t.admin.headers })).json()
      const owners = new Set(all.items.map((item: { ownerId: string }) => item.ownerId))
      expect(owners).toEqual(new Set([t.users.alice.id, t.users.bob.id, carol.id]))
      expect(all.total).toBe((await totalFiles(t.users.alice)) + bobs.total + 2)

      const paged = (
        await t.app.inject({ url: '/api/v1/files?page=2&pageSize=1', headers: carol.headers })
      ).json()
      expect(paged).toMatchObject({ total: 2, page: 2, pageSize: 1 })
      expect(paged.items[0].id).toBe(first.id)
    })

    it.each(['page=0', 'pageSize=101', 'pageSize=abc', 'ownerId=x'])('rejects %s with 400', async (query) => {
      expectProblem(
        await t.app.inject({ url: `/api/v1/files?${query}`, headers: t.users.alice.headers }),
        400,
      )
    })
  })

  describe('delete', () => {
    it('removes the metadata and the bytes; owner or admin', async () => {
      const before = onDisk()
      const own = await uploaded(t.users.bob, jpeg(), 'a.jpg')
      const other = await uploaded(t.users.bob, jpeg(), 'b.jpg')
      const added = onDisk().filter((path) => !before.includes(path))
      expect(added).toHaveLength(2)

      expect(
        (await t.app.inject({ method: 'DELETE', url: url(own.id), headers: t.users.bob.headers })).statusCode,
      ).toBe(204)
      expect(
        (await t.app.inject({ method: 'DELETE', url: url(other.id), headers: t.admin.headers })).statusCode,
      ).toBe(204)
      expect(onDisk()).toEqual(before)
      expectProblem(await t.app.inject({ url: url(own.id), headers: t.users.bob.headers }), 404)
      expectProblem(await t.app.inject({ url: `${url(own.id)}/content`, headers: t.users.bob.headers }), 404)
      expectProblem(
        await t.app.inject({ method: 'DELETE', url: url(own.id), headers: t.users.bob.headers }),
        404,
      )
    })

    it('removes a deleted user’s files, rows and bytes', async () => {
      const dave = await signUp(t.app, 'dave')
      const before = onDisk()
      const files = [await uploaded(dave, png(), 'p.png'), await uploaded(dave, Buffer.from('t'), 't.txt')]
      expect(onDisk()).toHaveLength(before.length + 2)
      expect(
        (await t.app.inject({ method: 'DELETE', url: `/api/v1/users/${dave.id}`, headers: t.admin.headers }))
          .statusCode,
      ).toBe(204)
      expect(onDisk()).toEqual(before)
      for (const file of files)
        expectProblem(await t.app.inject({ url: url(file.id), headers: t.admin.headers }), 404)
    })
  })

  describe('OpenAPI', () => {
    it('documents the upload as multipart/form-data and every operation with its id', async () => {
      const spec = (await t.app.inject({ url: '/openapi.json' })).json()
      const upload = spec.paths['/api/v1/files'].post
      expect(upload.operationId).toBe('files-upload')
      expect(upload.requestBody.content['multipart/form-data'].schema).toEqual({
        $ref: '#/components/schemas/FileUpload',
      })
      expect(spec.components.schemas.FileUpload.properties.file).toMatchObject({
        type: 'string',
        format: 'binary',
      })
      expect(spec.paths['/api/v1/files'].get.operationId).toBe('files-list')
      expect(spec.paths['/api/v1/files/{id}'].get.operationId).toBe('files-get')
      expect(spec.paths['/api/v1/files/{id}'].delete.operationId).toBe('files-delete')
      expect(spec.paths['/api/v1/files/{id}/content'].get.operationId).toBe('files-download')
    })
  })
})

describeEachBackend('files quota', (backend) => {
  const t = useApp(backend, { env: { MAX_UPLOAD_BYTES: '2000', MAX_USER_STORAGE_BYTES: '3000' } })

  const onDisk = () => storedFiles(t.config.files.uploadDir)

  async function upload(session: Session, bytes: number) {
    const body = await formBody(Buffer.alloc(bytes, 0x61), 'a.txt', 'text/plain')
    return t.app.inject({
      method: 'POST',
      url: '/api/v1/files',
      headers: { ...session.headers, 'content-type': body.contentType },
      payload: body.payload,
    })
  }

  it('refuses an upload that would pass MAX_USER_STORAGE_BYTES, before or while streaming', async () => {
    const erin = await signUp(t.app, 'erin')
    const first = await upload(erin, 1500)
    expect(first.statusCode).toBe(201)
    expect((await upload(erin, 1500)).statusCode).toBe(201)
    const before = onDisk()
    // Full: refused before the body is read.
    expect(expectProblem(await upload(erin, 1), 413).detail).toMatch(/quota of 3000 bytes/)
    await t.app.inject({ method: 'DELETE', url: `/api/v1/files/${first.json().id}`, headers: erin.headers })
    expect((await upload(erin, 1000)).statusCode).toBe(201)
    // 500 bytes of room left: refused once the 501st byte arrives.
    expect(expectProblem(await upload(erin, 1000), 413).detail).toMatch(/quota/)
    expect(onDisk()).toHaveLength(before.length)
    // The quota is per user.
    expect((await upload(await signUp(t.app, 'frank'), 1500)).statusCode).toBe(201)
  })

  it('lets only one of two concurrent uploads through when both would not fit', async () => {
    const gina = await signUp(t.app, 'gina')
    const before = onDisk()
    const results = await Promise.all([upload(gina, 1600), upload(gina, 1600)])
    expect(results.map((response) => response.statusCode).sort()).toEqual([201, 413])
    expect(onDisk()).toHaveLength(before.length + 1)
  })

  it('applies the smaller MAX_UPLOAD_BYTES to a single file', async () => {
    const hank = await signUp(t.app, 'hank')
    expect(expectProblem(await upload(hank, 2001), 413).detail).toMatch(/upload limit of 2000 bytes/)
  })
})

describe('Content-Disposition', () => {
  it('gives an ASCII fallback and the exact name percent-encoded (RFC 6266, RFC 8187)', () => {
    expect(contentDisposition('report.pdf')).toBe(
      `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`,
    )
    expect(contentDisposition(`a"b\\c%d'(e)*.txt`)).toBe(
      `attachment; filename="a_b_c_d'(e)*.txt"; filename*=UTF-8''a%22b%5Cc%25d%27%28e%29%2A.txt`,
    )
  })
})
