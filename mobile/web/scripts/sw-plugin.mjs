// A Vite plugin that writes dist/sw.js from sw/sw.js once the bundle is
// written: the precache list is every file of the build (the app shell, its
// hashed assets, the wasm and wasm_exec.js, the manifest and icons, but not
// the online-only console's chunk), and the
// cache version is a hash of their contents, so a new build installs a new
// service worker and drops the old cache. No CDN, no runtime download.
import { createHash } from 'node:crypto'
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

const skip = new Set(['sw.js', 'BUILD.txt', 'precache.json'])
// The administrators' console (src/console, loaded on demand under
// /console) is online only: its chunk (ECharts included) is not precached,
// so officers' phones never download it.
const onlineOnly = (f) => /^assets\/console-[^/]+\.(js|css)$/.test(f)
// Precompressed copies (name.br, name.gz) of the larger text and wasm
// files: pairsyncd sends them as they are (server/web.go), so the 4 MB wasm
// goes out at brotli's best (about 0.9 MB) without compressing on each
// request. They are not files of the app: never precached.
const compressed = (f) => /\.(br|gz)$/.test(f)
const compressible = (f) => /\.(wasm|js|mjs|css|svg|json|webmanifest)$/.test(f)

function walk(dir, root, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p, root, out)
    else out.push(relative(root, p).split(sep).join('/'))
  }
  return out
}

export function serviceWorker() {
  let outDir = 'dist'
  return {
    name: 'pairsync-service-worker',
    apply: 'build',
    configResolved(cfg) { outDir = cfg.build.outDir },
    closeBundle() {
      for (const f of walk(outDir, outDir, [])) {
        if (!compressible(f) || compressed(f)) continue
        const b = readFileSync(join(outDir, f))
        if (b.length < 1024) continue
        writeFileSync(join(outDir, f + '.br'), brotliCompressSync(b, {
          params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: b.length },
        }))
        writeFileSync(join(outDir, f + '.gz'), gzipSync(b, { level: 9 }))
      }
      const files = walk(outDir, outDir, []).filter((f) => !skip.has(f) && !onlineOnly(f) && !compressed(f)).sort()
      const h = createHash('sha256')
      for (const f of files) {
        h.update(f + '\0')
        h.update(readFileSync(join(outDir, f)))
      }
      const version = h.digest('hex').slice(0, 16)
      const urls = files.map((f) => '/' + f)
      const src = readFileSync(new URL('../sw/sw.js', import.meta.url), 'utf8')
        .replace('self.__PRECACHE__', JSON.stringify(urls))
        .replace('self.__VERSION__', JSON.stringify(version))
      writeFileSync(join(outDir, 'sw.js'), src)
      writeFileSync(join(outDir, 'precache.json'), JSON.stringify({ version, urls }, null, 1) + '\n')
    },
  }
}
