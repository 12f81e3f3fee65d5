/**
 * Every HTTP call the UI makes, and the session they share. Views call the named functions below and
 * never build a URL or a fetch themselves, so a change of transport (a generated client, say) stays here.
 */

const BASE = '/api/v1'
const STORAGE_KEY = 'mathapi.session'

// ---------------------------------------------------------------- shapes (as API.md describes them)

export interface FieldError {
  path: string
  message: string
}

export interface Problem {
  title: string
  /** 0 when no answer arrived (network down, server unreachable). */
  status: number
  detail?: string
  errors?: FieldError[]
  requestId?: string
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

export type Role = 'user' | 'admin'

export interface User {
  id: string
  username: string
  email: string
  role: Role
  isActive?: boolean
  createdAt: string
}

export interface Page<T> {
  items: T[]
  total: number
  page: number
  pageSize: number
}

export type Operation = 'fibonacci' | 'factorial' | 'power'
export type Operand = number | string

export interface MathResult {
  operation: Operation
  input: Record<string, Operand>
  result: string
  exact: boolean
  digits: number
  cached: boolean
  computeMs: number
}

export interface StoredOperand {
  preview: string
  digits: number
  sha256: string
}

export interface HistoryEntry {
  id: string
  userId: string
  username: string
  operation: Operation
  /** A long operand is stored as a digest: its ends, its digit count and the SHA-256 of its text. */
  input: Record<string, Operand | StoredOperand>
  resultPreview: string | null
  digits: number | null
  exact: boolean | null
  cached: boolean
  computeMs: number | null
  status: number
  createdAt: string
}

export type TaskPriority = 'low' | 'medium' | 'high'
export type TaskStatus = 'pending' | 'in_progress' | 'completed'

export interface Task {
  id: string
  title: string
  description: string | null
  priority: TaskPriority
  status: TaskStatus
  dueDate: string | null
  ownerId: string
  createdAt: string
  updatedAt: string
}

export interface TaskInput {
  title: string
  description?: string | null
  priority?: TaskPriority
  status?: TaskStatus
  dueDate?: string | null
}

export interface TaskStatistics {
  total: number
  byStatus: Record<TaskStatus, number>
  byPriority: Record<TaskPriority, number>
  overdue: number
}

export interface Product {
  id: string
  name: string
  description: string | null
  price: number
  stock: number
  category: string
  sku: string
  createdAt: string
  updatedAt: string
}

export interface ProductInput {
  name: string
  description: string | null
  price: number
  stock: number
  category: string
  sku: string
}

export interface StoredFile {
  id: string
  filename: string
  size: number
  contentType: string
  sha256: string
  ownerId: string
  createdAt: string
}

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

interface TokenPair {
  access_token: string
  expires_in: number
  refresh_token: string
}

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
    let response: Response
    try {
      response = await fetch(`${BASE}/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ refresh_token: refreshToken }),
      })
    } catch {
      scheduleRefresh(10_000)
      return false
    }
    if (response.status === 400 || response.status === 401) {
      endSession('expired')
      return false
    }
    let pair: TokenPair
    try {
      if (!response.ok) throw new Error(`refresh answered ${response.status}`)
      pair = (await response.json()) as TokenPair
    } catch {
      // The service is busy, or something between us answered instead of it: the session may well
      // still be good, so try again shortly rather than log the user out.
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

interface RequestOptions {
  body?: unknown
  signal?: AbortSignal | undefined
  idempotencyKey?: string
  /** Sent without the session (log in, sign up, log out): no token, and no refresh first. */
  anonymous?: boolean
}

async function problemOf(response: Response): Promise<Problem> {
  let problem: Problem
  try {
    problem = (await response.json()) as Problem
    if (typeof problem !== 'object' || problem === null) throw new Error('not a problem')
    problem.status = response.status
  } catch {
    problem = { title: response.statusText || 'Request failed', status: response.status }
  }
  const retryAfter = Number(response.headers.get('retry-after'))
  if (retryAfter > 0) problem.retryAfter = retryAfter
  return problem
}

const networkError = () =>
  new ApiError({ title: 'Network error', status: 0, detail: 'The server could not be reached' })

async function send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
  const withSession = !options.anonymous
  if (withSession && session && Date.now() >= session.refreshAt) await refreshTokens()
  const attempt = () => {
    const headers = new Headers({ accept: 'application/json' })
    if (options.body !== undefined) headers.set('content-type', 'application/json')
    if (options.idempotencyKey) headers.set('idempotency-key', options.idempotencyKey)
    if (withSession && session) headers.set('authorization', `Bearer ${session.accessToken}`)
    return fetch(`${BASE}${path}`, {
      method,
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
      signal: options.signal ?? null,
    })
  }
  let response: Response
  try {
    response = await attempt()
    // A role change or a password change ends an access token early; one refresh tells whether the
    // session lives on, and if it does, with which role (startSession re-reads the user then).
    if (response.status === 401 && withSession && session && (await refreshTokens()))
      response = await attempt()
  } catch (error) {
    if (isAbort(error)) throw error
    throw networkError()
  }
  if (!response.ok) throw new ApiError(await problemOf(response))
  return response
}

async function request<T>(method: string, path: string, options?: RequestOptions): Promise<T> {
  const response = await send(method, path, options)
  return (response.status === 204 ? undefined : await response.json()) as T
}

/** A query string of the set values only. */
function query(params: Record<string, string | number | boolean | undefined | null>) {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '' && value !== false)
      search.set(key, String(value))
  }
  const text = search.toString()
  return text ? `?${text}` : ''
}

const id = (value: string) => encodeURIComponent(value)
/** Sends a creating POST under a key: the form's own RetryKey, or a new key when none is given. */
const keyed = <T>(
  keys: RetryKey | undefined,
  body: unknown,
  path: string,
  signal?: AbortSignal,
  anonymous = false,
) =>
  (keys ?? new RetryKey()).run(JSON.stringify(body), (idempotencyKey) =>
    request<T>('POST', path, { body, idempotencyKey, signal, anonymous }),
  )

// ---------------------------------------------------------------- auth and users

export async function login(username: string, password: string, signal?: AbortSignal) {
  const pair = await request<TokenPair>('POST', '/auth/login', {
    body: { username, password },
    signal,
    anonymous: true,
  })
  startSession(pair)
  return loadMe()
}

export const register = (
  body: { username: string; email: string; password: string },
  keys?: RetryKey,
  signal?: AbortSignal,
) => keyed<User>(keys, body, '/auth/register', signal, true)

/** Re-reads the signed-in user; a session the server no longer honours ends here. */
export async function loadMe(): Promise<User | null> {
  if (!session) return null
  const before = currentUser
  try {
    currentUser = await request<User>('GET', '/auth/me')
    userLoadedAt = Date.now()
  } catch (error) {
    if (error instanceof ApiError && error.problem.status === 401) endSession('expired')
    else throw error
    return null
  }
  if (!before) notify('login')
  else if (before.role !== currentUser.role || before.username !== currentUser.username) notify('user')
  return currentUser
}

export async function logout() {
  const refreshToken = session?.refreshToken
  if (refreshToken) {
    // Anonymous: a refresh first would spend the very token this revokes.
    await request('POST', '/auth/logout', { body: { refresh_token: refreshToken }, anonymous: true }).catch(
      () => undefined,
    )
  }
  endSession('logout')
}

export const listUsers = (page: number, pageSize: number, signal?: AbortSignal) =>
  request<Page<User>>('GET', `/users${query({ page, pageSize })}`, { signal })

export const setUserRole = (userId: string, role: Role) =>
  request<User>('PUT', `/users/${id(userId)}/role`, { body: { role } })

export const setUserActive = (userId: string, isActive: boolean) =>
  request<User>('PATCH', `/users/${id(userId)}`, { body: { isActive } })

export const deleteUser = (userId: string) => request<void>('DELETE', `/users/${id(userId)}`)

// ---------------------------------------------------------------- math and history

export const compute = (
  operation: Operation,
  body: Record<string, Operand>,
  keys?: RetryKey,
  signal?: AbortSignal,
) => keyed<MathResult>(keys, body, `/math/${operation}`, signal)

export const listHistory = (
  filter: { operation?: string; userId?: string; limit: number; cursor?: string | null },
  signal?: AbortSignal,
) =>
  request<{ items: HistoryEntry[]; nextCursor: string | null }>('GET', `/history${query(filter)}`, { signal })

// ---------------------------------------------------------------- tasks

export interface TaskFilter {
  page: number
  pageSize: number
  search?: string
  status?: string
  priority?: string
  sortBy?: string
  sortOrder?: string
}

export const listTasks = (filter: TaskFilter, signal?: AbortSignal) =>
  request<Page<Task>>('GET', `/tasks${query({ ...filter })}`, { signal })

export const taskStatistics = (signal?: AbortSignal) =>
  request<TaskStatistics>('GET', '/tasks/statistics', { signal })

export const createTask = (body: TaskInput, keys?: RetryKey, signal?: AbortSignal) =>
  keyed<Task>(keys, body, '/tasks', signal)

export const updateTask = (taskId: string, patch: Partial<TaskInput>, signal?: AbortSignal) =>
  request<Task>('PATCH', `/tasks/${id(taskId)}`, { body: patch, signal })

export const deleteTask = (taskId: string) => request<void>('DELETE', `/tasks/${id(taskId)}`)

// ---------------------------------------------------------------- products

export interface ProductFilter {
  page: number
  pageSize: number
  name?: string
  category?: string
  minPrice?: string
  maxPrice?: string
  inStockOnly?: boolean
  sortBy?: string
  sortOrder?: string
}

export const listProducts = (filter: ProductFilter, signal?: AbortSignal) =>
  request<Page<Product>>('GET', `/products${query({ ...filter })}`, { signal })

export const createProduct = (body: ProductInput, keys?: RetryKey, signal?: AbortSignal) =>
  keyed<Product>(keys, body, '/products', signal)

export const updateProduct = (productId: string, patch: Partial<ProductInput>, signal?: AbortSignal) =>
  request<Product>('PATCH', `/products/${id(productId)}`, { body: patch, signal })

export const deleteProduct = (productId: string) => request<void>('DELETE', `/products/${id(productId)}`)

// ---------------------------------------------------------------- files

export const listFiles = (page: number, pageSize: number, signal?: AbortSignal) =>
  request<Page<StoredFile>>('GET', `/files${query({ page, pageSize })}`, { signal })

export const deleteFile = (fileId: string) => request<void>('DELETE', `/files/${id(fileId)}`)

/** Fetches a file's content and hands it to the browser as a download. */
export async function downloadFile(file: StoredFile, signal?: AbortSignal) {
  const response = await send('GET', `/files/${id(file.id)}/content`, { signal })
  saveBlob(await response.blob(), file.filename)
}

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
    const problem = (typeof answer.body === 'object' && answer.body ? answer.body : {}) as Problem
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
    xhr.open('POST', `${BASE}/files`)
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
    const form = new FormData()
    form.append('file', file)
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
