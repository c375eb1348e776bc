// First load on a weak network: a fresh phone (no service worker,
// empty caches) opens the app on a 1.6 Mbps / 150 ms connection (Chromium's
// CDP Network.emulateNetworkConditions). Printed as figures, never asserted
// (times vary with the machine): first paint, login form usable. Asserted
// (bytes are deterministic): the first visit, service worker included,
// transfers at most 1.3 MB, the service worker downloads nothing the page
// already fetched, and a second visit transfers almost nothing.
//
// Bytes are counted by a small proxy in front of pairsyncd: every response
// body and header the browser receives, from the page and from the service
// worker alike (CDP on the page does not see the worker's own fetches).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { launch, phone, newPage, shots, assertPeopleWords, URL as SERVER } from '../lib.mjs'

const MB = 1e6
const KB = 1e3

// startProxy forwards every request to pairsyncd and counts what comes back.
async function startProxy() {
  const target = new URL(SERVER)
  const log = []
  const srv = http.createServer((req, res) => {
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } }, (ur) => {
      let bytes = 0
      for (let i = 0; i < ur.rawHeaders.length; i += 2) bytes += ur.rawHeaders[i].length + ur.rawHeaders[i + 1].length + 4
      res.writeHead(ur.statusCode, ur.rawHeaders)
      ur.on('data', (c) => { bytes += c.length; res.write(c) })
      ur.on('end', () => { log.push({ url: req.url, status: ur.statusCode, bytes, enc: ur.headers['content-encoding'] || '' }); res.end() })
    })
    up.on('error', (e) => { res.writeHead(502); res.end(String(e)) })
    req.pipe(up)
  })
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${srv.address().port}`, log, close: () => srv.close() }
}

const sum = (log) => log.reduce((n, e) => n + e.bytes, 0)
const fmt = (n) => (n / MB).toFixed(3) + ' MB'

test('first load on a 1.6 Mbps / 150 ms network', async () => {
  const proxy = await startProxy()
  const browser = await launch()
  try {
    const ctx = await phone(browser)
    const page = await newPage(ctx)
    const cdp = await ctx.newCDPSession(page)
    await cdp.send('Network.enable')
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 150, downloadThroughput: 1.6e6 / 8, uploadThroughput: 0.75e6 / 8 })

    // First visit: nothing cached, no service worker.
    await page.goto(proxy.url + '/', { waitUntil: 'commit' })
    const usable = await page.waitForFunction(() => {
      const i = document.querySelector('[data-test=username] input')
      const b = document.querySelector('[data-test=sign-in]')
      return i && b && !i.disabled && i.getBoundingClientRect().height > 0 && performance.now()
    }, null, { timeout: 120_000 }).then((h) => h.jsonValue())
    const paint = await page.evaluate(() => {
      const p = performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint')
      return p ? p.startTime : null
    })
    // The sign-in screen does not load the wasm; the service worker
    // registers after the page has loaded and precaches the app, the wasm
    // included: it is done when the wasm is in its cache.
    await page.evaluate(async () => {
      for (;;) {
        const reg = await navigator.serviceWorker.getRegistration()
        if (reg && reg.active) {
          for (const k of await caches.keys()) if (await (await caches.open(k)).match('/syncproto.wasm')) return
        }
        await new Promise((r) => setTimeout(r, 250))
      }
    })
    const wasmLoaded = await page.evaluate(() => !!globalThis.syncproto)
    await page.waitForTimeout(500)
    const first = [...proxy.log]
    const firstBytes = sum(first)
    await shots(page, '50-weaknet-login')
    await assertPeopleWords(page, 'the sign-in screen on a weak network')

    // Second visit: the service worker answers; only what changed comes.
    proxy.log.length = 0
    await page.goto(proxy.url + '/', { waitUntil: 'commit' })
    const usable2 = await page.waitForFunction(() => {
      const i = document.querySelector('[data-test=username] input')
      return i && i.getBoundingClientRect().height > 0 && performance.now()
    }, null, { timeout: 60_000 }).then((h) => h.jsonValue())
    await page.waitForTimeout(1000)
    const second = [...proxy.log]
    const secondBytes = sum(second)

    const byURL = (log) => {
      const m = new Map()
      for (const e of log) m.set(e.url, (m.get(e.url) || []).concat(`${e.status}${e.enc ? ' ' + e.enc : ''} ${(e.bytes / KB).toFixed(1)} kB`))
      return [...m].map(([u, v]) => `    ${u}: ${v.join(', ')}`).join('\n')
    }
    console.log(`weak network (1.6 Mbps down, 0.75 Mbps up, 150 ms latency), fresh phone:
  first contentful paint: ${paint === null ? 'none' : (paint / 1000).toFixed(2) + ' s'}
  login form usable:      ${(usable / 1000).toFixed(2)} s
  first visit, in all:    ${fmt(firstBytes)} (${first.length} responses; wasm instantiated on the sign-in screen: ${wasmLoaded})
${byURL(first)}
  second visit:           ${fmt(secondBytes)} (${second.length} responses; login usable at ${(usable2 / 1000).toFixed(2)} s)
${byURL(second)}`)

    assert.ok(firstBytes <= 1.3 * MB, `the first visit transferred ${fmt(firstBytes)}, want at most 1.3 MB`)
    // Each file of the app comes once in full: the service worker's precache
    // revalidates (304) or reads the HTTP cache, never downloads again.
    const full = first.filter((e) => e.status === 200 && !e.url.startsWith('/v1/'))
    const twice = full.map((e) => e.url).filter((u, i, a) => a.indexOf(u) !== i)
    assert.deepEqual(twice, [], 'files downloaded twice on the first visit')
    const wasm = first.find((e) => e.url === '/syncproto.wasm' && e.status === 200)
    assert.ok(wasm, 'the wasm was fetched on the first visit')
    assert.match(wasm.enc, /br|gzip/, 'the wasm goes compressed')
    assert.equal(wasmLoaded, false, 'the sign-in screen does not instantiate the wasm')
    assert.ok(secondBytes <= 50 * KB, `the second visit transferred ${fmt(secondBytes)}, want almost nothing (≤ 50 kB)`)
    await ctx.close()
  } finally {
    await browser.close()
    proxy.close()
  }
})
