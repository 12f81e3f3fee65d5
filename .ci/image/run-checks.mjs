// Runs the built image with Podman and checks what an operator relies on. Called by .ci/image/check.sh:
//   node .ci/image/run-checks.mjs IMAGE
// Every container, volume and network it creates carries this run's id and is removed at the end; the
// PostgreSQL schema and Redis keys it uses on the host's shared servers are its own and removed too.
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'

const image = process.argv[2]
if (!image) throw new Error('usage: node .ci/image/run-checks.mjs IMAGE')
const id = `mathapi-ci-${process.pid}-${randomBytes(3).toString('hex')}`
// crun fails on this machine (setrlimit, cgroups): runc, with explicit limits (check.sh sets them).
const LIMITS = (process.env.PODMAN_ULIMITS ?? 'nofile=20000:20000 nproc=8192:8192')
  .split(' ')
  .flatMap((limit) => ['--ulimit', limit])
const created = { containers: [], volumes: [], networks: [] }
const HOST_DATABASE = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const HOST_REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

function podman(...args) {
  return execFileSync('podman', ['--runtime', 'runc', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim()
}
const ok = (what) => console.log(`ok: ${what}`)
function fail(what) {
  throw new Error(what)
}

/** One HTTP exchange; the body as text, JSON parsed when it is JSON. */
function http(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, timeout: 15_000 }, (res) => {
      const chunks = []
      res.on('data', (chunk) => chunks.push(chunk))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json
        try {
          json = JSON.parse(text)
        } catch {}
        resolve({ status: res.statusCode, text, json, bytes: Buffer.concat(chunks) })
      })
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer in 15 s`)))
    req.on('error', reject)
    if (body !== undefined) req.write(Buffer.isBuffer(body) ? body : JSON.stringify(body))
    req.end()
  })
}
const jsonHeaders = (token) => ({
  'content-type': 'application/json',
  ...(token ? { authorization: `Bearer ${token}` } : {}),
})

/** The container's output; podman prints the service's stderr on its own stderr. */
function logsOf(container) {
  const result = spawnSync('podman', ['logs', container], { encoding: 'utf8' })
  return `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`
}

async function waitReady(base, container, seconds = 90) {
  const deadline = Date.now() + seconds * 1000
  let last = 'no answer'
  while (Date.now() < deadline) {
    try {
      const ready = await http(`${base}/health/ready`)
      if (ready.status === 200) return ready
      last = `${ready.status} ${ready.text}`
    } catch (error) {
      last = error.message
    }
    await sleep(500)
  }
  console.error(logsOf(container))
  fail(`${container}: /health/ready did not answer 200 within ${seconds} s (last: ${last})`)
}

function run(name, args) {
  podman('run', '--detach', '--name', name, ...LIMITS, ...args, image)
  created.containers.push(name)
  return name
}

function publishedBase(container) {
  // "127.0.0.1:41234"
  const address = podman('port', container, '8000/tcp').split('\n')[0]
  if (!address) fail(`${container}: port 8000 is not published`)
  return `http://${address.replace('0.0.0.0', '127.0.0.1')}`
}

const hostPidOf = (container) => podman('inspect', '--format', '{{.State.Pid}}', container)
const running = (container) => podman('inspect', '--format', '{{.State.Running}}', container) === 'true'

/** A multipart body with one `file` part. */
function multipart(filename, content) {
  const boundary = `ci${randomBytes(8).toString('hex')}`
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
      'Content-Type: text/plain\r\n\r\n',
  )
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
  return { body: Buffer.concat([head, content, tail]), type: `multipart/form-data; boundary=${boundary}` }
}

async function upload(base, token, filename, content) {
  const { body, type } = multipart(filename, content)
  const response = await http(`${base}/api/v1/files`, {
    method: 'POST',
    headers: { 'content-type': type, 'content-length': body.length, authorization: `Bearer ${token}` },
    body,
  })
  if (response.status !== 201) fail(`upload ${filename}: ${response.status} ${response.text}`)
  return response.json
}

async function signUp(base, username) {
  const password = `${username}-password-${randomBytes(4).toString('hex')}`
  const registered = await http(`${base}/api/v1/auth/register`, {
    method: 'POST',
    headers: jsonHeaders(),
    body: { username, email: `${username}@example.com`, password },
  })
  if (registered.status !== 201) fail(`register ${username}: ${registered.status} ${registered.text}`)
  return { username, password, ...(await logIn(base, username, password)) }
}

async function logIn(base, username, password) {
  const response = await http(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: jsonHeaders(),
    body: { username, password },
  })
  if (response.status !== 200) fail(`login ${username}: ${response.status} ${response.text}`)
  return { token: response.json.access_token }
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex')
const textFile = (lines) =>
  Buffer.from(Array.from({ length: lines }, (_, i) => `line ${i} of a text file uploaded by CI\n`).join(''))

