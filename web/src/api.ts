/**
 * Every HTTP call the UI makes, and the session they share. Views call the named functions below and
 * never build a URL or a fetch themselves. Calls go through openapi-fetch with the types generated from
 * the service's OpenAPI document (api-schema.d.ts, `npm run openapi:types`): a path, parameter, body or
 * response that no longer matches the contract fails to compile here or in the view that uses it.
 */
import createClient from 'openapi-fetch'
import type { components, operations, paths } from './api-schema'

const STORAGE_KEY = 'mathapi.session'

// ---------------------------------------------------------------- shapes (the API's named schemas)

type Schemas = components['schemas']

export type FieldError = NonNullable<Schemas['Problem']['errors']>[number]

/** A problem document as the UI shows it: the API's Problem, or one made up when no answer arrived. */
export interface Problem extends Partial<Omit<Schemas['Problem'], 'title' | 'status'>> {
  title: string
  /** 0 when no answer arrived (network down, server unreachable). */
  status: number
  /** Seconds, from Retry-After (429, 503). */
  retryAfter?: number
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title)
  }
}

/** True for a request cancelled because its view was left or a newer request replaced it. */
export const isAbort = (error: unknown) => error instanceof DOMException && error.name === 'AbortError'

export type User = Schemas['User']
export type Role = User['role']
/** A page of any listing: every page schema has these fields. */
export type Page<T> = Omit<Schemas['UsersPage'], 'items'> & { items: T[] }
export type MathResult = Schemas['MathResult']
export type Operation = MathResult['operation']
export type Operand = Schemas['MathN']['n']
export type HistoryEntry = Schemas['HistoryEntry']
export type Task = Schemas['Task']
export type TaskInput = Schemas['TaskInput']
export type TaskPatch = Schemas['TaskPatch']
export type TaskPriority = Task['priority']
export type TaskStatus = Task['status']
export type TaskStatistics = Schemas['TaskStatistics']
export type Product = Schemas['Product']
export type ProductInput = Schemas['ProductInput']
export type ProductPatch = Schemas['ProductPatch']
export type StoredFile = Schemas['FileMetadata']
type TokenPair = Schemas['TokenPair']

/** The query parameters an operation takes, as the document lists them. */
type QueryOf<Id extends keyof operations> = NonNullable<operations[Id]['parameters']['query']>

// ---------------------------------------------------------------- idempotency keys

/** A UUID v4; crypto.randomUUID exists only in secure contexts, and the UI may be opened over plain http on a LAN. */
export function newKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID()
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  bytes[6] = (bytes[6]! & 0x0f) | 0x40
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/**
 * The Idempotency-Key of one form's creating POST. Sending the same thing again after an unknown outcome
 * (no answer arrived, or the server said a request with this key is still running) reuses the key, so a
 * lost response retried by hand never creates twice; any other answer, or a changed body, starts a new key.
 */
export class RetryKey {
  private last: { identity: string; key: string } | null = null

  async run<T>(identity: string, send: (key: string) => Promise<T>): Promise<T> {
    if (this.last?.identity !== identity) this.last = { identity, key: newKey() }
    const attempt = this.last
    try {
      const result = await send(attempt.key)
      if (this.last === attempt) this.last = null
      return result
    } catch (error) {
      const status = error instanceof ApiError ? error.problem.status : undefined
      const unknownOutcome = isAbort(error) || status === 0 || status === 409
      if (!unknownOutcome && this.last === attempt) this.last = null
      throw error
    }
  }
}

// ---------------------------------------------------------------- session

interface Session {
  accessToken: string
  refreshToken: string
  /** When to refresh: a little before the access token expires, so no request meets an expired one. */
  refreshAt: number
}

/** Why the session changed: listeners tell a fresh login from an expiry the user should be told about. */
export type SessionChange = 'login' | 'logout' | 'expired' | 'user'

let session: Session | null = readSession()
let currentUser: User | null = null
let userLoadedAt = 0
let refreshTimer: number | undefined
let refreshing: Promise<boolean> | null = null
const listeners = new Set<(change: SessionChange) => void>()

function readSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY)
    return raw ? (JSON.parse(raw) as Session) : null
  } catch {
    return null
  }
}

function notify(change: SessionChange) {
  for (const listener of listeners) listener(change)
}

function endSession(change: 'logout' | 'expired') {
  window.clearTimeout(refreshTimer)
  const had = session !== null
  session = null
  currentUser = null
  sessionStorage.removeItem(STORAGE_KEY)
  if (had) notify(change)
}

