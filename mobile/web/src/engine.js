// The web app's sync engine: the same rules as the Go engine (mobile/*.go)
// and syncproto's client rules (syncproto/doc.go). Per record, a base (the
// Merge of every version pulled and every change acknowledged), the outbox of
// pending writes in counter order, and the view Rebuild(base, pending). Sync
// pushes the outbox in counter order (a request ends before a second change
// to one record), folds each acknowledged change into the base and drops it
// from the outbox in one IndexedDB transaction with the answer, keeps
// rejected writes with their reason; pulls page by page with the cursor,
// merging each page with syncproto.Merge (the wasm) in one transaction with
// the new cursor; then uploads photos. Every merge goes through the wasm.
import { reactive, watch } from 'vue'
import * as sp from './sp.js'
import * as db from './db.js'
import * as api from './api.js'
import { setSchema } from './domain.js'
import { setErrorSchema, errorText } from './errors.js'
import { unread } from './notify.js'
import { locale } from './i18n.js'

const MAX_CHANGES = 500
const MAX_PUSH_BYTES = 960 << 10

export const state = reactive({
  ready: false,
  signedIn: false,
  sessionEnded: false,
  // deviceRevoked: this device was revoked and wiped (the sign-in screen
  // says so until someone signs in again).
  deviceRevoked: false,
  me: null,
  deviceId: '',
  online: typeof navigator !== 'undefined' ? navigator.onLine : true,
  phase: 'idle', // idle | push | pull | photos
  done: 0,
  total: 0,
  pending: 0,
  photosPending: 0,
  lastSync: 0,
  lastError: '',
  rejected: [],
  // people: the people of the user's pairings, for names (never ids) on
  // every screen: {users: {id: {name, role}}, devices: {deviceId: userId}}
  // from GET /v1/pairings/{id}/people, kept for offline use.
  people: { users: {}, devices: {} },
  // messages: the person's newest in-app messages (消息), as the last sync
  // read them with the reads made since on this phone laid over, kept for
  // offline use; messagesMore says older ones wait on the server.
  messages: [],
  messagesMore: false,
  version: 0, // bumped whenever views change: read it to recompute
})

const bases = new Map() // key → canonical record JSON
let outbox = [] // [{counter, key, pairing, write, dot}] in counter order
const views = new Map() // key → {key, raw, rec, deleted, edc, pending}
const writesByKey = new Map()

const keyOf = (collection, id) => collection + '/' + id

function indexOutbox() {
  writesByKey.clear()
  for (const o of outbox) {
    if (!writesByKey.has(o.key)) writesByKey.set(o.key, [])
    writesByKey.get(o.key).push(o)
  }
  // Pending is counted in records (not writes) everywhere: the top bar shows
  // state.pending, each pairing pendingCount(p), and they add up.
  state.pending = writesByKey.size
}

function rebuildKey(key) {
  const base = bases.get(key) || ''
  const pending = (writesByKey.get(key) || []).map((o) => o.write)
  if (!base && !pending.length) {
    views.delete(key)
    return
  }
  const r = sp.rebuild(base, pending)
  if (!r.record) {
    views.delete(key)
    return
  }
  views.set(key, { key, raw: r.record, rec: JSON.parse(r.record), deleted: r.deleted, edc: r.edit_delete_conflict, pending: pending.length > 0 })
}

function touched(keys) {
  indexOutbox()
  for (const k of keys) rebuildKey(k)
  state.version++
}