/**
 * Starts an upload, sends SIGTERM to the container while the body is only half sent, then sends the
 * rest: the service must finish that request (201, every byte stored) before it exits, and exit 0.
 */
async function sigtermDuringUpload(base, container, token) {
  const content = textFile(30_000) // about 1.2 MB
  const { body, type } = multipart('in-flight.txt', content)
  const half = Math.floor(body.length / 2)
  let finish
  const answered = new Promise((resolve, reject) => {
    const req = request(
      `${base}/api/v1/files`,
      {
        method: 'POST',
        headers: { 'content-type': type, 'content-length': body.length, authorization: `Bearer ${token}` },
      },
      (res) => {
        const chunks = []
        res.on('data', (chunk) => chunks.push(chunk))
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }))
      },
    )
    req.on('error', reject)
    req.write(body.subarray(0, half))
    finish = () => req.end(body.subarray(half))
  })
  await sleep(500) // the service has the request and is reading its body
  podman('kill', '--signal', 'TERM', container)
  await sleep(1500)
  if (!running(container)) fail('the container exited on SIGTERM with a request still in flight')
  finish()
  const response = await answered
  if (response.status !== 201) fail(`in-flight upload after SIGTERM: ${response.status} ${response.text}`)
  const stored = JSON.parse(response.text)
  if (stored.sha256 !== sha256(content) || stored.size !== content.length)
    fail(`in-flight upload stored ${stored.size} bytes (sha256 ${stored.sha256}), sent ${content.length}`)
  const exitCode = podman('wait', container)
  if (exitCode !== '0')
    fail(`after SIGTERM the service exited with ${exitCode}, not 0:\n${logsOf(container)}`)
  ok(
    `SIGTERM with an upload half sent: the service waited, answered 201 (${content.length} bytes, sha256 matches), then exited 0`,
  )
  return stored
}

async function embeddedDefaults() {
  const network = `${id}-net`
  const volume = `${id}-data`
  podman('network', 'create', network)
  created.networks.push(network)
  podman('volume', 'create', volume)
  created.volumes.push(volume)
  const common = ['--network', network, '--publish', '127.0.0.1::8000', '--volume', `${volume}:/data`]
  const first = run(`${id}-a`, [...common, '--env', 'LOG_LEVEL=info', '--stop-timeout', '30'])
  let base = publishedBase(first)
  const ready = await waitReady(base, first)
  ok(`/health/ready 200 on the embedded defaults (SQLite in the /data volume): ${ready.text}`)

  // Non-root: the image's user, the process as the host sees it, and a read-only application directory.
  const configuredUser = podman('image', 'inspect', '--format', '{{.Config.User}}', image)
  if (configuredUser !== 'node') fail(`image user is "${configuredUser}", not node`)
  const hostUid = execFileSync('ps', ['-o', 'uid=', '-p', hostPidOf(first)], { encoding: 'utf8' }).trim()
  if (hostUid === '0' || hostUid === '') fail(`the service runs as host uid ${hostUid || '?'}`)
  const inside = podman(
    'exec',
    first,
    'sh',
    '-c',
    'id -u; touch /app/probe 2>/dev/null && echo writable || echo read-only; test -w /data && echo data-writable',
  )
  if (inside !== '1000\nread-only\ndata-writable') fail(`inside the container: ${JSON.stringify(inside)}`)
  ok(`non-root: image USER node, process uid ${hostUid} on the host, /app read-only, /data writable`)

  const alice = await signUp(base, 'alice')
  const note = textFile(200)
  const small = await upload(base, alice.token, 'note.txt', note)
  const fib = await http(`${base}/api/v1/math/fibonacci/300`, { headers: jsonHeaders(alice.token) })
  if (fib.status !== 200) fail(`fibonacci: ${fib.status} ${fib.text}`)
  const big = await sigtermDuringUpload(base, first, alice.token)

  // Restart (the same container) and re-creation (a new container on the same volume).
  podman('start', first)
  base = publishedBase(first)
  await waitReady(base, first)
  await expectAliceData(base, alice, [small, big], fib.json, 'restart')
  podman('stop', '--time', '30', first)
  const second = run(`${id}-b`, common)
  base = publishedBase(second)
  await waitReady(base, second)
  await expectAliceData(base, alice, [small, big], fib.json, 're-creation on the same volume')
  const notFound = await http(`${base}/api/v1/files/${small.id}/content`, {
    headers: jsonHeaders((await signUp(base, 'mallory')).token),
  })
  if (notFound.status !== 404) fail(`another user's file: ${notFound.status}`)
  podman('stop', '--time', '30', second)
}

