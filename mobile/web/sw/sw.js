// Pairsync's service worker (hand-written; scripts/sw-plugin.mjs fills in the
// precache list and version at build time). It precaches the app shell and
// syncproto.wasm on install, so the app starts offline after the first load.
// The page registers it once it has fetched the wasm itself, and the
// precache goes through the HTTP cache (hashed assets are immutable, the
// rest revalidate with their ETag: 304), so a first visit downloads each
// file once, not twice.
// It never touches the API (/v1/…): records live in IndexedDB and sync goes to
// the network or waits.
const VERSION = self.__VERSION__
const PRECACHE = self.__PRECACHE__
const CACHE = 'pairsync-' + VERSION

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((c) => c.addAll(PRECACHE))
      .then(() => self.skipWaiting()),
  )
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('pairsync-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  )
})

const passThrough = /^\/(v1\/|healthz|readyz|metrics)/

self.addEventListener('fetch', (event) => {
  const req = event.request
  if (req.method !== 'GET') return
  const url = new URL(req.url)
  if (url.origin !== self.location.origin || passThrough.test(url.pathname)) return
  if (req.mode === 'navigate') {
    // Every app path opens the cached shell: offline first, always.
    event.respondWith(
      caches.open(CACHE).then((c) => c.match('/index.html')).then((hit) => hit || fetch(req)),
    )
    return
  }
  // The app's files: from the cache; one it lacks (not precached) is
  // fetched and kept for next time.
  event.respondWith(
    caches.open(CACHE).then((c) => c.match(req, { ignoreSearch: true }).then((hit) => hit || fetch(req).then((resp) => {
      if (resp.ok && resp.type === 'basic') c.put(req, resp.clone())
      return resp
    }))),
  )
})
