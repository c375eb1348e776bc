// 待办 of administrators and viewers, from the REST API's list routes and
// their filters (no route of its own): 待受理/待交办 (issues raised, accepted,
// bounced or in arbitration: they wait for an administrator to accept and
// dispatch them), 超期 (GET /v1/issues?overdue=true: the server's rule), 待立项
// (projects proposed), 待验收 (projects completed, awaiting verification) and
// devices needing attention (GET /v1/devices/attention; administrators only:
// viewers may not read devices, SECURITY.md / pairing.Policy).
import { reactive } from 'vue'
import { get, isAdmin, qs, signedIn } from './session.js'

export const DISPATCH_STATUSES = ['raised', 'accepted', 'bounced', 'arbitration']
// SHOWN is how many entries of each kind the 待办 page lists (the counts are
// the lists' totals; the rest is on the workbench and the board).
const SHOWN = 200

// Each kind: {items, total}; devices is null for viewers.
export const todo = reactive({
  loaded: false,
  page: false, // the 待办 page is open: read its entries too
  error: '',
  dispatch: { items: [], total: 0 }, // issues waiting to be accepted / dispatched
  overdue: { items: [], total: 0 }, // issues past due
  proposed: { items: [], total: 0 }, // projects to approve (立项)
  completed: { items: [], total: 0 }, // projects to verify (验收)
  devices: null, // devices needing attention
})

// todoTotal adds the kinds' counts (an overdue issue is never waiting for
// dispatch: overdue counts only dispatched, signed or reopened ones).
export function todoTotal() {
  return todo.dispatch.total + todo.overdue.total + todo.proposed.total + todo.completed.total + (todo.devices ? todo.devices.total : 0)
}

let seq = 0
// loadTodo reads the counts (and, while the 待办 page is open, the first
// entries of each kind); the nav's count and the page follow it.
export async function loadTodo() {
  if (!signedIn()) return
  const n = ++seq
  const full = todo.page
  const limit = full ? SHOWN : 1
  const list = (path, key, q) => get(path + qs({ ...q, limit })).then((a) => ({ items: full ? a[key] || [] : [], total: a.total ?? (a[key] || []).length }))
  try {
    const [dispatch, overdue, proposed, completed, devices] = await Promise.all([
      Promise.all(DISPATCH_STATUSES.map((status) => list('/v1/issues', 'issues', { status }))).then((l) => ({ items: l.flatMap((x) => x.items), total: l.reduce((t, x) => t + x.total, 0) })),
      list('/v1/issues', 'issues', { overdue: 'true' }),
      list('/v1/projects', 'projects', { status: 'proposed' }),
      list('/v1/projects', 'projects', { status: 'completed' }),
      isAdmin() ? get('/v1/devices/attention').then((a) => ({ items: a.devices || [], total: (a.devices || []).length })) : Promise.resolve(null),
    ])
    if (n !== seq) return
    Object.assign(todo, { dispatch, overdue, proposed, completed, devices, loaded: true, error: '' })
  } catch (e) {
    if (n === seq) todo.error = e.message
  }
}
