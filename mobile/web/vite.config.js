import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import { serviceWorker } from './scripts/sw-plugin.mjs'
import { noCDN } from './scripts/no-cdn.mjs'

// The field app is built into dist/, which pairsyncd embeds (embed.go) and
// serves. dist/ keeps its committed placeholder: scripts/clean-dist.mjs
// empties it before a build, so Vite must not.
export default defineConfig({
  plugins: [noCDN(), vue(), serviceWorker()],
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    assetsDir: 'assets',
    target: 'es2022',
    chunkSizeWarningLimit: 1024,
  },
  server: {
    // `npm run dev` talks to a pairsyncd started with `make run`.
    proxy: { '/v1': 'http://127.0.0.1:8080' },
  },
})
