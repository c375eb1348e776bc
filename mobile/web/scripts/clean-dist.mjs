// Empties dist/ before a build, keeping the committed placeholder (BUILD.txt)
// that lets `go build ./...` embed dist/ on a fresh clone.
import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const dist = new URL('../dist/', import.meta.url).pathname
for (const name of readdirSync(dist)) {
  if (name !== 'BUILD.txt') rmSync(join(dist, name), { recursive: true, force: true })
}
