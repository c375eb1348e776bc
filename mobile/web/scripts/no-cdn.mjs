// A Vite plugin that keeps the app free of CDNs: Vant's icon font names a
// remote copy after its inline (data:) one; the remote URL is dropped, and the
// build fails if any stylesheet still loads something from another host.
const remote = /,\s*url\((["']?)(?:https?:)?\/\/[^)]+\1\)\s*format\((["'])[^"']+\2\)/g

export function noCDN() {
  return {
    name: 'pairsync-no-cdn',
    enforce: 'pre',
    transform(code, id) {
      if (!id.includes('vant') || !id.endsWith('.css')) return null
      return { code: code.replace(remote, ''), map: null }
    },
    generateBundle(_, bundle) {
      for (const [name, out] of Object.entries(bundle)) {
        if (!name.endsWith('.css')) continue
        const src = typeof out.source === 'string' ? out.source : new TextDecoder().decode(out.source)
        const m = src.match(/url\((["']?)(?:https?:)?\/\/[^)]*\)/)
        if (m) this.error(`${name} loads ${m[0]} from another host: the app must work offline, without a CDN`)
      }
    },
  }
}
