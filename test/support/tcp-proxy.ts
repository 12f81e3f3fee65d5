import { createConnection, createServer, type Server, type Socket } from 'node:net'

/**
 * A TCP relay of the test's own between the service and a dependency (PostgreSQL, Redis, a broker), which
 * the test can break in two ways and mend:
 *
 * - cut(): every relayed connection is reset and new ones are refused at once (a crashed server, a
 *   closed port): clients see ECONNRESET / ECONNREFUSED-like failures immediately;
 * - blackHole(): connections stay open and new ones are accepted, but not a byte moves in either direction
 *   (a partition, a stalled server): only the client's own timeouts can notice. Bytes sent meanwhile are
 *   held, as TCP would retransmit them, and flow again after restore().
 * - cutOn(pattern, when): cut() at a chosen moment of the conversation, the first time the client sends
 *   bytes containing `pattern` (a query's text, or a whole protocol message such as PostgreSQL's COMMIT):
 *   'before' they reach the server (it never acts on them), or 'after-reply': they reach the server, and
 *   the cut comes instead of its answer (it acted on them; the client never hears so).
 */
export interface TcpProxy {
  /** The target URL with its host and port replaced by the proxy's. */
  readonly url: string
  readonly port: number
  /** Connections accepted so far (to prove a client reconnected through the proxy). */
  readonly accepted: number
  cut(): void
  /** Resolves once the pattern was seen and the cut made. */
  cutOn(pattern: Buffer | string, when: 'before' | 'after-reply'): Promise<void>
  blackHole(): void
  restore(): void
  close(): Promise<void>
}

interface Pair {
  client: Socket
  upstream: Socket | undefined
  held: { toUpstream: Buffer[]; toClient: Buffer[] }
  /** The client's trigger reached the server; its answer is to be replaced by the cut. */
  answerCut?: boolean
}

interface Trigger {
  pattern: Buffer
  when: 'before' | 'after-reply'
  fired: () => void
}

export async function startTcpProxy(target: string | URL, defaultPort?: number): Promise<TcpProxy> {
  const targetUrl = new URL(target)
  const host = targetUrl.hostname.replace(/^\[|\]$/g, '')
  const port = Number(targetUrl.port || defaultPort)
  if (!port) throw new Error(`tcp proxy: no port in ${targetUrl.protocol}// target`)
  let mode: 'open' | 'cut' | 'black-hole' = 'open'
  let accepted = 0
  const pairs = new Set<Pair>()
  let trigger: Trigger | undefined

  const cutAll = () => {
    mode = 'cut'
    for (const pair of [...pairs]) {
      pair.client.resetAndDestroy()
      pair.upstream?.resetAndDestroy()
      pairs.delete(pair)
    }
  }

  const connectUpstream = (pair: Pair) => {
    const upstream = createConnection({ host, port })
    pair.upstream = upstream
    upstream.on('data', (chunk: Buffer) => {
      if (pair.answerCut) {
        trigger?.fired()
        trigger = undefined
        cutAll()
      } else if (mode === 'open') pair.client.write(chunk)
      else pair.held.toClient.push(chunk)
    })
    upstream.on('error', () => drop(pair)).on('close', () => drop(pair))
    for (const chunk of pair.held.toUpstream.splice(0)) upstream.write(chunk)
  }

  const drop = (pair: Pair) => {
    if (!pairs.delete(pair)) return
    pair.client.destroy()
    pair.upstream?.destroy()
  }

  const server: Server = createServer((client) => {
    if (mode === 'cut') {
      client.resetAndDestroy()
      return
    }
    accepted++
    const pair: Pair = { client, upstream: undefined, held: { toUpstream: [], toClient: [] } }
    pairs.add(pair)
    client.on('data', (chunk: Buffer) => {
      if (mode === 'open' && trigger && !pair.answerCut && chunk.includes(trigger.pattern)) {
        if (trigger.when === 'before') {
          trigger.fired()
          trigger = undefined
          cutAll()
          return
        }
        pair.answerCut = true
      }
      if (mode === 'open' && pair.upstream) pair.upstream.write(chunk)
      else pair.held.toUpstream.push(chunk)
    })
    client.on('error', () => drop(pair)).on('close', () => drop(pair))
    // In a black hole the handshake is accepted here but never reaches the server.
    if (mode === 'open') connectUpstream(pair)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('tcp proxy did not bind')
  const url = new URL(targetUrl)
  url.host = `127.0.0.1:${address.port}`

  return {
    url: url.toString(),
    port: address.port,
    get accepted() {
      return accepted
    },
    cut: cutAll,
    cutOn(pattern, when) {
      return new Promise<void>((fired) => {
        trigger = { pattern: Buffer.isBuffer(pattern) ? pattern : Buffer.from(pattern), when, fired }
      })
    },
    blackHole() {
      mode = 'black-hole'
    },
    restore() {
      trigger = undefined
      mode = 'open'
      for (const pair of pairs) {
        if (!pair.upstream) connectUpstream(pair)
        else for (const chunk of pair.held.toUpstream.splice(0)) pair.upstream.write(chunk)
        for (const chunk of pair.held.toClient.splice(0)) pair.client.write(chunk)
      }
    },
    close() {
      for (const pair of [...pairs]) drop(pair)
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
