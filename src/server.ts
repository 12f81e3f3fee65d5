import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './config.js'

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig(process.env, { dotenv: true })
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  console.error(`start-up refused: ${error.message}`)
  process.exit(1)
}

const app = await buildApp(config)

closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'shutting down after an unexpected error')
  else app.log.info({ signal }, 'shutting down: finishing in-flight requests')
  // A connection busy when shutdown begins goes idle once its response is sent; Node then keeps it open
  // for keepAliveTimeout, and a keep-alive client (a load balancer's upstream pool) would hold the
  // shutdown open until the timeout. 1 ms closes it right after that response, whose Keep-Alive header
  // then says timeout=0.
  app.server.keepAliveTimeout = 1
  // Stops accepting connections, waits for in-flight requests, then runs every onClose hook (pools, Redis).
  await app.close()
})

try {
  await app.listen({ port: config.port, host: config.host })
} catch (error) {
  app.log.fatal({ err: error }, 'could not listen')
  process.exit(1)
}
