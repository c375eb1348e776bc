// 待办: what the signed-in person has to do, derived on the device from the
// synced records (so it works offline). Issue state, due and overdue come only
// from domain.js (deriveIssue, mayAppend, issueDue: the server's rule), never
// re-derived here.
//
//   officer — 待签收 (dispatched to me, not signed), 待答复 (mine, signed or
//             reopened, not responded), 被退回的走访 (my visits an
//             administrator returned), 即将超期 (mine, due within 24 h),
//             已超期 (mine, past due);
//   contact — 待确认 (responded, awaiting my confirmation), 待评价 (confirmed,
//             not rated by me), 待验收 (projects completed, not accepted).
//
// Administrators and viewers have theirs in the console (console/todo.js).
import { computed, ref } from 'vue'
import { state, pairings, list } from './engine.js'
import { deriveIssue, issueDue, mayAppend } from './domain.js'

// The kinds in the order they are shown; their labels are t('todo_' + kind).
export const KINDS = ['toSign', 'toRespond', 'returnedVisits', 'dueSoon', 'overdue', 'toConfirm', 'toRate', 'toAccept']

// now ticks each minute, so 即将超期 and 已超期 move with the clock.
const now = ref(Date.now())
if (typeof window !== 'undefined') setInterval(() => { now.value = Date.now() }, 60_000)

const field = (v, name) => v.rec.fields[name]?.value

// The synced records todoItems reads: the engine's views.
const synced = { pairings, list }

// todoItems lists the entries: {kind, key, to, title, pairing, due?}. One
// thing may be in two kinds (待签收 and 即将超期). from gives the records
// ({pairings(), list(pairing, collection)}; tests pass their own).
export function todoItems(me = state.me, at = now.value, from = synced) {
  if (!me) return []
  const { pairings, list } = from
  const out = []
  for (const p of pairings()) {
    const pid = p.rec.id
    const pname = field(p, 'name') || ''
    if (me.role === 'officer' || me.role === 'contact') {
      const events = list(pid, 'issue_events')
      const byIssue = new Map()
      for (const e of events) {
        const id = field(e, 'issue')
        if (!byIssue.has(id)) byIssue.set(id, [])
        byIssue.get(id).push(e.rec)
      }
      const ratings = me.role === 'contact' ? list(pid, 'ratings') : []
      for (const v of list(pid, 'issues')) {
        const st = deriveIssue(v.rec, byIssue.get(v.rec.id) || [], at)
        const item = (kind, extra) => out.push({ kind, key: kind + '/' + v.rec.id, to: '/issues/' + v.rec.id, title: field(v, 'title') || '', pairing: pname, status: st.status, ...extra })
        if (me.role === 'officer') {
          if (st.handler !== me.id) continue
          if (mayAppend('officer', 'signed', st.status)) item('toSign', { due: st.due })
          else if (mayAppend('officer', 'responded', st.status)) item('toRespond', { due: st.due })
          const d = issueDue(st, at)
          if (d.overdue) item('overdue', { due: d.due })
          else if (d.dueSoon) item('dueSoon', { due: d.due })
        } else {
          if (mayAppend('contact', 'confirmed', st.status)) item('toConfirm')
          else if (awaitsRating(st, ratings.filter((r) => field(r, 'target_kind') === 'issue' && field(r, 'target') === v.rec.id).map((r) => r.rec), me.id)) item('toRate')
        }
      }
    }
    if (me.role === 'officer') {
      for (const v of list(pid, 'visits')) {
        if (field(v, 'status') === 'returned' && (field(v, 'officers') || []).includes(me.id)) {
          out.push({ kind: 'returnedVisits', key: 'returnedVisits/' + v.rec.id, to: '/visits/' + v.rec.id, title: field(v, 'title') || '', pairing: pname, note: field(v, 'return_comment') || '' })
        }
      }
    }
    if (me.role === 'contact') {
      for (const v of list(pid, 'projects')) {
        if (field(v, 'status') === 'completed' && !field(v, 'contact_accepted_at')) {
          out.push({ kind: 'toAccept', key: 'toAccept/' + v.rec.id, to: '/projects/' + v.rec.id, title: field(v, 'title') || '', pairing: pname })
        }
      }
    }
  }
  const order = KINDS
  return out.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || String(a.due || '').localeCompare(String(b.due || '')))
}

// awaitsRating: an issue closed by a confirmation that the person (the
// contact) has not rated (待评价); ratings are the issue's rating records.
// A reopening undoes the confirmations before it (the server's ConfirmedAt),
// so an issue confirmed, reopened and then closed by an administrator has
// nothing to rate (server/readmodel/testdata/todo-cases.json, i8).
export function awaitsRating(st, ratings, meID) {
  if (st.status !== 'closed') return false
  const last = (st.events || []).filter((e) => e.applied && (e.type === 'confirmed' || e.type === 'reopened')).at(-1)
  return last?.type === 'confirmed' && !ratings.some((r) => r.fields.by?.value === meID)
}

// todoGroups: the kinds that have entries, each {kind, items}.
export function todoGroups(items) {
  const groups = []
  for (const kind of KINDS) {
    const its = items.filter((i) => i.kind === kind)
    if (its.length) groups.push({ kind, items: its })
  }
  return groups
}

// todoCount counts the things to act on (each once, whatever its kinds).
export const todoCount = (items) => new Set(items.map((i) => i.to)).size

export const todo = computed(() => { void state.version; return todoItems(state.me, now.value) })
export const count = computed(() => todoCount(todo.value))

// setBadge shows the count on the app's icon where the platform allows
// (navigator.setAppBadge: installed PWAs on Chromium, iOS 16.4+).
export function setBadge(n) {
  if (typeof navigator === 'undefined' || !navigator.setAppBadge) return
  const p = n > 0 ? navigator.setAppBadge(n) : navigator.clearAppBadge?.()
  p?.catch?.(() => { /* not installed or not allowed: nothing to show */ })
}