/** The claims of an access token, read without verifying it: the server verifies, the UI only follows. */
function claimsOf(token: string): { sub?: string; role?: string } {
  try {
    const payload = token.split('.')[1] ?? ''
    return JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')))
  } catch {
    return {}
  }
}

function startSession(pair: TokenPair) {
  const ttlMs = pair.expires_in * 1000
  // A token's exp is in whole seconds, so it may die up to a second before expires_in says: refresh
  // that much earlier again, never later than half-way through its life.
  const margin = Math.min(60_000, ttlMs / 5) + 1_000
  session = {
    accessToken: pair.access_token,
    refreshToken: pair.refresh_token,
    refreshAt: Date.now() + Math.max(ttlMs / 2, ttlMs - margin),
  }
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session))
  scheduleRefresh(session.refreshAt - Date.now())
  // A new token carries the role as the server knows it now: a promotion or demotion made elsewhere
  // shows up here at the next refresh, without the user reloading.
  const claims = claimsOf(pair.access_token)
  if (currentUser && (claims.role !== currentUser.role || claims.sub !== currentUser.id)) void loadMe()
}

function scheduleRefresh(delayMs: number) {
  window.clearTimeout(refreshTimer)
  if (!session) return
  refreshTimer = window.setTimeout(() => void refreshTokens(), Math.max(0, delayMs))
}

/**
 * One refresh at a time: concurrent callers share it, since a refresh token is single use. A refused
 * refresh ends the session; no answer at all (offline) keeps it and tries again shortly.
 */
function refreshTokens(): Promise<boolean> {
  refreshing ??= (async () => {
    const refreshToken = session?.refreshToken
    if (!refreshToken) return false
    let answer: Awaited<ReturnType<typeof refreshCall>>
    try {
      answer = await refreshCall(refreshToken)
    } catch {
      scheduleRefresh(10_000)
      return false
    }
    const { response, data: pair } = answer
    if (response.status === 400 || response.status === 401) {
      endSession('expired')
      return false
    }
    // The service is busy, or something between us answered instead of it: the session may well still
    // be good, so try again shortly rather than log the user out.
    if (!response.ok || !pair) {
      scheduleRefresh(10_000)
      return false
    }
    startSession(pair)
    return true
  })().finally(() => {
    refreshing = null
  })
  return refreshing
}

export const onSessionChange = (listener: (change: SessionChange) => void) => listeners.add(listener)
export const isLoggedIn = () => session !== null
export const me = () => currentUser

// ---------------------------------------------------------------- transport

/** A query string of the set values only: an empty filter field is left out, not sent empty. */
function query(params: Record<string, unknown>) {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '' && value !== false)
      search.set(key, String(value))
  }
  return search.toString()
}

const clientOptions = { headers: { accept: 'application/json' }, querySerializer: query }

/** Sent without the session (log in, sign up, refresh, log out): no token, and no refresh first. */
const anonymous = createClient<paths>(clientOptions)

/**
 * Everything else carries the session's access token, refreshed first when it is about to expire. A role
 * change or a password change ends an access token early; one refresh tells whether the session lives on,
 * and if it does, the request is sent once more (startSession re-reads the user then).
 */
async function withSession(request: Request): Promise<Response> {
  if (session && Date.now() >= session.refreshAt) await refreshTokens()
  const spare = request.clone()
  const attempt = (outgoing: Request) => {
    if (session) outgoing.headers.set('authorization', `Bearer ${session.accessToken}`)
    return fetch(outgoing)
  }
  const response = await attempt(request)
  if (response.status === 401 && session && (await refreshTokens())) return attempt(spare)
  return response
}

const client = createClient<paths>({ ...clientOptions, fetch: withSession })

const refreshCall = (refreshToken: string) =>
  anonymous.POST('/api/v1/auth/refresh', { body: { refresh_token: refreshToken } })

function problemOf(response: Response, body: unknown): Problem {
  const problem: Problem =
    typeof body === 'object' && body !== null
      ? { ...(body as Problem), status: response.status }
      : { title: response.statusText || 'Request failed', status: response.status }
  const retryAfter = Number(response.headers.get('retry-after'))
  if (retryAfter > 0) problem.retryAfter = retryAfter
  return problem
}

const networkError = () =>
  new ApiError({ title: 'Network error', status: 0, detail: 'The server could not be reached' })

/** What a call answered: its data, or an ApiError with the problem document (status 0: no answer). */
async function answered<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: Awaited<typeof call>
  try {
    result = await call
  } catch (error) {
    if (isAbort(error)) throw error
    throw networkError()
  }
  if (!result.response.ok) throw new ApiError(problemOf(result.response, result.error))
  return result.data as T
}