async function expectAliceData(base, alice, files, fib, after) {
  // The old access token still verifies: the generated JWT secret lives in /data too.
  const me = await http(`${base}/api/v1/auth/me`, { headers: jsonHeaders(alice.token) })
  if (me.status !== 200 || me.json.username !== 'alice')
    fail(`after ${after}: /auth/me ${me.status} ${me.text}`)
  const again = await logIn(base, alice.username, alice.password)
  for (const file of files) {
    const content = await http(`${base}/api/v1/files/${file.id}/content`, {
      headers: jsonHeaders(again.token),
    })
    if (content.status !== 200 || sha256(content.bytes) !== file.sha256)
      fail(`after ${after}: file ${file.id} answered ${content.status}, sha256 ${sha256(content.bytes)}`)
  }
  const history = await http(`${base}/api/v1/history`, { headers: jsonHeaders(again.token) })
  if (history.status !== 200 || !history.text.includes('fibonacci'))
    fail(`after ${after}: history ${history.status} ${history.text.slice(0, 300)}`)
  if (!fib?.result) fail('the fibonacci answer had no result')
  ok(`after ${after}: account, token, login, ${files.length} files (sha256 equal) and history are all there`)
}

async function hostServices() {
  const schema = `ci_image_${id.replace(/[^a-z0-9]/g, '_')}`
  const prefix = `${id}:`
  const database = new URL(HOST_DATABASE)
  database.searchParams.set('schema', schema)
  const volume = `${id}-host-data`
  podman('volume', 'create', volume)
  created.volumes.push(volume)
  // Host networking: the container reaches the host's PostgreSQL and Redis on 127.0.0.1. PORT=0 lets the
  // service pick a free port; its log says which.
  const container = run(`${id}-host`, [
    '--network',
    'host',
    '--volume',
    `${volume}:/data`,
    '--env',
    'PORT=0',
    '--env',
    'HOST=127.0.0.1',
    '--env',
    'LOG_LEVEL=info',
    '--env',
    `DATABASE_URL=${database}`,
    '--env',
    `REDIS_URL=${HOST_REDIS}`,
    '--env',
    `REDIS_KEY_PREFIX=${prefix}`,
    '--env',
    `JWT_SECRET=${randomBytes(48).toString('base64')}`,
  ])
  try {
    let port
    for (let i = 0; i < 120 && !port; i++) {
      port = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(logsOf(container))?.[1]
      if (!port) await sleep(500)
    }
    if (!port) fail(`the service did not start on the host's PostgreSQL and Redis:\n${logsOf(container)}`)
    const base = `http://127.0.0.1:${port}`
    const ready = await waitReady(base, container)
    const bob = await signUp(base, 'bob')
    for (let i = 0; i < 2; i++) {
      const fact = await http(`${base}/api/v1/math/factorial/500`, { headers: jsonHeaders(bob.token) })
      if (fact.status !== 200) fail(`factorial: ${fact.status} ${fact.text}`)
    }
    const users = execFileSync(
      'psql',
      [HOST_DATABASE, '-Atc', `select count(*) from ${schema}.users where username = 'bob'`],
      { encoding: 'utf8' },
    ).trim()
    if (users !== '1') fail(`bob is not in PostgreSQL schema ${schema} (count ${users})`)
    const keys = redisKeys(prefix)
    if (keys.length === 0) fail(`no Redis key under ${prefix}`)
    ok(
      `on the host's PostgreSQL (schema ${schema}) and Redis (prefix ${prefix}): ready ${ready.text}; bob's row is in PostgreSQL, ${keys.length} keys in Redis`,
    )
  } finally {
    try {
      podman('stop', '--time', '30', container)
    } catch {}
    execFileSync('psql', [HOST_DATABASE, '-qc', `drop schema if exists ${schema} cascade`], {
      stdio: 'ignore',
    })
    const keys = redisKeys(prefix)
    if (keys.length > 0) execFileSync('redis-cli', ['-u', HOST_REDIS, 'del', ...keys], { stdio: 'ignore' })
  }
}

function redisKeys(prefix) {
  const out = execFileSync('redis-cli', ['-u', HOST_REDIS, '--scan', '--pattern', `${prefix}*`], {
    encoding: 'utf8',
  })
  return out.split('\n').filter((key) => key.startsWith(prefix))
}

let failed = false
try {
  await embeddedDefaults()
  await hostServices()
} catch (error) {
  failed = true
  console.error(`FAILED: ${error.message}`)
} finally {
  for (const container of created.containers.reverse()) {
    if (failed) console.error(`--- logs of ${container}\n${logsOf(container).slice(-4000)}`)
    try {
      podman('rm', '--force', '--time', '5', container)
    } catch {}
  }
  for (const volume of created.volumes) {
    try {
      podman('volume', 'rm', '--force', volume)
    } catch {}
  }
  for (const network of created.networks) {
    try {
      podman('network', 'rm', '--force', network)
    } catch {}
  }
}
process.exit(failed ? 1 : 0)
