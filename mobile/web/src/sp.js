// syncproto compiled to WebAssembly (mobile/wasm): the app's one merge
// implementation, the same Go code the server runs. Every function takes and
// returns JSON; this module parses the answers and throws SyncprotoError.

export class SyncprotoError extends Error {
  constructor(e) {
    super(e.message)
    this.code = e.code
    this.field = e.field
  }
}

let api = null
let loading = null

// load instantiates the wasm once; concurrent callers share the one load.
// Go's wasm_exec.js (which defines globalThis.Go) is loaded here on first
// use in a page, so neither blocks the first screen: the app calls load
// after first paint, and before anything needs a merge.
export function load(url = '/syncproto.wasm', fetchImpl = fetch) {
  if (api) return Promise.resolve(api)
  if (!loading) loading = loadOnce(url, fetchImpl).catch((e) => { loading = null; throw e })
  return loading
}

function script(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script')
    s.src = src
    s.onload = resolve
    s.onerror = () => reject(new Error(`${src}: failed to load`))
    document.head.appendChild(s)
  })
}

async function loadOnce(url, fetchImpl) {
  if (!globalThis.Go && typeof document !== 'undefined') await script('/wasm_exec.js')
  const go = new globalThis.Go()
  const ready = new Promise((resolve) => { globalThis.__syncprotoReady = resolve })
  let inst
  const resp = await fetchImpl(url)
  if (!resp.ok) throw new Error(`syncproto.wasm: ${resp.status}`)
  try {
    inst = (await WebAssembly.instantiateStreaming(resp.clone(), go.importObject)).instance
  } catch {
    inst = (await WebAssembly.instantiate(await resp.arrayBuffer(), go.importObject)).instance
  }
  go.run(inst)
  await ready
  api = globalThis.syncproto
  return api
}

// loaded reports whether the wasm is ready to call.
export const loaded = () => api !== null

// use installs an already loaded module (the node tests).
export function use(mod) { api = mod }

function call(name, ...args) {
  if (!api) throw new Error('syncproto.wasm is not loaded')
  const s = api[name](...args)
  const ans = JSON.parse(s)
  if (ans.error) throw new SyncprotoError(ans.error)
  return ans.ok
}

// Records, writes and changes stay JSON strings, as the wasm encodes them
// (canonical records): the app parses them only to show them, so the bytes it
// pushes are the bytes it received. "" is the zero Record. Functions that
// return a record return {record, deleted, edit_delete_conflict}.
const arr = (items) => '[' + items.map((x) => x || 'null').join(',') + ']'

export const decodeRecord = (r) => call('decodeRecord', r || '')
export const merge = (a, b) => call('merge', a || '', b || '')
// mergeAll([[a, b], …]) merges a pulled page in one call.
export const mergeAll = (pairs) => call('mergeAll', '[' + pairs.map(([a, b]) => arr([a, b])).join(',') + ']')
// write(state, view, {op, collection, id, pairing, values, now}) → {state, view, write}
export const write = (state, view, req) => call('write', JSON.stringify(state), view || '', JSON.stringify(req))
export const rebuild = (base, pending) => call('rebuild', base || '', arr(pending))
export const change = (base, pending, dot) => call('change', base || '', arr(pending), dot)
export const fold = (base, ch) => call('fold', base || '', ch)
// foldAnswer([[base, change], …], answerText) → [{record, seq, held}] per
// result: the bases after a push answer ("" when unchanged); held when the
// base holds exactly the version stored at seq (named in the next pulls).
export const foldAnswer = (pairs, answer) => call('foldAnswer', '[' + pairs.map(([a, b]) => arr([a, b])).join(',') + ']', answer)
export const encodePush = (device, changes) => call('encodePush', device, arr(changes))
// held: {pairing: [seq, …]} the app holds from its push answers.
export const encodePull = (cursor, limit = 0, held = {}) => call('encodePull', JSON.stringify(cursor || {}), String(limit), JSON.stringify(held || {}))
export const decodePushAnswer = (body) => call('decodePushAnswer', body)
export const decodePullAnswer = (body, cursor) => call('decodePullAnswer', body, JSON.stringify(cursor || {}))
// deriveIssue(issue, events, {category, now}) is the server's issue rule
// (server/pairing DeriveIssue, OverdueAt) on the issue record (the raise) and
// its events' records: {status, due, handler, handler_name, overdue, events, …}.
export const issueTransitions = () => call('issueTransitions')
export const deriveIssue = (issue, events, opts) => call('deriveIssue', issue || '', arr(events), JSON.stringify(opts || {}))

// dotCounter returns the counter of a dot "replica:counter".
export function dotCounter(dot) {
  return Number(dot.slice(dot.lastIndexOf(':') + 1))
}
export function dotReplica(dot) {
  return dot.slice(0, dot.lastIndexOf(':'))
}
