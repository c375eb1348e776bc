// What every console screen shares: the org tree, the schema (labels), the
// names of users, counterparties and pairings (loaded once, on demand), the
// period helpers (months in China time, as the server counts them), and a
// small notice line.
import { reactive } from 'vue'
import { APIError, get, getCursor } from './session.js'
import { setSchema, getSchema } from '../domain.js'
import { setErrorSchema } from '../errors.js'
import { locale, t } from '../i18n.js'

export const store = reactive({
  units: [], // [{id, parent_id, name, kind, path, depth, sla_days, rev}] in tree order
  unitMap: {},
  schemaReady: false,
  users: {}, // id → user
  usersLoaded: false,
  counterparties: {}, // id → counterparty
  counterpartiesLoaded: false,
  pairings: {}, // id → pairing view
  pairingsLoaded: false,
  notice: null, // {kind: 'ok'|'error', text}
  people: {}, // id → {name, role}: people of the pairings opened (GET /v1/pairings/{id}/people), for names outside the subtree
})

let noticeTimer = 0
export function notify(text, kind = 'ok') {
  store.notice = { kind, text }
  clearTimeout(noticeTimer)
  noticeTimer = setTimeout(() => { store.notice = null }, kind === 'error' ? 8000 : 4000)
}

export async function loadUnits(force = false) {
  if (store.units.length && !force) return store.units
  const ans = await get('/v1/org-units')
  const list = ans.org_units || []
  const byParent = {}
  for (const u of list) (byParent[u.parent_id || ''] ||= []).push(u)
  const ids = new Set(list.map((u) => u.id))
  const roots = list.filter((u) => !u.parent_id || !ids.has(u.parent_id))
  const out = []
  const walk = (u, depth) => {
    out.push({ ...u, depth })
    for (const c of (byParent[u.id] || []).sort((a, b) => a.name.localeCompare(b.name, 'zh'))) walk(c, depth + 1)
  }
  for (const r of roots.sort((a, b) => a.path.localeCompare(b.path))) walk(r, 0)
  store.units = out
  store.unitMap = Object.fromEntries(out.map((u) => [u.id, u]))
  return out
}

export async function loadSchema() {
  if (getSchema()) { store.schemaReady = true; return }
  setSchema(await get('/v1/schema'))
  setErrorSchema(getSchema())
  store.schemaReady = true
}

// loadUsers reads the subtree's users for their names. Viewers (领导) may
// not read accounts: they see ids where names would be.
export async function loadUsers(force = false) {
  if (store.usersLoaded && !force) return
  let list = []
  try {
    list = await getCursor('/v1/users', 'users')
  } catch (e) {
    if (!(e instanceof APIError) || (e.status !== 403 && e.status !== 404)) throw e
  }
  store.users = Object.fromEntries(list.map((u) => [u.id, u]))
  store.usersLoaded = true
}

export async function loadCounterparties(force = false) {
  if (store.counterpartiesLoaded && !force) return
  const list = await getCursor('/v1/counterparties', 'counterparties', {}, 1000)
  store.counterparties = Object.fromEntries(list.map((c) => [c.id, c]))
  store.counterpartiesLoaded = true
}

export async function loadPairings(force = false) {
  if (store.pairingsLoaded && !force) return
  const list = await getCursor('/v1/pairings', 'pairings', {}, 1000)
  store.pairings = Object.fromEntries(list.map((p) => [p.id, p]))
  store.pairingsLoaded = true
}

// Names, never ids: someone the console cannot name (outside
// the subtree, or a viewer who may not read accounts) is "其他人员", an
// unknown unit or counterparty "—".
export const userName = (id) => (id ? store.users[id]?.name || store.users[id]?.username || store.people[id]?.name || t('someone') : '')
export const unitName = (id) => store.unitMap[id]?.name || (id ? '—' : '')
export const cpName = (id) => store.counterparties[id]?.name || (id ? '—' : '')
export const pairingName = (id) => store.pairings[id]?.name || (id ? '—' : '')

// loadPeople adds the people of a pairing (officers, contacts, the
// administrators above it) to the names the console knows.
export async function loadPeople(pid) {
  const a = await get(`/v1/pairings/${pid}/people`)
  for (const p of a.people || []) store.people[p.id] = { name: p.name, role: p.role }
  return a.people || []
}
export const names = (ids, f) => (ids || []).map(f).join('、')

// ---- periods: months in China time (UTC+8), as the server counts them ----

const CN = 8 * 3600 * 1000
export function monthOf(t) {
  const d = t instanceof Date ? t : new Date(t)
  if (isNaN(d)) return ''
  return new Date(d.getTime() + CN).toISOString().slice(0, 7)
}
export const thisMonth = () => monthOf(new Date())
export const yearStart = () => thisMonth().slice(0, 4) + '-01'
export function inPeriod(t, from, to) {
  if (!t) return false
  const m = monthOf(t)
  return !!m && (!from || m >= from) && (!to || m <= to)
}
// addMonths('2026-03', -2) is '2026-01'.
export function addMonths(m, n) {
  const [y, mm] = m.split('-').map(Number)
  const k = y * 12 + mm - 1 + n
  return `${Math.floor(k / 12)}-${String((k % 12) + 1).padStart(2, '0')}`
}

// showTime shows a time in China time: 2026-03-01 09:30.
export function showTime(t) {
  if (!t) return ''
  const d = new Date(t)
  if (isNaN(d)) return String(t)
  return new Date(d.getTime() + CN).toISOString().slice(0, 16).replace('T', ' ')
}
export const showDate = (t) => showTime(t).slice(0, 10)

export function pct(rate) {
  if (!rate || !rate.den) return '—'
  return (rate.value * 100).toFixed(1) + '%'
}

// duration shows a span of milliseconds as days and hours.
export function duration(ms) {
  const h = Math.floor(Math.abs(ms) / 3600e3)
  const d = Math.floor(h / 24)
  const en = locale.value === 'en'
  if (d > 0) return en ? `${d}d ${h % 24}h` : `${d}天${h % 24}小时`
  const m = Math.floor(Math.abs(ms) / 60e3) % 60
  return en ? `${h}h ${m}m` : `${h}小时${m}分`
}

// unitOptions lists the org tree for a picker, indented by depth.
export function unitOptions() {
  return store.units.map((u) => ({ value: u.id, label: '\u3000'.repeat(u.depth) + u.name }))
}
