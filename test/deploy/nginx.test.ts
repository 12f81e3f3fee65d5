import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { COMPOSE_FILE, ROOT, readText, readYaml } from './deploy-files.js'

/*
 * CI runs `nginx -t` on deploy/nginx/nginx.conf with Debian's nginx (.ci/steps/30-deploy-config.sh), which
 * is older than the `resolve` parameter and so checks the file without it. This keeps the rest honest: the
 * image the compose file runs must be new enough for what the file uses.
 */
const NGINX_CONF = join(ROOT, 'deploy/nginx/nginx.conf')
const RESOLVE_SINCE = [1, 27, 3]

const atLeast = (version: number[], minimum: number[]) => {
  for (let i = 0; i < minimum.length; i++) {
    const [a, b] = [version[i] ?? 0, minimum[i] ?? 0]
    if (a !== b) return a > b
  }
  return true
}

describe('nginx load balancer', () => {
  const conf = readText(NGINX_CONF)
  const lb = (readYaml(COMPOSE_FILE) as { services: Record<string, { image?: string; volumes?: string[] }> })
    .services.lb

  it('is the compose service that mounts deploy/nginx/nginx.conf', () => {
    expect(lb?.volumes).toContain('./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro')
  })

  it('runs an nginx image new enough for the upstream `resolve` parameter (1.27.3)', () => {
    expect(conf).toMatch(/^\s*server \S+ .*\bresolve;/m)
    const tag = /^nginx:(\d+)\.(\d+)(?:\.(\d+))?(?:-[a-z0-9.]+)?$/.exec(lb?.image ?? '')
    expect(tag, `lb image ${lb?.image} pins an nginx version`).not.toBeNull()
    // A minor-only tag (1.28) means its newest patch release; 1.28.0 is already past 1.27.3.
    const version = [Number(tag![1]), Number(tag![2]), Number(tag![3] ?? 0)]
    expect(atLeast(version, RESOLVE_SINCE)).toBe(true)
  })

  it('re-resolves the replicas through the resolver it declares', () => {
    expect(conf).toMatch(/^\s*resolver \S+/m)
    expect(conf).toMatch(/^\s*zone api \d+k;/m)
  })
})
