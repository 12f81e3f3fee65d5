import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import pino from 'pino'
import { createServices } from './app.js'
import { loadConfig } from './config.js'
import { migrateToLatest, openDatabase } from './platform/database.js'

const USAGE = `usage:
  npm run migrate                       apply pending database migrations
  npm run create-admin -- --username NAME --email ADDRESS
                                        create (or promote) an admin; the password is read from
                                        ADMIN_PASSWORD or, when unset, from standard input`

async function readPassword(): Promise<string> {
  if (process.env.ADMIN_PASSWORD) return process.env.ADMIN_PASSWORD
  if (process.stdin.isTTY) process.stderr.write('password: ')
  const lines = createInterface({ input: process.stdin, terminal: false })
  for await (const line of lines) {
    lines.close()
    return line
  }
  return ''
}

async function migrate(): Promise<void> {
  const config = loadConfig(process.env, { dotenv: true })
  const database = await openDatabase(config.databaseUrl)
  try {
    const applied = await migrateToLatest(database)
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date')
  } finally {
    await database.close()
  }
}

async function createAdmin(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { username: { type: 'string' }, email: { type: 'string' } } })
  if (!values.username || !values.email) throw new UsageError('--username and --email are required')
  if (!/^[A-Za-z0-9_.-]{3,32}$/.test(values.username))
    throw new UsageError('username: 3–32 of A-Z a-z 0-9 _ . -')
  const password = await readPassword()
  if (password.length < 8 || password.length > 128) throw new UsageError('password must be 8–128 characters')
  const config = loadConfig(process.env, { dotenv: true })
  // The service's own rules (hashing, uniqueness, cache invalidation across instances) apply here too.
  const services = await createServices(config, pino({ level: 'warn' }))
  try {
    const { user, created } = await services.users.ensureAdmin({
      username: values.username,
      email: values.email,
      password,
    })
    console.log(`${created ? 'created' : 'promoted'} admin ${user.username} (${user.id})`)
  } finally {
    await services.close()
  }
}

class UsageError extends Error {}

const [command, ...rest] = process.argv.slice(2)
try {
  if (command === 'migrate') await migrate()
  else if (command === 'create-admin') await createAdmin(rest)
  else throw new UsageError(command ? `unknown command "${command}"` : 'no command given')
} catch (error) {
  console.error(
    error instanceof UsageError ? `${error.message}\n${USAGE}` : `failed: ${(error as Error).message}`,
  )
  process.exitCode = 1
}
