// The domain as the app needs it offline: labels from the server's schema,
// times in RFC 3339, and an issue's status derived from its events by the
// server's rule (server/pairing/issue.go DeriveIssue): events sorted by the
// HLC of the write that created them (then replica, counter), each applied
// if the lifecycle table allows it in the status it meets. The issue record
// is itself the raise.
import { L, locale } from './i18n.js'

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

// The lifecycle, as GET /v1/schema publishes it (issue_transitions); this
// copy serves until the schema has been fetched once.
const TRANSITIONS = [
  { event: 'raised', from: [''], to: 'raised', roles: ['officer', 'contact', 'admin'] },
  { event: 'accepted', from: ['raised'], to: 'accepted', roles: ['officer', 'admin'] },
  { event: 'not_accepted', from: ['raised'], to: 'not_accepted', roles: ['officer', 'admin'], needs: ['reason'] },
  { event: 'dispatched', from: ['raised', 'accepted', 'bounced', 'arbitration', 'reopened'], to: 'dispatched', roles: ['admin'], needs: ['handler'] },
  { event: 'signed', from: ['dispatched'], to: 'signed', roles: ['officer', 'admin'] },
  { event: 'bounced', from: ['dispatched', 'signed'], roles: ['officer', 'admin'], needs: ['reason'] },
  { event: 'responded', from: ['dispatched', 'signed', 'reopened'], to: 'responded', roles: ['officer', 'admin'], needs: ['resolution'] },
  { event: 'confirmed', from: ['responded'], to: 'closed', roles: ['contact'], with_code: ['officer'] },
  { event: 'disputed', from: ['responded'], to: 'disputed', roles: ['contact'], with_code: ['officer'], needs: ['reason'] },
  { event: 'reopened', from: ['disputed', 'closed', 'closed_unconfirmed'], to: 'reopened', roles: ['admin', 'officer'], needs: ['reason'] },
  { event: 'closed', from: ['responded', 'disputed', 'not_accepted'], to: 'closed', roles: ['admin'] },
  { event: 'closed_unconfirmed', from: ['responded'], to: 'closed_unconfirmed', roles: ['system'] },
  { event: 'overdue', from: ['dispatched', 'signed', 'reopened'], roles: ['system'] },
]

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

function parseDot(d) {
  const i = d.lastIndexOf(':')
  return { replica: d.slice(0, i), counter: Number(d.slice(i + 1)) }
}

// compareOrder orders entries {hlc:[wall, logical], dot} like EventOrder.
function compareOrder(a, b) {
  if (a.hlc[0] !== b.hlc[0]) return a.hlc[0] - b.hlc[0]
  if (a.hlc[1] !== b.hlc[1]) return a.hlc[1] - b.hlc[1]
  const x = parseDot(a.dot)
  const y = parseDot(b.dot)
  if (x.replica !== y.replica) return x.replica < y.replica ? -1 : 1
  return x.counter - y.counter
}

// deriveIssue computes an issue's state from its record and its events'
// records (views). It returns {status, handler, handlerName, due, response,
// resolution, overdue, events: [{id, type, role, by, at, …, applied, why}]}.
export function deriveIssue(issue, eventRecs) {
  const table = (schema && schema.issue_transitions) || TRANSITIONS
  const tr = (e) => table.find((x) => x.event === e)
  const evs = []
  if (issue && issue.fields && issue.fields.raised_at) {
    const f = issue.fields.raised_at
    evs.push({ id: issue.id, type: 'raised', role: 'officer', by: value(issue, 'raised_by'), at: f.value, order: { hlc: f.hlc, dot: f.dot } })
  }
  for (const r of eventRecs) {
    const f = r.fields && r.fields.type
    if (!f) continue
    const e = { id: r.id, order: { hlc: f.hlc, dot: f.dot } }
    for (const k of ['type', 'role', 'by', 'at', 'reason', 'handler', 'handler_name', 'resolution', 'note', 'response', 'code', 'due']) e[k] = value(r, k)
    evs.push(e)
  }
  evs.sort((a, b) => compareOrder(a.order, b.order) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const st = { status: '', bounces: 0, response: '', resolution: '', handler: '', handlerName: '', due: '', overdue: false, responses: new Set(), events: [] }
  for (const e of evs) {
    const t = tr(e.type)
    let why = ''
    if (!t) why = 'unknown'
    else if (!(t.roles || []).includes(e.role) && !(e.code && (t.with_code || []).includes(e.role))) why = 'role'
    else if (!(t.from || []).includes(st.status)) why = 'state'
    else if ((t.needs || []).some((n) => !String(e[n] ?? '').trim())) why = 'needs'
    else if ((e.type === 'confirmed' || e.type === 'disputed') && e.response && e.response !== st.response) why = 'stale'
    e.applied = !why
    e.why = why
    st.events.push(e)
    if (why) continue
    if (t.to) st.status = t.to
    switch (e.type) {
      case 'dispatched':
        st.handler = e.handler
        st.handlerName = e.handler_name || ''
        st.due = e.due || ''
        st.overdue = false
        break
      case 'bounced':
        st.bounces++
        st.status = st.bounces >= 2 ? 'arbitration' : 'bounced'
        break
      case 'responded':
        st.response = e.id
        st.resolution = e.resolution
        st.responses.add(e.id)
        st.overdue = false
        break
      case 'overdue':
        st.overdue = true
        break
    }
  }
  return st
}

// mayAppend: may a user of role append an event of type now (status)?
export function mayAppend(role, type, status) {
  const table = (schema && schema.issue_transitions) || TRANSITIONS
  const t = table.find((x) => x.event === type)
  return !!t && (t.roles || []).includes(role) && (t.from || []).includes(status)
}

// DUE_SOON is how close to its due date an issue counts as 即将超期 (due
// within 24 h) in the 待办 lists.
export const DUE_SOON_MS = 24 * 3600e3

// issueDue says, for an issue's derived state (deriveIssue) at now (ms), whether
// its handler is late or nearly so: the server's rule (pairing watch.overdueAt
// and the issue list's overdue flag): while dispatched, signed or reopened,
// overdue once the due date is past. dueSoon: not yet overdue, due within
// DUE_SOON_MS. Overdue and due-soon are read only through this function (and
// the state through deriveIssue), so the WebAssembly rule can replace both.
export function issueDue(st, now = Date.now()) {
  const open = ['dispatched', 'signed', 'reopened'].includes(st.status)
  const due = st.due ? new Date(st.due).getTime() : NaN
  if (!open || isNaN(due)) return { overdue: false, dueSoon: false, due: st.due || '', left: NaN }
  const left = due - now
  const overdue = left < 0 || !!st.overdue
  return { overdue, dueSoon: !overdue && left <= DUE_SOON_MS, due: st.due, left }
}
