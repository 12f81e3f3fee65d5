import { createHash } from 'node:crypto'
import multipart, { type MultipartFile } from '@fastify/multipart'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest, FastifySchemaCompiler } from 'fastify'
import { currentUser, requireAuthentication } from '../../platform/auth.js'
import { badRequest, DomainError } from '../../platform/errors.js'
import { type Idempotency, IdempotencyKeyHeaders } from '../../platform/idempotency.js'
import { IdParams, problemResponses, ref } from '../../platform/schemas.js'
import { validatorCompiler } from '../../platform/validation.js'
import { FilePublic, FilesListQuery, FilesPage, FileUpload, fileContent } from './schemas.js'
import { type FilesService, STORED_MEDIA_TYPES, TEXT_PLAIN, type UploadSource } from './service.js'

export interface FilesRoutesOptions {
  files: FilesService
  idempotency: Idempotency
  maxUploadBytes: number
}

/** The upload body is streamed by the handler; its schema documents the form but validates nothing. */
const streamedBodyCompiler: FastifySchemaCompiler<object> = (route) =>
  route.httpPart === 'body' ? () => true : validatorCompiler(route)

const missingFile = () =>
  badRequest('The form has no file part named "file"', [{ path: '/body/file', message: 'is required' }])
const extraFile = () =>
  badRequest('The form carries more than one file; send exactly one, in a part named "file"', [
    { path: '/body', message: 'must have exactly one file part' },
  ])

/** Parser failures are the client's: a broken or cut-off body, except the parser's own limits (413). */
function multipartError(error: unknown): unknown {
  if (error instanceof DomainError || (error as { statusCode?: unknown } | null)?.statusCode === 413)
    return error
  return badRequest('The multipart body is malformed or incomplete')
}

/**
 * The form's one file part, named "file". Text fields may come before or after it and are ignored; a
 * second file part anywhere is refused (400) rather than silently dropped — after the first one has been
 * read, as the parts arrive in order, so the upload fails before anything is committed.
 */
async function receiveFile(request: FastifyRequest, maxUploadBytes: number): Promise<UploadSource> {
  const parts = request.parts()[Symbol.asyncIterator]()
  const nextFile = async (): Promise<MultipartFile | undefined> => {
    try {
      for (let next = await parts.next(); !next.done; next = await parts.next()) {
        if (next.value.type === 'file') return next.value
      }
      return undefined
    } catch (error) {
      throw multipartError(error)
    }
  }
  const part = await nextFile()
  if (!part) throw missingFile()
  if (part.fieldname !== 'file') {
    part.file.resume()
    throw (await nextFile()) ? extraFile() : missingFile()
  }
  const { file } = part
  return {
    filename: part.filename,
    content: (async function* () {
      try {
        for await (const chunk of file) yield chunk as Buffer
      } catch (error) {
        throw multipartError(error)
      }
      // Past the limit the parser stops passing bytes on and ends the part as if it were complete.
      if (file.truncated) {
        throw new DomainError(
          'payload_too_large',
          `The file is larger than the upload limit of ${maxUploadBytes} bytes`,
        )
      }
      const another = await nextFile()
      if (another) {
        another.file.resume()
        throw extraFile()
      }
    })(),
  }
}

/**
 * What identifies an upload for Idempotency-Key: the client's file name and the content's digest (not the
 * raw body, whose multipart boundary a retrying client draws afresh). `onRead` gets it once all is read.
 */
function identified(source: UploadSource, onRead: (parts: string[]) => void): UploadSource {
  const hash = createHash('sha256')
  return {
    filename: source.filename,
    content: (async function* () {
      for await (const chunk of source.content) {
        hash.update(chunk)
        yield chunk
      }
      onRead([source.filename ?? '', hash.digest('hex')])
    })(),
  }
}

async function identify(source: UploadSource): Promise<string[]> {
  let parts: string[] = []
  for await (const _ of identified(source, (read) => (parts = read)).content);
  return parts
}

