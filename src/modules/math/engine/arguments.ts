/** n of F(n), n! and their digit estimates: the engine's functions take it as a number, so it must be exact. */
export function assertIndex(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('n must be a non-negative safe integer')
}