// init loads the local store into memory (offline: no network needed).
// syncproto.wasm is needed only when there is something to rebuild: a
// fresh phone shows the sign-in screen without waiting for it.
export async function init() {
  await db.open()
  const sess = await api.loadSession()
  state.signedIn = !!(sess && sess.deviceId && sess.refreshToken)
  state.sessionEnded = !!(sess && sess.deviceId && !sess.refreshToken)
  state.deviceId = (sess && sess.deviceId) || ''
  state.me = (await db.getMeta('me')) || (sess && sess.user) || null
  const schema = await db.getMeta('schema')
  if (schema) setSchema(schema)
  if (schema) setErrorSchema(schema)
  for (const b of await db.getAll('base')) bases.set(b.key, b.record)
  outbox = (await db.getAll('outbox')).sort((a, b) => a.counter - b.counter)
  if (bases.size || outbox.length) await loadWasm()
  state.rejected = (await db.getAll('rejected')).map(parseRejected)
  state.people = (await db.getMeta('people')) || { users: {}, devices: {} }
  await showMessages()
  await countPhotos()
  indexOutbox()
  const keys = new Set([...bases.keys(), ...writesByKey.keys()])
  for (const k of keys) rebuildKey(k)
  state.version++
  state.ready = true
  api.setSessionEndedHandler(() => { state.sessionEnded = true })
}

function parseRejected(r) {
  return { ...r, w: JSON.parse(r.write) }
}

async function countPhotos() {
  const all = await db.getAll('photos')
  state.photosPending = all.filter((p) => p.state === 'pending').length
}

