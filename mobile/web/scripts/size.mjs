// Prints the first-load transfer size of the built app: every precached
// file as pairsyncd sends it to a browser that takes brotli (its .br copy
// when the build wrote one, else gzipped), what a first visit downloads
// before it can start offline.
import { existsSync, readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

const dist = new URL('../dist/', import.meta.url).pathname
const { urls } = JSON.parse(readFileSync(dist + 'precache.json', 'utf8'))
let raw = 0, gz = 0, wasm = 0
for (const u of urls) {
  const b = readFileSync(dist + u.slice(1))
  const br = dist + u.slice(1) + '.br'
  const z = existsSync(br) ? readFileSync(br).length : gzipSync(b, { level: 6 }).length
  raw += b.length
  gz += z
  if (u.endsWith('.wasm')) wasm = z
}
const kib = (n) => (n / 1024).toFixed(0) + ' KiB'
console.log(`first load: ${urls.length} files, ${kib(raw)} raw, ${kib(gz)} compressed (syncproto.wasm ${kib(wasm)} brotli)`)
