/**
 * Which engine computes exact results: GMP through the optional `@mathapi/gmp` addon (native/gmp), or
 * V8's BigInt with our own algorithms. Each thread (the server's and every worker's) selects once; the
 * choice is per process in practice, since every thread is given the same preference.
 */
import { createRequire } from 'node:module'

export type EnginePreference = 'auto' | 'gmp' | 'js'
export type EngineName = 'gmp' | 'js'

/** What a native call may spend before it stops; the JavaScript engine is stopped by its thread's end. */
export interface ComputeBudget {
  timeoutMs?: number
  memoryLimitBytes?: number
}

export interface GmpCallResult {
  result: string
  computeMs: number
  convertMs: number
}

/** With bufferHeadroom the digits come as bytes, written by GMP straight into memory V8 owns. */
export interface GmpBytesBudget extends ComputeBudget {
  /** Bytes left free in the same ArrayBuffer in front of the digits (0–4096). */
  bufferHeadroom: number
}

export interface GmpBytesResult {
  result: Uint8Array
  computeMs: number
  convertMs: number
}

/** The addon's surface (native/gmp/index.d.ts), restated so that typechecking never needs it built. */
export interface GmpAddon {
  version: string
  cancellable: boolean
  maxResultDigits: number
  fibonacci(n: number, budget: GmpBytesBudget): GmpBytesResult
  fibonacci(n: number, budget?: ComputeBudget): GmpCallResult
  factorial(n: number, budget: GmpBytesBudget): GmpBytesResult
  factorial(n: number, budget?: ComputeBudget): GmpCallResult
  power(base: string, exponent: string, budget: GmpBytesBudget): GmpBytesResult
  power(base: string, exponent: string, budget?: ComputeBudget): GmpCallResult
  powerMod(base: string, exponent: string, modulus: string, budget: GmpBytesBudget): GmpBytesResult
  powerMod(base: string, exponent: string, modulus: string, budget?: ComputeBudget): GmpCallResult
  stats(): { blocks: number; bytes: number }
}

export interface EngineInfo {
  name: EngineName
  /** GMP's version for gmp, V8's for js. */
  version: string
  /** Why GMP is not the engine, when it is not. For logs, not for clients. */
  reason?: string
}

export interface SelectedEngine extends EngineInfo {
  gmp?: GmpAddon
}

let addon: { gmp?: GmpAddon; error?: string } | undefined

/** The addon, loaded once per thread, or why it cannot be. */
export function loadGmp(): { gmp?: GmpAddon; error?: string } {
  if (addon) return addon
  try {
    const gmp = createRequire(import.meta.url)('@mathapi/gmp') as GmpAddon
    addon = { gmp }
  } catch (error) {
    const code = (error as { code?: unknown }).code
    addon = {
      error:
        code === 'MODULE_NOT_FOUND'
          ? 'the @mathapi/gmp addon is not built (needs a C toolchain and libgmp-dev at install)'
          : `the @mathapi/gmp addon does not load: ${error instanceof Error ? error.message : String(error)}`,
    }
  }
  return addon
}

let selected: SelectedEngine | undefined

/**
 * Chooses this thread's engine: `auto` takes GMP when the addon loads, `js` never does, `gmp` insists and
 * throws when it cannot have it (for deployments that must not silently run 3–5× slower).
 */
export function selectEngine(preference: EnginePreference): SelectedEngine {
  const js = (reason: string): SelectedEngine => ({ name: 'js', version: process.versions.v8, reason })
  if (preference === 'js') {
    selected = js('MATH_ENGINE=js')
    return selected
  }
  const { gmp, error } = loadGmp()
  if (gmp) {
    selected = { name: 'gmp', version: gmp.version, gmp }
    return selected
  }
  if (preference === 'gmp') throw new Error(`MATH_ENGINE=gmp, but ${error}`)
  selected = js(error ?? 'unknown')
  return selected
}

/** This thread's engine; `auto` until something selects. */
export function activeEngine(): SelectedEngine {
  return selected ?? selectEngine('auto')
}

/** Name, version and reason, without the addon handle. */
export function engineInfo(): EngineInfo {
  const { name, version, reason } = activeEngine()
  return reason === undefined ? { name, version } : { name, version, reason }
}