/** Sends a creating POST under a key: the form's own RetryKey, or a new key when none is given. */
const keyed = <T>(
  keys: RetryKey | undefined,
  body: unknown,
  send: (header: { 'idempotency-key': string }) => Promise<{ data?: T; error?: unknown; response: Response }>,
) =>
  (keys ?? new RetryKey()).run(JSON.stringify(body), (idempotencyKey) =>
    answered(send({ 'idempotency-key': idempotencyKey })),
  )

// ---------------------------------------------------------------- auth and users

export async function login(username: string, password: string, signal?: AbortSignal) {
  const pair = await answered(anonymous.POST('/api/v1/auth/login', { body: { username, password }, signal }))
  startSession(pair)
  return loadMe()
}

export const register = (body: Schemas['Registration'], keys?: RetryKey, signal?: AbortSignal) =>
  keyed(keys, body, (header) => anonymous.POST('/api/v1/auth/register', { params: { header }, body, signal }))

/** Re-reads the signed-in user; a session the server no longer honours ends here. */
export async function loadMe(): Promise<User | null> {
  if (!session) return null
  const before = currentUser
  let user: User
  try {
    user = await answered(client.GET('/api/v1/auth/me'))
    currentUser = user
    userLoadedAt = Date.now()
  } catch (error) {
    if (error instanceof ApiError && error.problem.status === 401) endSession('expired')
    else throw error
    return null
  }
  if (!before) notify('login')
  else if (before.role !== user.role || before.username !== user.username) notify('user')
  return user
}

export async function logout() {
  const refreshToken = session?.refreshToken
  if (refreshToken) {
    // Anonymous: a refresh first would spend the very token this revokes.
    await answered(anonymous.POST('/api/v1/auth/logout', { body: { refresh_token: refreshToken } })).catch(
      () => undefined,
    )
  }
  endSession('logout')
}

const byId = (id: string) => ({ params: { path: { id } } })

export const listUsers = (page: number, pageSize: number, signal?: AbortSignal) =>
  answered(client.GET('/api/v1/users', { params: { query: { page, pageSize } }, signal }))

export const setUserRole = (userId: string, role: Role) =>
  answered(client.PUT('/api/v1/users/{id}/role', { ...byId(userId), body: { role } }))

export const setUserActive = (userId: string, isActive: boolean) =>
  answered(client.PATCH('/api/v1/users/{id}', { ...byId(userId), body: { isActive } }))

export const deleteUser = (userId: string) => answered(client.DELETE('/api/v1/users/{id}', byId(userId)))

// ---------------------------------------------------------------- math and history

export type MathInput = Schemas['MathN'] | Schemas['PowerInput']

export function compute(
  operation: Operation,
  body: MathInput,
  keys?: RetryKey,
  signal?: AbortSignal,
): Promise<MathResult> {
  // Math calls create nothing, so the API declares no Idempotency-Key for them; the UI sends one anyway,
  // like every creating request it makes, which the service ignores.
  return (keys ?? new RetryKey()).run(JSON.stringify(body), (idempotencyKey) => {
    const init = { headers: { 'idempotency-key': idempotencyKey }, signal }
    if (operation === 'power') {
      if (!('base' in body)) throw new TypeError('power needs base and exponent')
      return answered(client.POST('/api/v1/math/power', { ...init, body }))
    }
    if (!('n' in body)) throw new TypeError(`${operation} needs n`)
    return answered(
      operation === 'fibonacci'
        ? client.POST('/api/v1/math/fibonacci', { ...init, body })
        : client.POST('/api/v1/math/factorial', { ...init, body }),
    )
  })
}

export type HistoryQuery = QueryOf<'history-list'>

export const listHistory = (filter: HistoryQuery, signal?: AbortSignal) =>
  answered(client.GET('/api/v1/history', { params: { query: filter }, signal }))

// ---------------------------------------------------------------- tasks

export type TaskFilter = QueryOf<'tasks-list'>

export const listTasks = (filter: TaskFilter, signal?: AbortSignal) =>
  answered(client.GET('/api/v1/tasks', { params: { query: filter }, signal }))

export const taskStatistics = (signal?: AbortSignal) =>
  answered(client.GET('/api/v1/tasks/statistics', { signal }))

export const createTask = (body: TaskInput, keys?: RetryKey, signal?: AbortSignal) =>
  keyed(keys, body, (header) => client.POST('/api/v1/tasks', { params: { header }, body, signal }))

export const updateTask = (taskId: string, patch: TaskPatch, signal?: AbortSignal) =>
  answered(client.PATCH('/api/v1/tasks/{id}', { ...byId(taskId), body: patch, signal }))

