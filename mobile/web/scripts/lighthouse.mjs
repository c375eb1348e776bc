// make lighthouse: Lighthouse's performance and accessibility scores of the
// field app's first screen, with its mobile defaults (Moto G Power screen,
// 150 ms / 1.6 Mbps simulated network, 4× CPU slowdown), on Debian's Chromium
// (CHROME_PATH, never a downloaded browser). It starts the pairsyncd given
// as the first argument on an empty data dir at 127.0.0.1:0 and runs npm's
// lighthouse (LIGHTHOUSE, else npx lighthouse@12.8.2). Not part of make test:
// the scores depend on the machine (Lighthouse's benchmarkIndex is printed;
// on a loaded machine the 4× slowdown comes on top of a slow CPU, so run it
// on a quiet one).
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const bin = process.argv[2]
if (!bin) throw new Error('usage: node scripts/lighthouse.mjs path/to/pairsyncd')
const dir = mkdtempSync(join(tmpdir(), 'pairsync-lighthouse-'))
const srv = spawn(bin, ['-addr', '127.0.0.1:0', '-data-dir', join(dir, 'data'), '-log-level', 'warn'], {
  env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'inherit'],
})
try {
  const url = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: srv.stdout })
    rl.on('line', (l) => { const m = /Open (http:\/\/\S+)/.exec(l); if (m) resolve(m[1]) })
    srv.on('exit', (c) => reject(new Error(`pairsyncd exited with ${c}`)))
  })
  const out = join(dir, 'report.json')
  const cmd = process.env.LIGHTHOUSE ? [process.env.LIGHTHOUSE] : ['npx', '--yes', 'lighthouse@12.8.2']
  const r = spawnSync(cmd[0], [...cmd.slice(1), url + '/', '--output=json', `--output-path=${out}`, '--quiet',
    '--only-categories=performance,accessibility', '--chrome-flags=--headless=new --no-sandbox --disable-gpu'],
  { stdio: 'inherit', env: { ...process.env, CHROME_PATH: process.env.CHROME_PATH || '/usr/bin/chromium' } })
  if (r.status !== 0) throw new Error(`lighthouse exited with ${r.status}`)
  const rep = JSON.parse(readFileSync(out, 'utf8'))
  const a = (k) => rep.audits[k].displayValue
  console.log(`Lighthouse ${rep.lighthouseVersion} (mobile defaults) on ${url}/ (benchmarkIndex ${rep.environment.benchmarkIndex})
  performance:   ${Math.round(rep.categories.performance.score * 100)}  (FCP ${a('first-contentful-paint')}, LCP ${a('largest-contentful-paint')}, TBT ${a('total-blocking-time')}, CLS ${a('cumulative-layout-shift')}, SI ${a('speed-index')}; ${a('total-byte-weight')})
  accessibility: ${Math.round(rep.categories.accessibility.score * 100)}`)
  for (const [id, au] of Object.entries(rep.audits)) {
    if (au.score !== null && au.score < 1 && rep.categories.accessibility.auditRefs.some((x) => x.id === id && x.weight > 0)) console.log(`  accessibility audit failing: ${id} (${au.title})`)
  }
} finally {
  srv.kill('SIGINT')
  await new Promise((r) => srv.once('exit', r))
  rmSync(dir, { recursive: true, force: true })
}
