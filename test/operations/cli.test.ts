import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'

const run = promisify(execFile)
const CLI = ['--import', 'tsx', 'src/cli.ts']

function cli(args: string[], env: Record<string, string>, input?: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [...CLI, ...args], {
      env: { ...process.env, ...env },
      cwd: process.cwd(),
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(input ?? '')
  })
}

describe('command line', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mathapi-cli-'))
  const env = {
    DATABASE_URL: `sqlite:${join(dataDir, 'cli.db')}`,
    DATA_DIR: dataDir,
    JWT_SECRET: randomBytes(48).toString('base64url'),
  }

  it('migrate applies migrations, then reports the database up to date', async () => {
    const first = await cli(['migrate'], env)
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(/applied: 0001-users/)
    const second = await cli(['migrate'], env)
    expect(second.stdout).toMatch(/up to date/)
  })

  it('migrate exits non-zero when the database is unreachable', async () => {
    const result = await cli(['migrate'], { ...env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' })
    expect(result.code).not.toBe(0)
    expect(result.stderr).toMatch(/failed/)
  })

  it('create-admin reads the password from stdin and the account can log in as admin', async () => {
    const result = await cli(
      ['create-admin', '--username', 'chief', '--email', 'chief@example.com'],
      env,
      'chief-password\n',
    )
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/created admin chief/)
    const again = await cli(
      ['create-admin', '--username', 'chief', '--email', 'chief@example.com'],
      env,
      'chief-password\n',
    )
    expect(again.code).toBe(0)

    const app = await buildApp(loadConfig({ ...env, LOG_LEVEL: 'silent' }), { logger: false })
    try {
      const login = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'chief', password: 'chief-password' },
      })
      const me = await app.inject({
        url: '/api/v1/auth/me',
        headers: { authorization: `Bearer ${login.json().access_token}` },
      })
      expect(me.json()).toMatchObject({ username: 'chief', role: 'admin' })
    } finally {
      await app.close()
    }
  })

  it('create-admin refuses bad arguments with usage and a non-zero exit', async () => {
    const result = await cli(['create-admin', '--username', 'x'], env, 'whatever-password\n')
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/usage/)
    const short = await cli(['create-admin', '--username', 'okname', '--email', 'a@b.c'], env, 'short\n')
    expect(short.code).toBe(1)
  })

  it('the server refuses to start on an invalid variable, naming it', async () => {
    const result = await run(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: { ...process.env, ...env, PORT: 'not-a-port' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    )
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/PORT/)
  })
})

describe('graceful shutdown', () => {
  it('finishes and exits 0 on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mathapi-shutdown-'))
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: `sqlite:${join(dataDir, 's.db')}`,
        DATA_DIR: dataDir,
        JWT_SECRET: randomBytes(48).toString('base64url'),
      },
    })
    let output = ''
    const listening = new Promise<string>((resolve) => {
      child.stdout.on('data', (chunk) => {
        output += chunk
        const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
        if (match?.[1]) resolve(match[1])
      })
    })
    const address = await listening
    expect((await fetch(`${address}/health/live`)).status).toBe(200)
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(output).toMatch(/shutting down/)
  })
})
