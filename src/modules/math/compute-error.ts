/**
 * Why a computation produced no result, as the pool or the engine reports it. Classified where the failure
 * is observed (our own time budget, our own admission count, Node's error code for a worker out of
 * memory) — never by reading an error's message, which belongs to V8 or piscina and may change.
 */
export type ComputeFailure =
  /** Past MATH_TIMEOUT_MS: the worker was terminated. */
  | 'timeout'
  /** Every worker busy and MATH_QUEUE_MAX computations already waiting. */
  | 'saturated'
  /** The worker ran out of the memory it may use. */
  | 'too-large'
  /** Anything else: the estimates should have prevented it, so it is a bug (500, logged with its cause). */
  | 'failed'

export class ComputeError extends Error {
  override name = 'ComputeError'
  constructor(
    readonly failure: ComputeFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
