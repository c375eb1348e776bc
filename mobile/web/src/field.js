// Boot: open the local store and show the app; syncproto.wasm (the one
// merge) loads only when something needs it (engine.loadWasm): at once on a
// phone that holds records, at the first sync after signing in on a fresh
// one, so the sign-in screen never waits for it (4.7 MB, 0.9 MB brotli, on a
// weak network). The service worker registers once the page has loaded and
// precaches the app, the wasm included, through the HTTP cache: each file
// is downloaded once, and the first sync takes the wasm from its cache.
import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router.js'
import { install } from './vant.js'
import * as engine from './engine.js'
import { setLocale, locale } from './i18n.js'
import './app.css'

export async function start() {
  setLocale(locale.value)
  await engine.init()
  const app = createApp(App)
  install(app)
  app.use(router)
  app.mount('#app')
  // For people debugging on a phone and for the browser tests: sync on
  // demand (resolves when that sync is over) and the engine's state.
  window.pairsync = { sync: engine.sync, state: engine.state, readyAt: performance.now() }
  engine.watchNetwork()
  if (engine.state.signedIn && navigator.onLine) engine.sync()
  // After the first paint and the page's own files: the service worker.
  afterLoad(() => {
    if ('serviceWorker' in navigator) {
      navigator.serviceWorker.register('/sw.js').catch((e) => console.warn('service worker', e))
    }
  })
}

// afterLoad runs fn once the page has loaded and painted.
function afterLoad(fn) {
  const go = () => requestAnimationFrame(() => setTimeout(fn, 0))
  if (document.readyState === 'complete') go()
  else addEventListener('load', go, { once: true })
}

