// Prints the first-load transfer size of the built app: every precached
// file gzipped (what a first visit downloads before it can start offline).
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

const dist = new URL('../dist/', import.meta.url).pathname
const { urls } = JSON.parse(readFileSync(dist + 'precache.json', 'utf8'))
let raw = 0, gz = 0, wasm = 0
for (const u of urls) {
  const b = readFileSync(dist + u.slice(1))
  const z = gzipSync(b, { level: 6 }).length
  raw += b.length
  gz += z
  if (u.endsWith('.wasm')) wasm = z
}
const kib = (n) => (n / 1024).toFixed(0) + ' KiB'
console.log(`first load: ${urls.length} files, ${kib(raw)} raw, ${kib(gz)} gzip (syncproto.wasm ${kib(wasm)} gzip)`)
