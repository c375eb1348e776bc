// The domain as the app needs it offline: labels and form limits from the
// server's schema, times in RFC 3339, and an issue's state derived from its
// events by the server's own Go rule through syncproto.wasm (deriveIssue).
import { ref } from 'vue'
import { L, locale } from './i18n.js'
import * as sp from './sp.js'

export const ISSUE_STATUS = {
  raised: ['已提出', 'Raised'],
  accepted: ['已受理', 'Accepted'],
  not_accepted: ['不予受理', 'Not accepted'],
  dispatched: ['已交办', 'Dispatched'],
  signed: ['已签收', 'Signed'],
  bounced: ['已退回', 'Bounced'],
  arbitration: ['待裁决', 'Arbitration'],
  responded: ['已答复', 'Responded'],
  disputed: ['有异议', 'Disputed'],
  reopened: ['重新办理', 'Reopened'],
  closed: ['已办结', 'Closed'],
  closed_unconfirmed: ['逾期未确认办结', 'Closed unconfirmed'],
}

export function statusLabel(s) {
  const e = ISSUE_STATUS[s]
  return e ? e[locale.value === 'en' ? 1 : 0] : s
}

let schema = null
export function setSchema(s) { schema = s }
export const getSchema = () => schema

export function spec(collection) {
  return schema && schema.collections.find((c) => c.name === collection)
}
export function fieldSpec(collection, field) {
  const c = spec(collection)
  return c && c.fields.find((f) => f.name === field)
}
export function fieldLabel(collection, field) {
  const f = fieldSpec(collection, field)
  return f ? L(f.label) : field
}
export function choices(collection, field) {
  const f = fieldSpec(collection, field)
  return (f && f.enum) || []
}
export function choiceLabel(collection, field, value) {
  const c = choices(collection, field).find((x) => String(x.value) === String(value))
  return c ? L(c.label) : String(value ?? '')
}

// Form limits come from the schema (GET /v1/schema), never literals:
// required(c, f) and maxLen(c, f) (undefined when the field has none, so
// :maxlength leaves the input free), and missing(c, values) lists the labels
// of the required fields a form leaves empty (for the message before saving).
export function required(collection, field) {
  const f = fieldSpec(collection, field)
  return !!(f && f.required)
}
export function maxLen(collection, field) {
  const f = fieldSpec(collection, field)
  return (f && f.max_len) || undefined
}
export function missing(collection, values) {
  const c = spec(collection)
  if (!c) return []
  return c.fields.filter((f) => f.required && f.name in values && (values[f.name] === undefined || values[f.name] === null || String(values[f.name]).trim() === '')).map((f) => L(f.label))
}

// value reads a field of a record view ({fields: {name: {value}}}).
export function value(rec, field) {
  const f = rec && rec.fields && rec.fields[field]
  return f ? f.value : undefined
}

const pad = (n) => String(n).padStart(2, '0')

