import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

/** Helpers shared by the deployment-file tests: where the files are, and what PromQL they reference. */

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const DASHBOARDS_DIR = join(ROOT, 'deploy/grafana/dashboards')
export const ALERT_RULES = join(ROOT, 'deploy/prometheus/alerts.yml')
export const COMPOSE_FILE = join(ROOT, 'docker-compose.yml')
export const README = join(ROOT, 'README.md')

export const readText = (file: string) => readFileSync(file, 'utf8')
export const readYaml = (file: string): unknown => parse(readText(file), { merge: true })

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
])

/**
 * Metric names a PromQL expression selects. Strings, label matchers `{…}`, ranges `[…]`, Grafana
 * variables (`$__rate_interval`, `${x}`) and grouping clauses (`by (le, route)`) are removed first;
 * what remains that looks like an identifier, is not a keyword and is not called like a function
 * (`rate(`, `sum(`) is a metric name.
 */
export function metricNames(expr: string): string[] {
  let text = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\$\{[^}]*\}|\$[A-Za-z_]\w*/g, ' ')
  // Label matchers and ranges/subqueries never hold metric names once strings are gone.
  text = text.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ')
  text = text.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
  const names = new Set<string>()
  for (const match of text.matchAll(/[A-Za-z0-9_:.]+(?=(\s*)(\(?))/g)) {
    const token = match[0]
    const calledAsFunction = match[2] === '('
    if (!/^[A-Za-z_:][A-Za-z0-9_:]*$/.test(token)) continue // numbers, durations (5m), 1e3
    if (calledAsFunction || KEYWORDS.has(token.toLowerCase())) continue
    names.add(token)
  }
  return [...names]
}

/** Every `expr` string anywhere in a JSON document (panel targets, nested rows, templating). */
export function exprsInJson(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) exprsInJson(item, found)
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'expr' && typeof inner === 'string') found.push(inner)
      else exprsInJson(inner, found)
    }
  }
  return found
}

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[]
}

export function ruleExprs(file: string): { name: string; expr: string }[] {
  const rules = readYaml(file) as RuleFile
  return rules.groups.flatMap((group) =>
    group.rules.map((rule) => ({ name: rule.alert ?? rule.record ?? group.name, expr: String(rule.expr) })),
  )
}

/** `# TYPE name kind` lines: every metric the registry declares, observed yet or not. */
export function declaredMetrics(exposition: string): Map<string, string> {
  const declared = new Map<string, string>()
  for (const match of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) declared.set(match[1]!, match[2]!)
  return declared
}

/** Series names with at least one sample. */
export function sampledMetrics(exposition: string): Set<string> {
  const names = new Set<string>()
  for (const match of exposition.matchAll(/^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{| )/gm)) names.add(match[1]!)
  return names
}

/** Series Prometheus itself adds to every scrape; they are never in an application's /metrics. */
export const SCRAPE_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped'])

/** A referenced name is exported when declared, or when it is the _bucket/_sum/_count of a histogram. */
export function isExported(name: string, declared: Map<string, string>): boolean {
  if (declared.has(name) || SCRAPE_SERIES.has(name)) return true
  const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1]
  if (!base) return false
  const kind = declared.get(base)
  return kind === 'histogram' || (kind === 'summary' && !name.endsWith('_bucket'))
}
