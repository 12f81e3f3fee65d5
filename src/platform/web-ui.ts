import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'

/** Where `vite build` puts the UI; the same path from src/ (tests, tsx) and from dist/ (npm start). */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../dist/web', import.meta.url))

/**
 * The single-page app's own paths (web/src/main.ts). A deep link to one of them loads index.html;
 * any other unknown path keeps answering problem+json 404, so API clients never get HTML by mistake.
 */
export const UI_ROUTES = [
  '/login',
  '/signup',
  '/calculator',
  '/history',
  '/tasks',
  '/files',
  '/products',
  '/admin',
] as const

const IMMUTABLE = 'public, max-age=31536000, immutable'

/** Serves the built UI at `/`; does nothing when it has not been built, so the API runs from source alone. */
export async function registerWebUi(app: FastifyInstance, root: string): Promise<void> {
  if (!existsSync(join(root, 'index.html'))) {
    app.log.info({ root }, 'web UI not built; serving the API only')
    return
  }
  await app.register(fastifyStatic, {
    root,
    // Routes for the files present at start-up only: a missing file falls through to the 404 handler.
    wildcard: false,
    cacheControl: false,
    setHeaders(reply, path) {
      // File names under assets/ carry a content hash, so they never change; index.html must be revalidated.
      reply.header('cache-control', path.startsWith(join(root, 'assets')) ? IMMUTABLE : 'no-cache')
    },
  })
  for (const route of UI_ROUTES) {
    app.get(route, { schema: { hide: true } }, (_request, reply) => reply.sendFile('index.html'))
  }
}
