/** A long-lived part of the service: timers, connections, workers. */
export interface Component {
  /** For logs: what failed to close. */
  readonly name: string
  /** Begins background work (timers, relays). Parts with nothing to begin leave it out. */
  start?(): void
  /** Ends its work and releases what it holds; called once, after every part started after it closed. */
  close(): Promise<void> | void
}

/**
 * The service's parts in the order they depend on each other: started first to last, closed last to
 * first, so nothing closes while a part that uses it is still running.
 */
export class Lifecycle {
  private readonly components: Component[] = []
  private closing: Promise<unknown[]> | undefined

  constructor(private readonly log: { warn(obj: object, msg: string): void }) {}

  /** Adds a part (already open) and returns it; it closes before everything added earlier. */
  add<T extends Component>(component: T): T {
    this.components.push(component)
    return component
  }

  start(): void {
    for (const component of this.components) component.start?.()
  }

  /**
   * Closes every part in reverse order; a part that fails to close is logged and the rest still close.
   * Resolves to what the failed parts threw (empty when all closed), so the caller can still fail a
   * shutdown that was not clean.
   */
  close(): Promise<unknown[]> {
    this.closing ??= (async () => {
      const failures: unknown[] = []
      for (const component of [...this.components].reverse()) {
        try {
          await component.close()
        } catch (error) {
          failures.push(error)
          this.log.warn({ err: error, component: component.name }, 'closing a component failed')
        }
      }
      return failures
    })()
    return this.closing
  }
}