export const deleteTask = (taskId: string) => answered(client.DELETE('/api/v1/tasks/{id}', byId(taskId)))

// ---------------------------------------------------------------- products

export type ProductFilter = QueryOf<'products-list'>

export const listProducts = (filter: ProductFilter, signal?: AbortSignal) =>
  answered(client.GET('/api/v1/products', { params: { query: filter }, signal }))

export const createProduct = (body: ProductInput, keys?: RetryKey, signal?: AbortSignal) =>
  keyed(keys, body, (header) => client.POST('/api/v1/products', { params: { header }, body, signal }))

export const updateProduct = (productId: string, patch: ProductPatch, signal?: AbortSignal) =>
  answered(client.PATCH('/api/v1/products/{id}', { ...byId(productId), body: patch, signal }))

export const deleteProduct = (productId: string) =>
  answered(client.DELETE('/api/v1/products/{id}', byId(productId)))

// ---------------------------------------------------------------- files

export const listFiles = (page: number, pageSize: number, signal?: AbortSignal) =>
  answered(client.GET('/api/v1/files', { params: { query: { page, pageSize } }, signal }))

export const deleteFile = (fileId: string) => answered(client.DELETE('/api/v1/files/{id}', byId(fileId)))

/** Fetches a file's content and hands it to the browser as a download. */
export async function downloadFile(file: StoredFile, signal?: AbortSignal) {
  const content = await answered(
    client.GET('/api/v1/files/{id}/content', { ...byId(file.id), parseAs: 'blob', signal }),
  )
  saveBlob(content, file.filename)
}

/** The upload's path and form, as the document describes them (only XMLHttpRequest reports progress). */
const UPLOAD_PATH = '/api/v1/files' satisfies keyof paths
type UploadForm = operations['files-upload']['requestBody']['content']['multipart/form-data']

/** XMLHttpRequest rather than fetch: only it reports upload progress. */
export function uploadFile(
  file: File,
  onProgress: (fraction: number) => void,
  keys?: RetryKey,
  signal?: AbortSignal,
): Promise<StoredFile> {
  const identity = `${file.name}\n${file.size}\n${file.lastModified}`
  return (keys ?? new RetryKey()).run(identity, async (idempotencyKey) => {
    if (session && Date.now() >= session.refreshAt) await refreshTokens()
    let answer = await xhrUpload(file, idempotencyKey, onProgress, signal)
    if (answer.status === 401 && session && (await refreshTokens())) {
      answer = await xhrUpload(file, idempotencyKey, onProgress, signal)
    }
    if (answer.status >= 200 && answer.status < 300) return answer.body as StoredFile
    const problem = (typeof answer.body === 'object' && answer.body ? answer.body : {}) as Partial<Problem>
    throw new ApiError({ ...problem, title: problem.title ?? 'Upload failed', status: answer.status })
  })
}

function xhrUpload(
  file: File,
  idempotencyKey: string,
  onProgress: (fraction: number) => void,
  signal?: AbortSignal,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new DOMException('Upload cancelled', 'AbortError'))
    const xhr = new XMLHttpRequest()
    xhr.open('POST', UPLOAD_PATH)
    xhr.setRequestHeader('accept', 'application/json')
    xhr.setRequestHeader('idempotency-key', idempotencyKey)
    if (session) xhr.setRequestHeader('authorization', `Bearer ${session.accessToken}`)
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total)
    })
    xhr.addEventListener('load', () => {
      let body: unknown
      try {
        body = JSON.parse(xhr.responseText)
      } catch {
        body = undefined
      }
      resolve({ status: xhr.status, body })
    })
    xhr.addEventListener('error', () => reject(networkError()))
    xhr.addEventListener('abort', () => reject(new DOMException('Upload cancelled', 'AbortError')))
    signal?.addEventListener('abort', () => xhr.abort(), { once: true })
    const fields: UploadForm = { file }
    const form = new FormData()
    form.append('file', fields.file)
    xhr.send(form)
  })
}

/** Saves a Blob under a file name through a temporary link. */
export function saveBlob(blob: Blob, filename: string) {
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = filename
  document.body.append(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

// ---------------------------------------------------------------- keeping the session current

if (session) scheduleRefresh(session.refreshAt - Date.now())

/**
 * Back to a tab after a while: re-read the user, so a role changed meanwhile shows at once rather than at
 * the next token refresh. At most once every 30 seconds.
 */
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && session && Date.now() - userLoadedAt > 30_000) {
    loadMe().catch(() => undefined)
  }
})