/** RFC 6266: a plain-ASCII name for old clients, the exact UTF-8 name (RFC 8187 encoding) for the rest. */
export function contentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%]/gu, '_')
  const encoded = encodeURIComponent(filename).replace(
    /['()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  )
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`
}

/** If-None-Match uses the weak comparison (RFC 9110 §13.1.2). */
function matchesETag(header: string | undefined, etag: string): boolean {
  if (!header) return false
  return header.split(',').some((candidate) => {
    const tag = candidate.trim()
    return tag === '*' || tag.replace(/^W\//, '') === etag
  })
}

export const filesRoutes: FastifyPluginAsyncTypebox<FilesRoutesOptions> = async (app, options) => {
  requireAuthentication(app)
  const { files, idempotency, maxUploadBytes } = options
  const tags = ['files']

  // Registered here, so no other route accepts multipart bodies. One file part per request (the parser
  // lets a second through so that it can be refused, not dropped); the few text fields a form may carry
  // along are small and bounded.
  await app.register(multipart, {
    limits: { fileSize: maxUploadBytes, files: 2, fields: 10, fieldSize: 1024, parts: 20, headerPairs: 20 },
  })

  app.post(
    '/files',
    {
      schema: {
        operationId: 'files-upload',
        summary: 'Upload a file (multipart/form-data, one part named "file")',
        description:
          'The kind is judged from the content’s own bytes, never from the name or the declared type: plain ' +
          'UTF-8 text, PDF, PNG, JPEG, GIF, DOC or DOCX; anything else is 415. Larger than MAX_UPLOAD_BYTES, ' +
          'or past your MAX_USER_STORAGE_BYTES quota, is 413.',
        tags,
        consumes: ['multipart/form-data'],
        headers: IdempotencyKeyHeaders,
        body: ref(FileUpload),
        response: { 201: ref(FilePublic), ...problemResponses(400, 401, 409, 413, 415, 422, 429, 503) },
      },
      validatorCompiler: streamedBodyCompiler,
    },
    async (request, reply) => {
      if (!request.isMultipart()) {
        throw new DomainError(
          'unsupported_media_type',
          'Send the file as multipart/form-data, in a part named "file"',
        )
      }
      const keyed = request.headers['idempotency-key'] !== undefined
      try {
        return await idempotency.respond(
          request,
          reply,
          {
            status: 201,
            headers: (file: FilePublic) => ({ location: `${request.url.split('?')[0]}/${file.id}` }),
            fingerprintStreamed: async () => identify(await receiveFile(request, maxUploadBytes)),
          },
          () =>
            files.upload(currentUser(request), async () => {
              const source = await receiveFile(request, maxUploadBytes)
              return keyed
                ? identified(source, (parts) => idempotency.fingerprintStreamed(request, parts))
                : source
            }),
        )
      } finally {
        // Refused part-way: read what the client is still sending (bounded by the request timeout) and
        // drop it, so the connection ends cleanly instead of lingering paused with unread bytes.
        if (!request.raw.readableEnded) request.raw.resume()
      }
    },
  )

  app.get(
    '/files',
    {
      schema: {
        operationId: 'files-list',
        description: 'Your uploaded files’ metadata, newest first, page by page. Admins see everyone’s.',
        summary: 'List your files, newest first (an admin sees everyone’s)',
        tags,
        querystring: FilesListQuery,
        response: { 200: ref(FilesPage), ...problemResponses(400, 401, 429) },
      },
    },
    async (request) => files.list(currentUser(request), request.query),
  )

  app.get(
    '/files/:id',
    {
      schema: {
        operationId: 'files-get',
        description: 'One file’s metadata, for its owner or an admin; anyone else gets 404.',
        summary: 'Get a file’s metadata (owner or admin)',
        tags,
        params: IdParams,
        response: { 200: ref(FilePublic), ...problemResponses(400, 401, 404, 429) },
      },
    },
    async (request) => files.get(currentUser(request), request.params.id),
  )

  app.get(
    '/files/:id/content',
    {
      schema: {
        operationId: 'files-download',
        summary: 'Download a file’s content as an attachment (owner or admin)',
        description:
          'Content-Type is the detected type. ETag is the quoted SHA-256; If-None-Match with it answers 304.',
        tags,
        params: IdParams,
        response: {
          200: fileContent(STORED_MEDIA_TYPES),
          304: { type: 'null', description: 'Not modified: If-None-Match matched the ETag' },
          ...problemResponses(400, 401, 404, 429),
        },
      },
    },
    async (request, reply) => {
      const { file, open } = await files.download(currentUser(request), request.params.id)
      const etag = `"${file.sha256}"`
      // Per-user content: browsers may keep it but must revalidate; shared caches must not keep it.
      reply.header('etag', etag).header('cache-control', 'private, no-cache')
      if (matchesETag(request.headers['if-none-match'], etag)) return reply.code(304).send(null)
      const content = await open()
      return (
        reply
          .header(
            'content-type',
            file.contentType === TEXT_PLAIN ? `${TEXT_PLAIN}; charset=utf-8` : file.contentType,
          )
          .header('content-length', file.size)
          .header('content-disposition', contentDisposition(file.filename))
          .header('x-content-type-options', 'nosniff')
          // Should a browser render it anyway, the content gets no scripts, no requests, no origin.
          .header('content-security-policy', "default-src 'none'; sandbox")
          .send(content)
      )
    },
  )

  app.delete(
    '/files/:id',
    {
      schema: {
        operationId: 'files-delete',
        description: 'Deletes a file’s metadata and its stored bytes, for its owner or an admin.',
        summary: 'Delete a file, its metadata and its bytes (owner or admin)',
        tags,
        params: IdParams,
        response: {
          204: { type: 'null', description: 'Deleted' },
          ...problemResponses(400, 401, 404, 429),
        },
      },
    },
    async (request, reply) => {
      await files.delete(currentUser(request), request.params.id)
      return reply.code(204).send(null)
    },
  )
}
