// 待办's one rule: the cases of server/readmodel/testdata/todo-cases.json,
// which Go's Ledger.Todos (the daily digest's counts) asserts too
// (server/readmodel/todo_cases_test.go). Here src/todo.js must list exactly
// each case's items.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { loadRules } from './rules.mjs'

const here = dirname(fileURLToPath(import.meta.url))
await loadRules()
const { todoItems } = await import('../src/todo.js')

const fx = JSON.parse(readFileSync(join(here, '../../../server/readmodel/testdata/todo-cases.json'), 'utf8'))

// The records as the engine keeps them, written in the fixture's order one
// second apart (as the Go test writes them).
const written = Date.parse(fx.written)
let n = 0
const view = (collection, id, pairing, values) => {
  n++
  const fields = {}
  for (const [k, v] of Object.entries(values)) fields[k] = { value: v, hlc: [written + n * 1000, 0], dot: `todo-cases:${n}` }
  return { key: collection + '/' + id, rec: { id, collection, pairing, vv: { 'todo-cases': n }, fields } }
}
const pairingViews = fx.pairings.map((p) => view('pairings', p.id, '_directory', { name: p.name, status: 'active' }))
const records = fx.records.map((r) => view(r.collection, r.id, r.pairing, r.fields))

// A phone holds the pairings its person is an officer or contact of.
function world(person) {
  const mine = new Set(fx.pairings.filter((p) => p.officers.includes(person.id) || p.contacts.includes(person.id)).map((p) => p.id))
  return {
    pairings: () => pairingViews.filter((v) => mine.has(v.rec.id)),
    list: (pairing, collection) => records.filter((v) => v.rec.pairing === pairing && v.rec.collection === collection),
  }
}

test('the fixture has cases', () => assert.ok(fx.cases.length >= 5, `read ${fx.cases.length} cases`))

for (const c of fx.cases) {
  test(`${c.name}: ${c.person.role} ${c.person.id} at ${c.now}`, () => {
    const items = todoItems(c.person, Date.parse(c.now), world(c.person))
    assert.deepEqual(items.map((i) => `${i.kind} ${i.to}`).sort(), [...c.todo].sort())
  })
}