// rfc3339 formats a time with the device's offset: 2026-03-01T09:30:00+08:00.
export function rfc3339(d = new Date()) {
  const off = -d.getTimezoneOffset()
  const sign = off >= 0 ? '+' : '-'
  const a = Math.abs(off)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`
}
// localInput is the value of an <input type=datetime-local> for d.
export function localInput(d = new Date()) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`
}
export function showTime(s) {
  if (!s) return ''
  const d = new Date(s)
  if (isNaN(d)) return s
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`
}

// newID is a client-generated record id (time-ordered, like a UUIDv7).
export function newID() {
  const ms = Date.now().toString(16).padStart(12, '0')
  const rnd = crypto.getRandomValues(new Uint8Array(10))
  const hex = [...rnd].map((b) => b.toString(16).padStart(2, '0')).join('')
  return `${ms.slice(0, 8)}-${ms.slice(8)}-7${hex.slice(0, 3)}-${hex.slice(3, 7)}-${hex.slice(7, 19)}`
}

// deriveIssue is an issue's state by the server's own rule (server/pairing
// DeriveIssue and OverdueAt, compiled into syncproto.wasm): from its record
// (the raise) and its events' records (views' rec), judged at now (ms). It
// returns {status, handler, handlerName, due, dispatchedAt, response,
// resolution, overdue, bounces, dueRunning (the 办理期限 is in force), events: [{id, type, role, by, at, …,
// applied, why}]}, the events in the rule's order. No copy of the rule lives
// in the app.
export function deriveIssue(issue, eventRecs, now = Date.now()) {
  // Nothing to derive before the wasm is there: no record can be either
  // (records come through it).
  if (!sp.loaded()) return { status: '', handler: '', handlerName: '', due: '', dispatchedAt: '', response: '', resolution: '', overdue: false, bounces: 0, dueRunning: false, events: [] }
  const recs = new Map((eventRecs || []).map((r) => [r.id, r]))
  const st = sp.deriveIssue(issue ? JSON.stringify(issue) : '', [...recs.values()].map((r) => JSON.stringify(r)), { category: value(issue, 'category') || '', now })
  const events = st.events.map((e) => {
    const out = { id: e.id, type: e.type, applied: e.applied, why: e.why || '' }
    const r = recs.get(e.id)
    if (r) {
      for (const k of ['role', 'by', 'at', 'reason', 'handler', 'handler_name', 'resolution', 'note', 'response', 'code', 'due']) out[k] = value(r, k)
    } else if (issue && e.id === issue.id) {
      Object.assign(out, { role: 'officer', by: value(issue, 'raised_by'), at: value(issue, 'raised_at') })
    }
    return out
  })
  return {
    status: st.status,
    handler: st.handler,
    handlerName: st.handler_name,
    due: st.due || '',
    dispatchedAt: st.dispatched_at || '',
    response: st.response,
    resolution: st.resolution,
    overdue: st.overdue,
    bounces: st.bounces,
    dueRunning: st.due_running,
    events,
  }
}

// clock is now (ms), ticking each 30 s, for the screens that show the time
// left: pass clock.value to deriveIssue and timeLeft to recompute as time
// passes.
export const clock = ref(Date.now())
if (typeof window !== 'undefined') setInterval(() => { clock.value = Date.now() }, 30_000)

// timeLeft says how long is left until due (剩余 2 天 3 小时) or how long it
// is past (已超期 5 小时), in days, hours and (under an hour) minutes.
export function timeLeft(due, now = Date.now()) {
  if (!due) return ''
  const ms = new Date(due).getTime() - now
  const late = ms < 0
  const min = Math.floor(Math.abs(ms) / 60000)
  const d = Math.floor(min / 1440)
  const h = Math.floor((min % 1440) / 60)
  const m = min % 60
  const en = locale.value === 'en'
  const parts = []
  if (d) parts.push(en ? `${d} d` : `${d} 天`)
  if (d || h) parts.push(en ? `${h} h` : `${h} 小时`)
  if (!d && !h) parts.push(en ? `${m} min` : `${m} 分钟`)
  const span = parts.join(' ')
  return late ? (en ? `${span} overdue` : `已超期 ${span}`) : (en ? `${span} left` : `剩余 ${span}`)
}

// mayAppend: may a user of role append an event of type now (status)? The
// lifecycle table is the server's (GET /v1/schema issue_transitions).
export function mayAppend(role, type, status) {
  const table = (schema && schema.issue_transitions) || []
  const t = table.find((x) => x.event === type)
  return !!t && (t.roles || []).includes(role) && (t.from || []).includes(status)
}

// DUE_SOON is how close to its due date an issue counts as 即将超期 (due
// within 24 h) in the 待办 lists.
export const DUE_SOON_MS = 24 * 3600e3

// issueDue says, for an issue's derived state (deriveIssue, judged at the
// same now), whether its handler is late or nearly so. Overdue is the
// server's rule, as the wasm judged it (st.overdue: pairing's OverdueAt while
// the 办理期限 is in force); dueSoon — not yet overdue, the 办理期限 in force
// and due within DUE_SOON_MS — is the 待办 list's presentation of it.
export function issueDue(st, now = Date.now()) {
  const due = st.due ? new Date(st.due).getTime() : NaN
  if (st.overdue) return { overdue: true, dueSoon: false, due: st.due || '', left: due - now }
  if (!st.dueRunning || isNaN(due)) return { overdue: false, dueSoon: false, due: st.due || '', left: NaN }
  const left = due - now
  return { overdue: false, dueSoon: left <= DUE_SOON_MS, due: st.due, left }
}
