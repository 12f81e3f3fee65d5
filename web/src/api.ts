import { h } from './dom'

const BASE = '/api/v1'
const STORAGE_KEY = 'mathapi.session'

export interface FieldError {
  path: string
  message: string
}

export interface Problem {
  title: string
  status: number
  detail?: string
  errors?: FieldError[]
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title)
  }
}

export interface User {
  id: string
  username: string
  email: string
  role: 'user' | 'admin'
  isActive?: boolean
  createdAt: string
}

export interface Page<T> {
  items: T[]
  total: number
  page: number
  pageSize: number
}

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

let session: Session | null = readSession()
let currentUser: User | null = null
let refreshTimer: number | undefined
let refreshing: Promise<boolean> | null = null
const listeners = new Set<() => void>()

function readSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY)
    return raw ? (JSON.parse(raw) as Session) : null
  } catch {
    return null
  }
}

function setSession(pair: TokenPair | null) {
  window.clearTimeout(refreshTimer)
  if (!pair) {
    session = null
    currentUser = null
    sessionStorage.removeItem(STORAGE_KEY)
    for (const listener of listeners) listener()
    return
  }
  const ttlMs = pair.expires_in * 1000
  session = {
    accessToken: pair.access_token,
    refreshToken: pair.refresh_token,
    refreshAt: Date.now() + ttlMs - Math.min(60_000, ttlMs / 5),
  }
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session))
  scheduleRefresh()
}

function scheduleRefresh() {
  window.clearTimeout(refreshTimer)
  if (!session) return
  refreshTimer = window.setTimeout(() => void refreshTokens(), Math.max(0, session.refreshAt - Date.now()))
}

/** One refresh at a time: concurrent callers share it, since a refresh token is single use. */
function refreshTokens(): Promise<boolean> {
  refreshing ??= (async () => {
    const refreshToken = session?.refreshToken
    if (!refreshToken) return false
    const response = await fetch(`${BASE}/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: refreshToken }),
    })
    if (!response.ok) {
      setSession(null)
      return false
    }
    setSession(await response.json())
    return true
  })().finally(() => {
    refreshing = null
  })
  return refreshing
}

export const onSessionChange = (listener: () => void) => listeners.add(listener)
export const isLoggedIn = () => session !== null
export const me = () => currentUser

async function problemOf(response: Response): Promise<Problem> {
  try {
    return (await response.json()) as Problem
  } catch {
    return { title: response.statusText || 'Request failed', status: response.status }
  }
}

async function send(path: string, init: RequestInit): Promise<Response> {
  if (session && Date.now() >= session.refreshAt) await refreshTokens()
  const attempt = () => {
    const headers = new Headers(init.headers)
    headers.set('accept', 'application/json')
    if (session) headers.set('authorization', `Bearer ${session.accessToken}`)
    return fetch(`${BASE}${path}`, { ...init, headers })
  }
  let response = await attempt()
  // A role change or a password change ends an access token early; one refresh tells whether the
  // session lives on, and if it does, with which role.
  if (response.status === 401 && session && (await refreshTokens())) {
    response = await attempt()
    if (path !== '/auth/me') void loadMe()
  }
  if (!response.ok) throw new ApiError(await problemOf(response))
  return response
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method }
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/json' }
    init.body = JSON.stringify(body)
  }
  const response = await send(path, init)
  return (response.status === 204 ? undefined : await response.json()) as T
}

/** Builds a query string from the set values only. */
export function query(params: Record<string, string | number | boolean | undefined | null>) {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value))
  }
  const text = search.toString()
  return text ? `?${text}` : ''
}

export async function login(username: string, password: string) {
  setSession(await api<TokenPair>('POST', '/auth/login', { username, password }))
  return loadMe()
}

export async function loadMe(): Promise<User | null> {
  if (!session) return null
  try {
    currentUser = await api<User>('GET', '/auth/me')
  } catch (error) {
    if (!(error instanceof ApiError) || error.problem.status !== 401) throw error
    setSession(null)
  }
  for (const listener of listeners) listener()
  return currentUser
}

export async function logout() {
  const refreshToken = session?.refreshToken
  if (refreshToken) {
    await api('POST', '/auth/logout', { refresh_token: refreshToken }).catch(() => undefined)
  }
  setSession(null)
}

/** Saves a Blob under a file name through a temporary link. */
export function saveBlob(blob: Blob, filename: string) {
  const url = URL.createObjectURL(blob)
  const link = h('a', { href: url, download: filename })
  document.body.append(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

export async function download(path: string, filename: string) {
  const response = await send(path, { method: 'GET' })
  saveBlob(await response.blob(), filename)
}

/** XMLHttpRequest rather than fetch: only it reports upload progress. */
export async function upload<T>(
  path: string,
  file: File,
  onProgress: (fraction: number) => void,
): Promise<T> {
  if (session && Date.now() >= session.refreshAt) await refreshTokens()
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', `${BASE}${path}`)
    xhr.setRequestHeader('accept', 'application/json')
    if (session) xhr.setRequestHeader('authorization', `Bearer ${session.accessToken}`)
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total)
    })
    xhr.addEventListener('load', () => {
      let body: unknown
      try {
        body = JSON.parse(xhr.responseText)
      } catch {
        body = { title: xhr.statusText || 'Upload failed', status: xhr.status }
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as T)
      else reject(new ApiError(body as Problem))
    })
    xhr.addEventListener('error', () => reject(new ApiError({ title: 'Network error', status: 0 })))
    const form = new FormData()
    form.append('file', file)
    xhr.send(form)
  })
}

scheduleRefresh()
