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
 */
export interface TcpProxy {
  /** The target URL with its host and port replaced by the proxy's. */
  readonly url: string
  readonly port: number
  /** Connections accepted so far (to prove a client reconnected through the proxy). */
  readonly accepted: number
  cut(): void
  blackHole(): void
  restore(): void
  close(): Promise<void>
}

interface Pair {
  client: Socket
  upstream: Socket | undefined
  held: { toUpstream: Buffer[]; toClient: Buffer[] }
}

export async function startTcpProxy(target: string | URL, defaultPort?: number): Promise<TcpProxy> {
  const targetUrl = new URL(target)
  const host = targetUrl.hostname.replace(/^\[|\]$/g, '')
  const port = Number(targetUrl.port || defaultPort)
  if (!port) throw new Error(`tcp proxy: no port in ${targetUrl.protocol}// target`)
  let mode: 'open' | 'cut' | 'black-hole' = 'open'
  let accepted = 0
  const pairs = new Set<Pair>()

  const connectUpstream = (pair: Pair) => {
    const upstream = createConnection({ host, port })
    pair.upstream = upstream
    upstream.on('data', (chunk: Buffer) => {
      if (mode === 'open') pair.client.write(chunk)
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
    cut() {
      mode = 'cut'
      for (const pair of [...pairs]) {
        pair.client.resetAndDestroy()
        pair.upstream?.resetAndDestroy()
        pairs.delete(pair)
      }
    },
    blackHole() {
      mode = 'black-hole'
    },
    restore() {
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
