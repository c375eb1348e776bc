// Boot: load syncproto.wasm (the one merge), open the local store, show the
// app, register the service worker (the app then starts offline).
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
  await sp.load('/syncproto.wasm')
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
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js').catch((e) => console.warn('service worker', e))
  }
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
