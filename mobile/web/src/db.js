// The local store on IndexedDB (the web twin of mobile/store.go):
//   meta      session, writer (replica, counter, clock), cursor, resync, schema, me
//   base      key "collection/id" → {key, pairing, collection, record}: the
//             Merge of every version pulled and every change acknowledged
//   outbox    counter → {counter, key, pairing, write}: pending writes in
//             counter order; an entry leaves only with the server's answer
//   rejected  dot → {dot, key, write, error, at}: writes the server refused
//   photos    sha256 → {sha, blob, type, size, width, height, taken_at,
//             lat, lng, state: pending | stored | failed, error}
// Records and writes are kept as the JSON strings syncproto.wasm produced.

const NAME = 'pairsync'
const VERSION = 1
export const STORES = ['meta', 'base', 'outbox', 'rejected', 'photos']

let dbp = null

export function open() {
  if (dbp) return dbp
  dbp = new Promise((resolve, reject) => {
    const req = indexedDB.open(NAME, VERSION)
    req.onupgradeneeded = () => {
      const db = req.result
      db.createObjectStore('meta')
      db.createObjectStore('base', { keyPath: 'key' }).createIndex('pairing', 'pairing')
      db.createObjectStore('outbox', { keyPath: 'counter' })
      db.createObjectStore('rejected', { keyPath: 'dot' })
      db.createObjectStore('photos', { keyPath: 'sha' })
    }
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
  return dbp
}

// req turns an IDBRequest into a promise.
export function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result)
    r.onerror = () => reject(r.error)
  })
}

// tx runs fn(stores) in one transaction over the named stores and resolves
// with fn's result once the transaction has committed. fn may await requests
// of the transaction (and synchronous work such as wasm calls) but nothing
// else, or the transaction closes.
export async function tx(names, mode, fn) {
  const db = await open()
  const t = db.transaction(names, mode)
  const stores = {}
  for (const n of names) stores[n] = t.objectStore(n)
  const done = new Promise((resolve, reject) => {
    t.oncomplete = resolve
    t.onerror = () => reject(t.error)
    t.onabort = () => reject(t.error || new Error('transaction aborted'))
  })
  done.catch(() => {}) // awaited below; an abort after fn threw reports fn's error
  let out
  try {
    out = await fn(stores, t)
  } catch (e) {
    try { t.abort() } catch { /* already finished */ }
    throw e
  }
  await done
  return out
}

export async function getAll(name) {
  return tx([name], 'readonly', (s) => req(s[name].getAll()))
}

export async function getMeta(key) {
  return tx(['meta'], 'readonly', (s) => req(s.meta.get(key)))
}

export async function setMeta(key, value) {
  return tx(['meta'], 'readwrite', (s) => req(s.meta.put(value, key)))
}

// wipe deletes every local thing (sign-out of another user, revoked device).
export async function wipe() {
  return tx(STORES, 'readwrite', async (s) => {
    for (const n of STORES) await req(s[n].clear())
  })
}