// loadWasm loads syncproto.wasm once. On a fresh phone the service worker
// downloads it with its precache: while the worker installs, wait for it
// (20 s at most) so the page takes the wasm from its cache instead of
// downloading it a second time.
export async function loadWasm() {
  const sw = typeof navigator !== 'undefined' && navigator.serviceWorker
  if (sw && !sw.controller) {
    const reg = await sw.getRegistration().catch(() => null)
    if (reg && (reg.installing || reg.waiting)) {
      const controlled = new Promise((r) => sw.addEventListener('controllerchange', r, { once: true }))
      await Promise.race([sw.ready.then(() => Promise.race([controlled, sleep(3000)])), sleep(20_000)])
    }
  }
  return sp.load()
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// ---- reading ----------------------------------------------------------

// list returns the live views of a collection in a pairing (newest first by
// id, which is time-ordered for the app's own records).
export function list(pairing, collection) {
  void state.version
  const out = []
  for (const v of views.values()) {
    if (v.rec.collection === collection && (pairing === null || v.rec.pairing === pairing) && !v.deleted) out.push(v)
  }
  return out.sort((a, b) => (a.rec.id < b.rec.id ? 1 : -1))
}

export function get(collection, id) {
  void state.version
  return views.get(keyOf(collection, id)) || null
}

// hasOpenConflict: the view holds an edit/delete conflict or a conflict
// entry whose value differs from its field's (syncproto
// Record.OpenConflicts: an entry equal to the value is nothing to choose).
export function hasOpenConflict(v) {
  if (v.edc) return true
  return (v.rec.conflicts || []).some((c) => JSON.stringify(c.value) !== JSON.stringify(v.rec.fields[c.field]?.value))
}

// conflicts lists the views holding open conflicts, for review.
export function conflicts() {
  void state.version
  return [...views.values()].filter(hasOpenConflict)
}

// pendingCount is how many records of a pairing have changes waiting to
// sync (the unit of state.pending, so the pairings add up to the top bar).
export function pendingCount(pairing) {
  void state.version
  return new Set(outbox.filter((o) => o.pairing === pairing).map((o) => o.key)).size
}

export function pairings() {
  void state.version
  return list('_directory', 'pairings').filter((v) => v.rec.fields.status?.value !== 'draft')
}

// ---- signing in --------------------------------------------------------

// signIn signs in on this device. Whether the device is the person's is
// decided by the signed-in user's id (the server checks the device's user),
// never by the typed string: a person may sign in with their user name one
// day and their phone number the next. Another person's device is wiped
// first, unless it holds changes not yet synced.
export async function signIn(username, password) {
  const name = deviceName()
  let r
  try {
    r = await api.signIn(username, password, name)
  } catch (e) {
    if (!e.otherUser) throw e
    if (outbox.length) throw Object.assign(new Error('otherUser'), { i18n: 'otherUser' })
    await reset()
    r = await api.signIn(username, password, name)
  }
  await signedIn(r)
}

// activate sets the person's password with an activation code and signs
// them in on this device (registering it), as the sign-in screen does.
// On a device already signed in (a reset, or another person's phone) it
// goes through signIn with the new password; if that fails, the error says
// the account is activated all the same (activated: true).
export async function activate(code, password) {
  const sess = await api.loadSession()
  const tr = await api.activate(code, password)
  if (sess && sess.deviceId) {
    await api.dropTokens(tr)
    try {
      await signIn(tr.user.username, password)
    } catch (e) {
      throw Object.assign(e, { activated: true })
    }
    return tr.user
  }
  await signedIn(await api.registerDevice(tr, tr.user.username, deviceName()))
  return tr.user
}

// changePassword changes the signed-in person's password (online); the
// new tokens are kept, so the app goes on working.
export async function changePassword(oldPassword, newPassword) {
  const tr = await api.changePassword(oldPassword, newPassword)
  state.me = tr.user
  await db.setMeta('me', tr.user)
}

async function signedIn(r) {
  const s = api.currentSession()
  if (r.registered) {
    await db.setMeta('writer', { replica: s.deviceId, counter: 0, clock: [0, 0] })
  }
  state.deviceId = s.deviceId
  state.signedIn = true
  state.sessionEnded = false
  state.deviceRevoked = false
  await refreshProfile()
}

function deviceName() {
  const ua = navigator.userAgent
  const kind = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : 'Browser'
  return `网页应用 Web app (${kind})`
}

// refreshProfile fetches the user and the schema (rules and labels) and keeps
// them for offline use.
export async function refreshProfile() {
  const [me, schema] = await Promise.all([api.request('GET', '/v1/me'), api.request('GET', '/v1/schema')])
  state.me = me
  setSchema(schema)
  setErrorSchema(schema)
  await db.setMeta('me', me)
  await db.setMeta('schema', schema)
}

export async function signOut() {
  await api.signOut()
  await reset()
}

async function reset() {
  await db.wipe()
  bases.clear()
  outbox = []
  views.clear()
  state.rejected = []
  state.me = null
  state.people = { users: {}, devices: {} }
  state.messages = []
  state.messagesMore = false
  unread.value = 0
  state.signedIn = false
  state.deviceId = ''
  state.lastSync = 0
  indexOutbox()
  state.photosPending = 0
  state.version++
}

// ---- local writes --------------------------------------------------------

// write applies local writes offline, in one transaction with the writer's
// state (a dot is never handed out twice) and any photos they cite: ops are
// [{op: set | delete | keep, collection, id, pairing, values}].
export async function write(ops, photos = []) {
  await loadWasm()
  const entries = []
  await db.tx(['meta', 'outbox', 'photos'], 'readwrite', async (s) => {
    let writer = await db.req(s.meta.get('writer'))
    if (!writer) throw new Error('not signed in: sign in once, online, to register this device')
    const local = new Map()
    for (const o of ops) {
      const key = keyOf(o.collection, o.id)
      const view = local.has(key) ? local.get(key) : (views.get(key)?.raw || '')
      const ans = sp.write(writer, view, { op: o.op || 'set', collection: o.collection, id: o.id, pairing: o.pairing || '', values: o.values, now: Date.now() })
      writer = ans.state
      if (!ans.write) continue // every value was already there: nothing written (syncproto Writer.Set)
      const w = JSON.parse(ans.write)
      const entry = { counter: sp.dotCounter(w.dot), key, pairing: w.pairing, write: ans.write, dot: w.dot }
      s.outbox.put(entry)
      entries.push(entry)
      local.set(key, ans.view.record)
    }
    s.meta.put(writer, 'writer')
    for (const p of photos) s.photos.put(p)
  })
  outbox.push(...entries)
  outbox.sort((a, b) => a.counter - b.counter)
  touched(new Set(entries.map((e) => e.key)))
  if (photos.length) await countPhotos()
  scheduleSync()
}

export const set = (collection, id, pairing, values) => write([{ op: 'set', collection, id, pairing, values }])

// ---- sync ----------------------------------------------------------------

let running = null
let timer = null

// scheduleSync syncs soon (after local writes), when online.
export function scheduleSync(delay = 800) {
  clearTimeout(timer)
  timer = setTimeout(() => { if (navigator.onLine) sync() }, delay)
}

// sync runs one sync (one at a time across the app's tabs).
export function sync() {
  if (running) return running
  const run = () => runSync()
  running = (navigator.locks ? navigator.locks.request('pairsync-sync', run) : run()).finally(() => { running = null })
  return running
}

async function runSync() {
  const sess = api.currentSession()
  if (!sess || !sess.deviceId || !sess.refreshToken) return
  state.done = 0
  state.total = 0
  try {
    await loadWasm()
    // The progress total is counted once, at the start (records to push,
    // versions to pull, photos to upload), and never changes during the
    // sync: the bar's x/y only moves forward.
    state.phase = 'push'
    const behind = await pullBehind()
    const photos = (await db.getAll('photos')).filter((p) => p.state === 'pending').length
    state.total = outbox.length + behind + photos
    const resync = (await db.getMeta('resync')) || []
    if (resync.length) await pull()
    await push()
    await pull()
    await refreshPeople()
    await syncMessages()
    await syncLanguage()
    await uploadPhotos()
    state.lastSync = Date.now()
    state.lastError = ''
    state.online = true
  } catch (e) {
    if (e instanceof api.HTTPError && e.code === 'device_revoked') {
      // An administrator revoked this device (SECURITY.md 12): the server
      // accepts nothing more from it, so its local data goes and the
      // sign-in screen says why.
      await signOut()
      state.deviceRevoked = true
      return
    }
    if (e instanceof api.OfflineError) state.online = false
    else state.lastError = e instanceof api.HTTPError ? e.message : errorText(e.code ? e : { code: 'internal' })
    if (!(e instanceof api.OfflineError)) console.warn('sync stopped', e)
  } finally {
    state.phase = 'idle'
  }
}

// buildPush takes the next push request from the outbox (see the engine's
// buildPush): writes in counter order, each change built now from the base,
// ending before a second change to one record.
function buildPush(limit) {
  const items = []
  const seen = new Set()
  let size = 64
  for (const o of outbox) {
    if (seen.has(o.key)) break
    seen.add(o.key)
    const pending = (writesByKey.get(o.key) || []).map((x) => x.write)
    const ch = sp.change(bases.get(o.key) || '', pending, o.dot)
    if (items.length && size + ch.length + 1 > MAX_PUSH_BYTES) break
    size += ch.length + 1
    items.push({ o, ch })
    if (items.length >= limit) break
  }
  return items
}

async function push() {
  state.phase = 'push'
  let limit = MAX_CHANGES
  const deviceId = api.currentSession().deviceId
  for (;;) {
    const items = buildPush(limit)
    if (!items.length) return
    const body = sp.encodePush(deviceId, items.map((i) => i.ch))
    let text
    try {
      text = await api.request('POST', '/v1/sync/push', { body, raw: true, compress: true })
    } catch (e) {
      if (e instanceof api.HTTPError && (e.status === 400 || e.status === 413)) {
        // The request as a whole was refused: narrow it down to the change
        // the server cannot take, and keep that one as rejected.
        if (items.length > 1) {
          limit = Math.max(Math.floor(items.length / 2), 1)
          continue
        }
        await apply(items, [{ dot: items[0].o.dot, status: 'rejected', error: { code: e.code, message: e.serverMessage || e.message, field: e.field, reason: e.reason, args: e.args } }])
        limit = MAX_CHANGES
        continue
      }
      throw e
    }
    const ans = sp.decodePushAnswer(text)
    if (ans.results.length !== items.length) throw new Error(`push answer: ${ans.results.length} results for ${items.length} changes`)
    ans.results.forEach((r, i) => {
      if (r.dot !== items[i].o.dot) throw new Error(`push answer: result ${i} is for ${r.dot}, want ${items[i].o.dot}`)
    })
    await apply(items, ans.results, text)
  }
}

// apply acts on a push answer in one transaction: applied and merged
// changes are folded into the base and leave the outbox; rejected writes
// move to the rejected list; duplicates leave the outbox. An applied change
// with the server's stamp is folded as the version the server stored, and
// its seq kept as held (meta 'held': {pairing: [seq]}): the next pulls name
// it and the server leaves it out (syncproto Held, issue 20).
async function apply(items, results, answerText) {
  const newBases = new Map()
  const rejected = []
  const held = {}
  const folded = answerText ? sp.foldAnswer(items.slice(0, results.length).map(({ o, ch }) => [bases.get(o.key) || '', ch]), answerText) : []
  results.forEach((r, i) => {
    const { o } = items[i]
    if (r.status === 'applied' || r.status === 'merged') {
      const f = folded[i]
      if (f && f.record) newBases.set(o.key, f.record)
      if (f && f.held) (held[o.pairing] = held[o.pairing] || []).push(f.seq)
    } else if (r.status === 'rejected') {
      rejected.push({ dot: o.dot, key: o.key, pairing: o.pairing, write: o.write, error: r.error || { code: 'internal', message: 'rejected without a reason' }, at: Date.now() })
    } else if (r.status !== 'duplicate') {
      throw new Error(`push answer: unknown status ${r.status} for ${r.dot}`)
    }
  })
  await db.tx(['base', 'outbox', 'rejected', 'meta'], 'readwrite', async (s) => {
    for (const [key, record] of newBases) s.base.put({ key, pairing: JSON.parse(record).pairing, record })
    for (const r of rejected) s.rejected.put(r)
    for (const { o } of items.slice(0, results.length)) s.outbox.delete(o.counter)
    if (Object.keys(held).length) {
      const all = (await db.req(s.meta.get('held'))) || {}
      for (const [p, seqs] of Object.entries(held)) all[p] = [...(all[p] || []), ...seqs]
      s.meta.put(all, 'held')
    }
  })
  for (const [k, r] of newBases) bases.set(k, r)
  const gone = new Set(items.slice(0, results.length).map((i) => i.o.counter))
  outbox = outbox.filter((o) => !gone.has(o.counter))
  state.rejected.push(...rejected.map(parseRejected))
  state.done += results.length
  touched(new Set(items.map((i) => i.o.key)))
}

// pullBehind is how many versions the pull has to bring (the scopes'
// sequences past the cursor), for the progress total; 0 when the server
// cannot say.
async function pullBehind() {
  const cursor = (await db.getMeta('cursor')) || {}
  try {
    const scopes = await api.request('GET', '/v1/sync/scopes')
    let behind = 0
    for (const sc of scopes.pairings || []) behind += Math.max(0, sc.seq - (cursor[sc.pairing] || 0))
    return behind
  } catch (e) {
    if (e instanceof api.OfflineError) throw e
    return 0
  }
}

async function pull() {
  state.phase = 'pull'
  let cursor = (await db.getMeta('cursor')) || {}
  const purge = new Set()
  let resyncs = 0
  for (;;) {
    const held = (await db.getMeta('held')) || {}
    const text = await api.request('POST', '/v1/sync/pull', { body: sp.encodePull(cursor, 0, held), raw: true })
    const page = sp.decodePullAnswer(text, cursor)
    const keys = page.records.map((r) => keyOf(r.collection, r.id))
    const merged = page.records.length ? sp.mergeAll(page.records.map((r, i) => [bases.get(keys[i]) || '', r.record])) : []
    const resync = page.resync || []
    const dropped = []
    await db.tx(['base', 'meta'], 'readwrite', async (s) => {
      merged.forEach((m, i) => s.base.put({ key: keys[i], pairing: page.records[i].pairing, record: m.record }))
      for (const p of resync) {
        const ks = await db.req(s.base.index('pairing').getAllKeys(p))
        for (const k of ks) { s.base.delete(k); dropped.push(k) }
      }
      let pendingResync = (await db.req(s.meta.get('resync'))) || []
      pendingResync = [...new Set([...pendingResync, ...resync])]
      if (!page.more && !resync.length) pendingResync = []
      s.meta.put(pendingResync, 'resync')
      s.meta.put(page.next, 'cursor')
      // Held seqs the cursor has passed, or of pairings it no longer
      // holds (resynced, purged), are forgotten.
      const held = (await db.req(s.meta.get('held'))) || {}
      for (const p of Object.keys(held)) {
        held[p] = page.next[p] === undefined ? [] : held[p].filter((q) => q > page.next[p])
        if (!held[p].length) delete held[p]
      }
      s.meta.put(held, 'held')
    })
    for (const k of dropped) bases.delete(k)
    merged.forEach((m, i) => bases.set(keys[i], m.record))
    const moved = JSON.stringify(cursor) !== JSON.stringify(page.next)
    cursor = page.next
    for (const p of page.purge || []) purge.add(p)
    state.done += page.records.length
    touched(new Set([...keys, ...dropped]))
    if (resync.length) {
      if (++resyncs > 10) throw new Error('pull: the server keeps asking to resync')
      continue
    }
    if (!page.more || (!page.records.length && !moved)) break
  }
  if (purge.size) await purgePairings([...purge])
}

// refreshPeople reads the people of each pairing the user syncs (names,
// roles, device ids) and keeps them for offline use; a pairing that cannot
// be read keeps what was known.
async function refreshPeople() {
  const users = { ...state.people.users }
  const devices = { ...state.people.devices }
  for (const p of list('_directory', 'pairings')) {
    try {
      const ans = await api.request('GET', `/v1/pairings/${p.rec.id}/people`)
      for (const u of ans.people || []) {
        users[u.id] = { name: u.name, role: u.role }
        for (const d of u.devices || []) devices[d] = u.id
      }
    } catch (e) {
      if (e instanceof api.OfflineError) throw e
    }
  }
  state.people = { users, devices }
  await db.setMeta('people', { users, devices })
}

// ---- 消息: the person's in-app messages, offline ---------------------------
//
// Messages are the person's, not a pairing's, so they are no synced records
// (ARCHITECTURE.md): each sync sends the reads made on this phone
// (POST /v1/me/messages/read, each with its time; a read is set once, so a
// batch sent again changes nothing) and reads the newest MESSAGES_KEPT
// (GET /v1/me/messages) into IndexedDB. The screens read the local copy.

const MESSAGES_KEPT = 100
const READS_PER_REQUEST = 200

// showMessages puts the local copy on screen: the last list read, with the
// reads not yet sent laid over, and the unread count.
async function showMessages() {
  const kept = (await db.getMeta('messages')) || { messages: [], more: false, unread: 0 }
  const reads = new Map(((await db.getMeta('messageReads')) || []).map((r) => [r.id, r.at]))
  let lessUnread = 0
  state.messages = kept.messages.map((m) => {
    if (m.read_at || !reads.has(m.id)) return m
    lessUnread++
    return { ...m, read_at: reads.get(m.id) }
  })
  state.messagesMore = !!kept.more
  unread.value = Math.max(0, (kept.unread_more ? 100 : kept.unread) - lessUnread)
}

// readMessage marks one message read on this phone, online or not; the
// next sync tells the server.
export async function readMessage(id) {
  const at = new Date().toISOString()
  await db.tx(['meta'], 'readwrite', async (s) => {
    const reads = (await db.req(s.meta.get('messageReads'))) || []
    if (!reads.some((r) => r.id === id)) reads.push({ id, at })
    await db.req(s.meta.put(reads, 'messageReads'))
  })
  await showMessages()
  if (navigator.onLine) syncMessages().catch(() => { /* the next sync sends it */ })
}

let messagesRunning = null

// syncMessages sends this phone's reads, then reads the newest messages.
// Offline it throws api.OfflineError and keeps both as they were; any other
// refusal (an older server) keeps the reads for a later sync.
export function syncMessages() {
  if (!messagesRunning) messagesRunning = runSyncMessages().finally(() => { messagesRunning = null })
  return messagesRunning
}

async function runSyncMessages() {
  try {
    const reads = ((await db.getMeta('messageReads')) || []).slice(0, READS_PER_REQUEST)
    if (reads.length) {
      await api.request('POST', '/v1/me/messages/read', { body: { reads } })
      const sent = new Set(reads.map((r) => r.id))
      await db.tx(['meta'], 'readwrite', async (s) => {
        const left = ((await db.req(s.meta.get('messageReads'))) || []).filter((r) => !sent.has(r.id))
        await db.req(s.meta.put(left, 'messageReads'))
      })
    }
    const a = await api.request('GET', `/v1/me/messages?limit=${MESSAGES_KEPT}`)
    await db.setMeta('messages', { messages: a.messages || [], more: !!a.more, unread: a.unread || 0, unread_more: !!a.unread_more })
  } catch (e) {
    if (e instanceof api.OfflineError) throw e
    console.warn('messages not synced', e)
  } finally {
    await showMessages()
  }
}

// ---- the person's language -----------------------------------------------
//
// The language chosen on this phone is kept on the user (PATCH /v1/me), so
// their notifications are written in it: sent at the first sync after
// signing in and after each switch (offline: at the next sync). meta
// 'languageSent' is what this phone last told the server, so a language
// chosen later in the console is not undone by a phone that did not switch.
async function syncLanguage() {
  const lang = locale.value === 'en' ? 'en' : 'zh'
  if ((await db.getMeta('languageSent')) === lang) return
  try {
    const me = await api.request('PATCH', '/v1/me', { body: { language: lang } })
    await db.setMeta('languageSent', lang)
    if (me && state.me) {
      state.me = { ...state.me, language: me.language }
      await db.setMeta('me', { ...state.me })
    }
  } catch (e) {
    if (e instanceof api.OfflineError) throw e
    console.warn('language not kept', e)
  }
}

if (typeof window !== 'undefined') {
  watch(locale, () => { if (state.signedIn && navigator.onLine) syncLanguage().catch(() => { /* the next sync sends it */ }) })
}

// writerOf names who made a write from its dot ("replica:counter"): the
// person whose device it is, {id, name, role, mine}; the server's own
// replicas are the console's administrators (id '').
export function writerOf(dot) {
  const replica = String(dot || '').slice(0, String(dot || '').lastIndexOf(':'))
  const uid = replica === state.deviceId ? state.me?.id : state.people.devices[replica]
  const mine = replica === state.deviceId || (!!uid && uid === state.me?.id)
  if (uid && uid === state.me?.id) return { id: uid, name: state.me.name || state.people.users[uid]?.name || '', role: state.me.role, mine }
  if (uid && state.people.users[uid]) return { id: uid, ...state.people.users[uid], mine }
  return { id: '', name: '', role: replica.startsWith('srv-') ? 'admin' : '', mine }
}

// purgePairings pushes what is pending, then drops everything of pairings
// the user may no longer see.
async function purgePairings(pairings) {
  await push()
  const drop = new Set(pairings)
  const keys = []
  await db.tx(['base', 'outbox', 'rejected', 'meta'], 'readwrite', async (s) => {
    for (const p of pairings) {
      for (const k of await db.req(s.base.index('pairing').getAllKeys(p))) { s.base.delete(k); keys.push(k) }
    }
    for (const o of outbox) if (drop.has(o.pairing)) s.outbox.delete(o.counter)
    for (const r of state.rejected) if (drop.has(r.pairing)) s.rejected.delete(r.dot)
    const cursor = (await db.req(s.meta.get('cursor'))) || {}
    for (const p of pairings) delete cursor[p]
    s.meta.put(cursor, 'cursor')
  })
  for (const k of keys) bases.delete(k)
  outbox = outbox.filter((o) => !drop.has(o.pairing))
  state.rejected = state.rejected.filter((r) => !drop.has(r.pairing))
  touched(new Set(keys))
}

// ---- photos ------------------------------------------------------------

// uploadPhotos sends the photos still pending on their own channel, after
// the records citing them: POST …/uploads, PUT the missing parts (to the
// signed URL as given, or to the server with the token), POST done.
async function uploadPhotos() {
  const photos = (await db.getAll('photos')).filter((p) => p.state === 'pending')
  if (!photos.length) return
  state.phase = 'photos'
  for (const p of photos) {
    try {
      const ans = await api.request('POST', `/v1/photos/${p.sha}/uploads`, { body: { size: p.size, type: p.type } })
      if (!ans.stored) {
        for (const part of ans.parts || []) {
          if (part.sent) continue
          const start = (part.number - 1) * ans.part_size
          const bytes = p.blob.slice(start, start + part.size)
          if (part.direct) {
            let resp
            try {
              resp = await fetch(part.url, { method: part.method || 'PUT', headers: part.header || {}, body: bytes })
            } catch (e) {
              throw new api.OfflineError(e)
            }
            if (!resp.ok) throw new api.HTTPError(resp.status, { code: 'unavailable', message: `photo part ${part.number}: ${resp.status}` })
          } else {
            await api.request(part.method || 'PUT', part.url, { body: bytes, headers: { 'Content-Type': 'application/octet-stream' } })
          }
        }
        await api.request('POST', ans.done, { body: {} })
      }
      await markPhoto(p.sha, 'stored', '')
    } catch (e) {
      if (e instanceof api.OfflineError) throw e
      if (e instanceof api.HTTPError && e.status === 404) continue // no record citing it on the server yet
      if (e instanceof api.HTTPError && [413, 415, 422].includes(e.status)) await markPhoto(p.sha, 'failed', e.message)
      else console.warn('photo upload', p.sha, e)
    }
    state.done++
  }
  await countPhotos()
}

async function markPhoto(sha, st, error) {
  await db.tx(['photos'], 'readwrite', async (s) => {
    const p = await db.req(s.photos.get(sha))
    if (p) s.photos.put({ ...p, state: st, error })
  })
}

const urls = new Map()

// photoURL returns an object URL for a photo: the local copy, else the
// server's thumbnail (online).
export async function photoURL(sha, thumb = true) {
  if (urls.has(sha)) return urls.get(sha)
  const p = await db.tx(['photos'], 'readonly', (s) => db.req(s.photos.get(sha)))
  let blob = p && p.blob
  if (!blob) {
    try {
      const token = api.currentSession()?.accessToken
      const resp = await fetch(`/v1/photos/${sha}${thumb ? '?thumb=1' : ''}`, { headers: token ? { Authorization: 'Bearer ' + token } : {} })
      if (!resp.ok) return ''
      blob = await resp.blob()
    } catch {
      return ''
    }
  }
  const u = URL.createObjectURL(blob)
  urls.set(sha, u)
  return u
}

export async function photoStates() {
  const m = {}
  for (const p of await db.getAll('photos')) m[p.sha] = p.state
  return m
}

// ---- review -------------------------------------------------------------

export async function dismissRejected(dot) {
  await db.tx(['rejected'], 'readwrite', (s) => db.req(s.rejected.delete(dot)))
  state.rejected = state.rejected.filter((r) => r.dot !== dot)
}

// Online/offline and periodic sync.
export function watchNetwork() {
  addEventListener('online', () => { state.online = true; sync() })
  addEventListener('offline', () => { state.online = false })
  setInterval(() => { if (navigator.onLine && state.signedIn) sync() }, 60_000)
}
