// Boot: open the local store, show the app, then (after first paint) load
// syncproto.wasm (the one merge) and register the service worker. A fresh
// phone shows the sign-in screen without waiting for the wasm (1 MB on a
// weak network); a phone with records waits for it in engine.init, from the
// service worker's cache. The service worker registers once the wasm is
// fetched, so its precache finds every file in the HTTP cache instead of
// downloading the app a second time.
import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router.js'
import { install } from './vant.js'
import * as sp from './sp.js'
import * as engine from './engine.js'
import { setLocale, locale } from './i18n.js'
import './app.css'

async function boot() {
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
  afterPaint(() => {
    sp.load().catch((e) => console.warn('syncproto.wasm', e)).finally(() => {
      if ('serviceWorker' in navigator) {
        navigator.serviceWorker.register('/sw.js').catch((e) => console.warn('service worker', e))
      }
    })
  })
}

// afterPaint runs fn once the browser has painted the current frame.
function afterPaint(fn) {
  requestAnimationFrame(() => setTimeout(fn, 0))
}

function failed(e) {
  console.error(e)
  document.getElementById('app').textContent = '启动失败 Failed to start: ' + (e.message || e)
}

// The administrators' console (/console/…) is the same app's other face:
// online only, loaded on demand (its code, ECharts included, is a chunk of
// its own that the field app never loads).
if (location.pathname === '/console' || location.pathname.startsWith('/console/')) {
  import('./console/console.js').then((m) => m.mount()).catch(failed)
} else {
  boot().catch(failed)
}
