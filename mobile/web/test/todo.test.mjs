// 待办 (src/todo.js) derived from synced records, per role: which kinds an
// issue, a visit or a project lands in, with the issue rule of domain.js.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadRules } from './rules.mjs'

// The issue rule is the server's, through the WebAssembly build (as in
// issues.test.mjs), and mayAppend's lifecycle table with it: load them
// before deriving anything.
await loadRules()

const { todoItems, todoGroups, todoCount } = await import('../src/todo.js')

const NOW = Date.parse('2026-03-10T08:00:00Z')
const H = 3600e3
const iso = (ms) => new Date(ms).toISOString()
let counter = 0

// rec builds a record view as the engine keeps it: every field with its
// value, the HLC and the dot of the write that set it (in write order).
function rec(collection, id, pairing, values) {
  counter++
  const fields = {}
  for (const [k, v] of Object.entries(values)) fields[k] = { value: v, hlc: [NOW - 100 * H + counter * 1000, 0], dot: `dev:${counter}` }
  return { key: collection + '/' + id, rec: { id, collection, pairing, vv: { dev: counter }, fields } }
}

function world(records) {
  return {
    pairings: () => records.filter((v) => v.rec.collection === 'pairings'),
    list: (pairing, collection) => records.filter((v) => v.rec.collection === collection && v.rec.pairing === pairing),
  }
}

const ev = (id, issue, values) => rec('issue_events', id, 'p1', { issue, at: iso(NOW - 50 * H), ...values })
const raise = (id, title) => rec('issues', id, 'p1', { title, category: 'tax', raised_by: 'u1', raised_at: iso(NOW - 60 * H) })
const dispatch = (id, issue, handler, due) => ev(id, issue, { type: 'dispatched', role: 'admin', by: 'a1', handler, handler_name: '张伟', due: iso(due) })

const records = [
  rec('pairings', 'p1', '_directory', { name: '税务局一支部 ↔ 星河电梯', status: 'active' }),
  // Dispatched to u1, due in 2 h: 待签收 and 即将超期.
  raise('i1', '退税'), dispatch('e1', 'i1', 'u1', NOW + 2 * H),
  // Signed by u1, past due: 待答复 and 已超期.
  raise('i2', '用地'), dispatch('e2', 'i2', 'u1', NOW - H), ev('e3', 'i2', { type: 'signed', role: 'officer', by: 'u1' }),
  // Someone else's: nothing for u1.
  raise('i3', '融资'), dispatch('e4', 'i3', 'u2', NOW - H),
  // Answered by u1, due long ago: nothing left for u1; 待确认 for the contact.
  raise('i4', '人才'), dispatch('e5', 'i4', 'u1', NOW - 30 * H), ev('e6', 'i4', { type: 'responded', role: 'officer', by: 'u1', resolution: 'solved' }),
  // Confirmed by the contact, not rated: 待评价.
  raise('i5', '物流'), dispatch('e7', 'i5', 'u1', NOW + 30 * H), ev('e8', 'i5', { type: 'responded', role: 'officer', by: 'u1', resolution: 'solved' }),
  ev('e9', 'i5', { type: 'confirmed', role: 'contact', by: 'c1', response: 'e8' }),
  // Confirmed and rated by the contact: nothing.
  raise('i6', '市场'), dispatch('e10', 'i6', 'u1', NOW + 30 * H), ev('e11', 'i6', { type: 'responded', role: 'officer', by: 'u1', resolution: 'solved' }),
  ev('e12', 'i6', { type: 'confirmed', role: 'contact', by: 'c1', response: 'e11' }),
  rec('ratings', 'r1', 'p1', { target_kind: 'issue', target: 'i6', level: 4, by: 'c1', at: iso(NOW - H) }),
  // Closed by an administrator, not confirmed: nothing to rate.
  raise('i7', '政策'), dispatch('e13', 'i7', 'u1', NOW + 30 * H), ev('e14', 'i7', { type: 'responded', role: 'officer', by: 'u1', resolution: 'explained' }),
  ev('e15', 'i7', { type: 'closed', role: 'admin', by: 'a1' }),
  // Visits: u1's returned one only.
  rec('visits', 'v1', 'p1', { title: '走访一', officers: ['u1'], status: 'returned', return_comment: '缺少照片' }),
  rec('visits', 'v2', 'p1', { title: '走访二', officers: ['u2'], status: 'returned' }),
  rec('visits', 'v3', 'p1', { title: '走访三', officers: ['u1'], status: 'submitted' }),
  // Projects: completed and not accepted → 待验收 for the contact.
  rec('projects', 'pr1', 'p1', { title: '党建共建活动室', status: 'completed' }),
  rec('projects', 'pr2', 'p1', { title: '电梯安全培训', status: 'completed', contact_accepted_at: iso(NOW - H) }),
  rec('projects', 'pr3', 'p1', { title: '技术攻关', status: 'in_progress' }),
]

const kinds = (items) => items.map((i) => `${i.kind} ${i.to}`).sort()

test('officer: 待签收, 待答复, 被退回的走访, 即将超期, 已超期 — only their own', () => {
  const items = todoItems({ id: 'u1', role: 'officer' }, NOW, world(records))
  assert.deepEqual(kinds(items), [
    'dueSoon /issues/i1', 'overdue /issues/i2', 'returnedVisits /visits/v1', 'toRespond /issues/i2', 'toSign /issues/i1',
  ])
  assert.equal(todoCount(items), 3, 'each thing counted once, whatever its kinds')
  assert.deepEqual(todoGroups(items).map((g) => g.kind), ['toSign', 'toRespond', 'returnedVisits', 'dueSoon', 'overdue'])
  assert.equal(items.find((i) => i.kind === 'returnedVisits').note, '缺少照片')
  assert.equal(items.find((i) => i.kind === 'toSign').pairing, '税务局一支部 ↔ 星河电梯')
})

test('officer: 即将超期 moves to 已超期 with the clock; 24 h is the edge', () => {
  const at = (ms) => kinds(todoItems({ id: 'u1', role: 'officer' }, ms, world(records))).filter((k) => k.endsWith('/issues/i1'))
  assert.deepEqual(at(NOW - 23 * H), ['toSign /issues/i1'], 'due in 25 h: not yet 即将超期')
  assert.deepEqual(at(NOW - 22 * H + 1), ['dueSoon /issues/i1', 'toSign /issues/i1'])
  assert.deepEqual(at(NOW + 3 * H), ['overdue /issues/i1', 'toSign /issues/i1'])
})

test('contact: 待确认, 待评价, 待验收', () => {
  const items = todoItems({ id: 'c1', role: 'contact' }, NOW, world(records))
  assert.deepEqual(kinds(items), ['toAccept /projects/pr1', 'toConfirm /issues/i4', 'toRate /issues/i5'])
})

test('administrators and viewers have theirs in the console; nobody signed in has none', () => {
  assert.deepEqual(todoItems({ id: 'a1', role: 'admin' }, NOW, world(records)), [])
  assert.deepEqual(todoItems({ id: 'v1', role: 'viewer' }, NOW, world(records)), [])
  assert.deepEqual(todoItems(null, NOW, world(records)), [])
})
