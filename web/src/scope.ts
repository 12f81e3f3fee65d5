/**
 * What one view has running: its requests, timers and listeners. The router ends the scope when the
 * view is left, which cancels every request still in flight and stops every timer, so nothing of an old
 * view can land on a new one.
 */
export class Scope {
  private readonly controller = new AbortController()
  private readonly kinds = new Map<string, AbortController>()
  private readonly timers = new Set<number>()
  private readonly cleanups: (() => void)[] = []

  /** Aborted when the view is left. */
  get signal(): AbortSignal {
    return this.controller.signal
  }

  get ended(): boolean {
    return this.controller.signal.aborted
  }

  /**
   * The signal for the newest request of one kind (a list load, a search): asking again aborts the
   * previous one, so an older answer can never arrive after a newer one and overwrite it.
   */
  latest(kind: string): AbortSignal {
    this.kinds.get(kind)?.abort()
    const controller = new AbortController()
    this.kinds.set(kind, controller)
    if (this.ended) controller.abort()
    return controller.signal
  }

  /** Cancels the pending request of one kind, if any. */
  cancel(kind: string): void {
    this.kinds.get(kind)?.abort()
    this.kinds.delete(kind)
  }

  setTimeout(callback: () => void, ms: number): number {
    const timer = window.setTimeout(() => {
      this.timers.delete(timer)
      if (!this.ended) callback()
    }, ms)
    this.timers.add(timer)
    return timer
  }

  clearTimeout(timer: number | undefined): void {
    if (timer === undefined) return
    window.clearTimeout(timer)
    this.timers.delete(timer)
  }

  /** A listener on something that outlives the view (window, document), removed when the view ends. */
  listen<K extends keyof WindowEventMap>(
    target: Window,
    type: K,
    listener: (event: WindowEventMap[K]) => void,
  ): void
  listen(target: EventTarget, type: string, listener: (event: Event) => void): void
  listen(target: EventTarget, type: string, listener: (event: never) => void): void {
    target.addEventListener(type, listener as EventListener, { signal: this.controller.signal })
  }

  onEnd(cleanup: () => void): void {
    this.cleanups.push(cleanup)
  }

  end(): void {
    if (this.ended) return
    this.controller.abort()
    for (const controller of this.kinds.values()) controller.abort()
    this.kinds.clear()
    for (const timer of this.timers) window.clearTimeout(timer)
    this.timers.clear()
    for (const cleanup of this.cleanups.splice(0)) cleanup()
  }
}
