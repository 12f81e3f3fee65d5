import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    // dist/web sits outside web/, so Vite would otherwise leave stale hashed assets behind.
    emptyOutDir: true,
  },
  server: {
    // `npm run dev` serves the API on 8000; the UI dev server forwards API calls to it.
    proxy: { '/api': 'http://127.0.0.1:8000' },
  },
})
