import { describe, expect, it } from 'vitest'
import { loadGmp } from '../../src/modules/math/engine/index.js'
import { buildTestApp, signUp } from '../helpers.js'

const gmpBuilt = !!loadGmp().gmp

describe('which math engine runs is visible [sqlite]', () => {
  it.each([
    ['js', 'js'],
    ['auto', gmpBuilt ? 'gmp' : 'js'],
  ])('MATH_ENGINE=%s: /health/ready and /metrics name %s, and results are exact', async (setting, engine) => {
    const t = await buildTestApp({ name: 'sqlite' }, { MATH_ENGINE: setting })
    try {
      const ready = (await t.app.inject({ url: '/health/ready' })).json()
      expect(ready.math).toEqual({ engine, version: expect.stringMatching(/^\d+\.\d+/) })
      const metrics = (await t.app.inject({ url: '/metrics' })).body
      expect(metrics).toMatch(new RegExp(`^math_engine_info\\{engine="${engine}",version="[^"]+"\\} 1$`, 'm'))
      const alice = await signUp(t.app, 'alice')
      // Through the pool (over the inline size), on whichever engine runs.
      const response = await t.app.inject({ url: '/api/v1/math/factorial/5000', headers: alice.headers })
      expect(response.json()).toMatchObject({ digits: 16_326, exact: true })
      expect(response.json().result.slice(0, 12)).toBe('422857792660')
    } finally {
      await t.close()
    }
  })

  it.skipIf(gmpBuilt)('MATH_ENGINE=gmp without the addon refuses to start, naming why', async () => {
    await expect(buildTestApp({ name: 'sqlite' }, { MATH_ENGINE: 'gmp' })).rejects.toThrow(
      /MATH_ENGINE=gmp, but/,
    )
  })
})
