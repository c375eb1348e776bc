// The entry: a few hundred bytes, so the page paints its splash (index.html)
// at once, without waiting for the app's code or styles; then the field app
// (field.js, with its CSS) or the administrators' console loads.
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
  import('./field.js').then((m) => m.start()).catch(failed)
}
