import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateTypes, ROOT, servedDocument, TYPES_FILE } from '../../scripts/openapi.js'

/*
 * The document as third-party tools see it: the served /openapi.json (real HTTP, a service on its
 * embedded defaults) linted by Redocly CLI (recommended rules, redocly.yaml) and Spectral (spectral:oas,
 * .spectral.yaml) with 0 errors and 0 warnings, and the checked-in client types generated from it.
 */

const run = promisify(execFile)
const bin = (name: string) => join(ROOT, 'node_modules/.bin', name)
// No telemetry or update checks from the linters, in CI or here.
const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' }

/** Runs a linter; the outcome is judged by the JSON report it writes, not by its exit status. */
async function lint(command: string, args: string[]): Promise<string> {
  try {
    return (await run(command, args, { cwd: ROOT, env, maxBuffer: 64 * 1024 * 1024 })).stdout
  } catch (error) {
    const { stdout, code } = error as { stdout?: string; code?: unknown }
    // Exit status 1: problems found, and reported.
    if (code === 1) return stdout ?? ''
    throw error
  }
}

// biome-ignore lint/suspicious/noExplicitAny: a parsed JSON document, walked by path in the assertions
type Document = Record<string, any>

describe('OpenAPI document', () => {
  let document: Document
  let dir: string
  let file: string
  beforeAll(async () => {
    document = await servedDocument()
    dir = mkdtempSync(join(tmpdir(), 'mathapi-openapi-lint-'))
    file = join(dir, 'openapi.json')
    writeFileSync(file, JSON.stringify(document, null, 2))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('passes Redocly CLI (recommended) with 0 errors and 0 warnings', async () => {
    const output = await lint(bin('redocly'), ['lint', '--config', 'redocly.yaml', '--format', 'json', file])
    const report = JSON.parse(output) as {
      totals: { errors: number; warnings: number }
      problems: { ruleId: string; message: string; location: { pointer: string }[] }[]
    }
    const problems = report.problems.map(
      (problem) => `${problem.ruleId} at ${problem.location[0]?.pointer}: ${problem.message}`,
    )
    expect(problems).toEqual([])
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 })
  })

  it('passes Spectral (spectral:oas) with 0 errors and 0 warnings', async () => {
    // The report goes to a file: on stdout Spectral follows it with a summary line.
    const reportFile = join(dir, 'spectral.json')
    await lint(bin('spectral'), ['lint', '--ruleset', '.spectral.yaml', '-f', 'json', '-o', reportFile, file])
    const results = JSON.parse(readFileSync(reportFile, 'utf8')) as {
      code: string
      message: string
      severity: number
      path: string[]
    }[]
    // Severity 0 is an error, 1 a warning.
    const problems = results
      .filter((result) => result.severity <= 1)
      .map((result) => `${result.code} at ${result.path.join('.')}: ${result.message}`)
    expect(problems).toEqual([])
  })

  it('documents a 4xx problem response for every /api/v1 operation (Redocly’s operation-4xx-response, here)', () => {
    const missing: string[] = []
    for (const [path, item] of Object.entries(document.paths as Document)) {
      if (!path.startsWith('/api/v1/')) continue
      for (const [method, operation] of Object.entries(item as Document)) {
        const problems = Object.entries(operation.responses as Document).filter(
          ([status, response]) => /^4\d\d$/.test(status) && response.content?.['application/problem+json'],
        )
        if (problems.length === 0) missing.push(`${method.toUpperCase()} ${path}`)
      }
    }
    expect(missing).toEqual([])
  })

  it('names every resource, request body, page and error as a component with an example', () => {
    const schemas = document.components.schemas as Document
    for (const name of [
      'Problem',
      'User',
      'UsersPage',
      'TokenPair',
      'Task',
      'TasksPage',
      'TaskInput',
      'Product',
      'ProductsPage',
      'ProductInput',
      'FileMetadata',
      'FileUpload',
      'MathResult',
      'HistoryPage',
      'EventsPage',
    ]) {
      expect(schemas[name], name).toBeDefined()
    }
    for (const [name, schema] of Object.entries(schemas)) {
      expect(schema.examples, name).toHaveLength(1)
    }
    // Every JSON request body and every 2xx JSON response is a reference to one of them.
    const inline: string[] = []
    for (const [path, item] of Object.entries(document.paths as Document)) {
      for (const [method, operation] of Object.entries(item as Document)) {
        const bodies = [
          ...Object.values((operation.requestBody?.content ?? {}) as Document),
          ...Object.entries(operation.responses as Document)
            .filter(([status]) => status.startsWith('2'))
            .flatMap(([, response]) => Object.values((response.content ?? {}) as Document)),
        ]
        for (const body of bodies) {
          if (body.schema?.format !== 'binary' && !body.schema?.$ref) inline.push(`${method} ${path}`)
        }
      }
    }
    expect(inline).toEqual([])
  })

  it('offers the OAuth2 password flow at the token endpoint, and marks public operations', () => {
    const { oauth2 } = document.components.securitySchemes
    expect(oauth2.flows.password.tokenUrl).toBe('/api/v1/auth/token')
    expect(document.paths['/api/v1/auth/token'].post).toBeDefined()
    expect(document.paths['/api/v1/products'].get.security).toEqual([])
    expect(document.paths['/api/v1/tasks'].get.security).toEqual([{ bearerAuth: [] }, { oauth2: [] }])
    // Parameters with a default may be left out.
    const parameters = document.paths['/api/v1/products'].get.parameters as Document[]
    expect(parameters.filter((parameter) => parameter.required).map((parameter) => parameter.name)).toEqual(
      [],
    )
  })

  it('matches the checked-in client types (npm run openapi:types regenerates them)', async () => {
    const generated = await generateTypes(document)
    const current = readFileSync(TYPES_FILE, 'utf8')
    expect(current === generated, `${TYPES_FILE} is out of date: run npm run openapi:types`).toBe(true)
  })
})
