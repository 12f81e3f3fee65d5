/**
 * Entry point for `npm start`, the CLI scripts and the container image. It refuses an unsupported
 * Node.js before the service's code loads: on Node 20, better-sqlite3's native binding dies with a
 * segmentation fault instead of saying why. Dynamic imports, so nothing else is loaded before the check.
 *
 *   node dist/start.js                  the HTTP server (src/server.ts)
 *   node dist/start.js cli <command>    the command line (src/cli.ts): migrate, create-admin
 */
await import(new URL('../scripts/check-node.mjs', import.meta.url).href)

if (process.argv[2] === 'cli') {
  // cli.ts reads its command from argv[2].
  process.argv.splice(2, 1)
  await import('./cli.js')
} else {
  await import('./server.js')
}
