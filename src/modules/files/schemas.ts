import { type Static, Type } from 'typebox'
import { named, PageOf, PageQuery, Timestamp, Uuid } from '../../platform/schemas.js'

export const FilePublic = named(
  'FileMetadata',
  Type.Object(
    {
      id: Uuid,
      filename: Type.String({
        description:
          'Name the client gave, sanitised: no directories, no control characters, at most 255 bytes. Metadata only',
      }),
      size: Type.Integer({ minimum: 0, description: 'Size in bytes' }),
      contentType: Type.String({
        description:
          'Media type detected from the content itself: text/plain, application/pdf, image/png, image/jpeg, ' +
          'image/gif, application/msword or application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      }),
      sha256: Type.String({
        pattern: '^[0-9a-f]{64}$',
        description: 'SHA-256 of the content, lower-case hex; the download’s ETag',
      }),
      ownerId: Type.String({ format: 'uuid', description: 'Id of the user who uploaded the file' }),
      createdAt: Timestamp,
    },
    { description: 'An uploaded file’s metadata' },
  ),
  {
    id: '0192d4e2-9a10-7c55-8e21-6b7f0a1c2d3e',
    filename: 'notes.txt',
    size: 12,
    contentType: 'text/plain',
    sha256: 'a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447',
    ownerId: '0192d4e2-7c3a-7b1e-9f00-3c5a1b2d4e6f',
    createdAt: '2026-01-15T10:00:00.000Z',
  },
)
export type FilePublic = Static<typeof FilePublic>

export const FilesPage = PageOf(FilePublic, 'Files', 'newest first', FilePublic.examples[0])

export const FilesListQuery = PageQuery
export type FilesListQuery = Static<typeof FilesListQuery>

/** Documents the multipart body; the handler reads it as a stream rather than having it validated. */
export const FileUpload = named(
  'FileUpload',
  Type.Object(
    {
      file: Type.String({
        format: 'binary',
        description:
          'The file. Allowed: plain UTF-8 text, PDF, PNG, JPEG, GIF, Word (.doc, .docx), judged by the content ' +
          'whatever its name or declared type; at most MAX_UPLOAD_BYTES',
      }),
    },
    { description: 'multipart/form-data with one part named "file"' },
  ),
  { file: '(the file’s bytes)' },
)

/** The download, served with the media type detected at upload (text/plain with charset=utf-8). */
export const fileContent = (mediaTypes: readonly string[]) => ({
  description: 'The stored bytes, as an attachment, with the media type detected at upload',
  content: Object.fromEntries(
    mediaTypes.map((type) => [type, { schema: { type: 'string', format: 'binary' } }]),
  ),
})
