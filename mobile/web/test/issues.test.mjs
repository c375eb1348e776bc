// Runs the issue scenarios (server/pairing/testdata/issues/*.txt, the files
// the server's TestIssueScenarios runs) through the WebAssembly build the app
// uses: the phone derives an issue's state with the server's Go rule
// (mobile/wasm deriveIssue → pairing.DeriveIssue), and every expect line of
// every file must hold there too, in any order of the events and with every
// event twice. The format is documented in server/pairing/issue_test.go.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { loadRules } from './rules.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const scenarioDir = join(here, '../../../server/pairing/testdata/issues')

const sp = await loadRules({ schema: false })

// splitLine splits a scenario line into words, quoted values whole.
function splitLine(line) {
  const words = []
  let cur = ''
  let inWord = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (c === '#') break
    if (c === ' ' || c === '\t') {
      if (inWord) { words.push(cur); cur = ''; inWord = false }
    } else if (c === '"') {
      let j = i + 1
      while (j < line.length && line[j] !== '"') { if (line[j] === '\\') j++; j++ }
      if (j >= line.length) throw new Error('unterminated quote')
      cur += JSON.parse(line.slice(i, j + 1))
      inWord = true
      i = j
    } else { cur += c; inWord = true }
  }
  if (inWord) words.push(cur)
  return words
}

// scenarioTime: RFC 3339 or MM-DDTHH:MM (2026, UTC); "-" is none.
function scenarioTime(s) {
  if (s === '-' || s === '') return null
  if (/^\d{4}-/.test(s)) return new Date(s)
  const d = new Date(`2026-${s}:00Z`)
  if (isNaN(d)) throw new Error(`time ${s}: want RFC 3339 or MM-DDTHH:MM`)
  return d
}
const rfc = (d) => d.toISOString().replace('.000Z', 'Z')
const hashOf = (name) => [...name].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('').padStart(64, '0').slice(0, 64)

// record builds the issue_events record of a scenario event, as the Go
// runner does: every field by one write; received_at by a later server write.
function record(id, typ, kv, hlc, n) {
  const role = kv.role
  if (!role) throw new Error('event needs role=')
  const by = kv.by || role
  const replica = kv.replica || 'r-' + by
  const counter = kv.counter !== undefined ? Number(kv.counter) : n
  const logical = kv.logical !== undefined ? Number(kv.logical) : 0
  const values = { issue: kv.issue || 'i1', type: typ, role, by }
  for (const k of ['reason', 'handler', 'handler_name', 'resolution', 'note', 'response', 'code']) if (k in kv) values[k] = kv[k]
  for (const [k, f] of [['at', 'at'], ['due', 'due'], ['received', 'received_at']]) if (k in kv) values[f] = rfc(scenarioTime(kv[k]))
  if ('evidence' in kv) values.evidence = kv.evidence.split(',').map(hashOf)
  const vv = { [replica]: counter }
  const fields = {}
  for (const [k, v] of Object.entries(values)) {
    fields[k] = { value: v, dot: `${replica}:${counter}`, hlc: [hlc, logical] }
    if (k === 'received_at') {
      fields[k] = { value: v, dot: `server:${n}`, hlc: [hlc, logical + 1] }
      vv.server = n
    }
  }
  return JSON.stringify({ collection: 'issue_events', id, pairing: 'p1', vv, fields })
}

const TIMES = ['raised_at', 'accepted_at', 'dispatched_at', 'signed_at', 'responded_at', 'closed_at', 'confirmed_at', 'due']
const NUMS = ['dispatches', 'bounces', 'reopens', 'disputes']
const FLAGS = ['signed_in_time', 'responded_on_time', 'overdue', 'confirmed_solved']
const STRS = ['status', 'issue', 'handler', 'handler_name', 'resolution', 'response']

function check(st, key, want) {
  if (TIMES.includes(key)) {
    const w = scenarioTime(want)
    const got = st[key] ? new Date(st[key]).getTime() : null
    assert.equal(got, w ? w.getTime() : null, `${key}: got ${st[key]}, want ${want}`)
  } else if (NUMS.includes(key) || FLAGS.includes(key) || STRS.includes(key)) {
    assert.equal(String(st[key]), want, key)
  } else if (key === 'applied') {
    assert.equal(st.applied.join(','), want, key)
  } else if (key === 'ignored') {
    assert.equal(st.ignored.map((e) => e.id).join(','), want, key)
  } else if (key.startsWith('why:')) {
    const id = key.slice(4)
    const e = st.ignored.find((x) => x.id === id)
    assert.ok(e, `why ${id}: ${id} was not ignored`)
    assert.ok(e.why.includes(want), `why ${id}: got ${JSON.stringify(e.why)}, want it to contain ${JSON.stringify(want)}`)
  } else throw new Error(`unknown expect key ${key}`)
}

// A seeded shuffle, so a failure can be run again.
function shuffled(xs, seed) {
  const out = [...xs]
  let s = seed >>> 0 || 1
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

function runScenario(path) {
  const opts = {}
  const events = []
  let hlc = 0
  let expects = 0
  readFileSync(path, 'utf8').split('\n').forEach((line, idx) => {
    const where = `line ${idx + 1}`
    const words = splitLine(line)
    if (!words.length) return
    const kv = {}
    const order = []
    const positional = []
    for (const w of words.slice(1)) {
      const i = w.indexOf('=')
      if (i < 0) { positional.push(w); continue }
      kv[w.slice(0, i)] = w.slice(i + 1)
      order.push(w.slice(0, i))
    }
    switch (words[0]) {
      case 'rules':
        for (const [k, v] of Object.entries(kv)) {
          const m = /^(\d+)h$/.exec(v)
          assert.ok(m, `${where}: rule ${k}=${v}: the runner reads whole hours`)
          if (k === 'due_after') opts.due_after_hours = Number(m[1])
          else if (k === 'sign_within') opts.sign_within_hours = Number(m[1])
          else throw new Error(`${where}: unknown rule ${k}`)
        }
        break
      case 'event':
        assert.equal(positional.length, 2, `${where}: want event ID TYPE key=value…`)
        hlc++
        if ('hlc' in kv) hlc = Number(kv.hlc)
        events.push(record(positional[0], positional[1], kv, hlc, events.length + 1))
        break
      case 'expect': {
        expects++
        const st = sp.deriveIssue('', events, opts)
        for (const k of order) {
          try { check(st, k, kv[k]) } catch (e) { e.message = `${where}: ${e.message}\nstate: ${JSON.stringify(st)}`; throw e }
        }
        const want = JSON.stringify(st)
        for (let i = 0; i < 5; i++) {
          assert.equal(JSON.stringify(sp.deriveIssue('', shuffled(events, i + 1 + idx), opts)), want, `${where}: shuffled ${i}`)
        }
        assert.equal(JSON.stringify(sp.deriveIssue('', [...shuffled(events, 99), ...events], opts)), want, `${where}: every event twice`)
        break
      }
      default:
        throw new Error(`${where}: unknown command ${words[0]}`)
    }
  })
  assert.ok(expects > 0, `${path} has no expect line`)
}

const files = readdirSync(scenarioDir).filter((f) => f.endsWith('.txt')).sort()

test('there are issue scenarios', () => {
  assert.ok(files.length >= 10, `got ${files.length} issue scenario files, want at least 10`)
})

for (const f of files) {
  test(`issue scenario ${f}`, () => runScenario(join(scenarioDir, f)))
}

// The phone's own path: the issue record is the raise (its raised_at
// field's HLC and dot order it), and a dispatched issue past its due date
// counts as overdue at now before any overdue event has come from the server.
test('an issue record is its raise, and overdue is judged at now', () => {
  const issue = JSON.stringify({
    collection: 'issues', id: 'i9', pairing: 'p1', vv: { 'r-o1': 1 },
    fields: {
      title: { value: '电梯年检', dot: 'r-o1:1', hlc: [100, 0] },
      category: { value: 'policy', dot: 'r-o1:1', hlc: [100, 0] },
      raised_by: { value: 'o1', dot: 'r-o1:1', hlc: [100, 0] },
      raised_at: { value: '2026-03-01T09:00:00Z', dot: 'r-o1:1', hlc: [100, 0] },
    },
  })
  const ev = (id, typ, hlc, extra) => JSON.stringify({
    collection: 'issue_events', id, pairing: 'p1', vv: { 'r-a1': hlc },
    fields: Object.fromEntries(Object.entries({ issue: 'i9', type: typ, role: 'admin', by: 'a1', ...extra }).map(([k, v]) => [k, { value: v, dot: `r-a1:${hlc}`, hlc: [hlc, 0] }])),
  })
  // A dispatch with no due date: the category's default (policy: 5 days).
  const evs = [ev('e2', 'dispatched', 200, { at: '2026-03-01T10:00:00Z', handler: 'u7', handler_name: '王力' })]
  const before = sp.deriveIssue(issue, evs, { category: 'policy', now: Date.parse('2026-03-06T09:59:00Z') })
  assert.equal(before.status, 'dispatched')
  assert.equal(before.raised_at, '2026-03-01T09:00:00Z')
  assert.equal(before.due, '2026-03-06T10:00:00Z')
  assert.equal(before.handler_name, '王力')
  assert.equal(before.overdue, false)
  assert.equal(before.due_running, true)
  assert.deepEqual(before.events.map((e) => [e.id, e.type, e.applied]), [['i9', 'raised', true], ['e2', 'dispatched', true]])
  const after = sp.deriveIssue(issue, evs, { category: 'policy', now: Date.parse('2026-03-06T10:01:00Z') })
  assert.equal(after.overdue, true)
  assert.equal(after.overdue_event, false)
  // An event of another issue is left out; one that is not an event is
  // listed as not applied, with why.
  const other = ev('e3', 'signed', 300, { issue: 'i8' })
  const broken = JSON.stringify({ collection: 'issue_events', id: 'e4', pairing: 'p1', vv: { 'r-a1': 4 }, fields: { issue: { value: 'i9', dot: 'r-a1:4', hlc: [400, 0] }, type: { value: 'nonsense', dot: 'r-a1:4', hlc: [400, 0] } } })
  const st = sp.deriveIssue(issue, [...evs, other, broken], { category: 'policy' })
  assert.deepEqual(st.events.map((e) => [e.id, e.applied]), [['i9', true], ['e2', true], ['e4', false]])
  assert.match(st.events[2].why, /unknown type/)
  // A responded issue is never overdue, whatever the time.
  const done = sp.deriveIssue(issue, [...evs, ev('e5', 'responded', 500, { at: '2026-03-07T10:00:00Z', resolution: 'solved' })], { category: 'policy', now: Date.parse('2026-04-01T00:00:00Z') })
  assert.equal(done.status, 'responded')
  assert.equal(done.overdue, false)
  assert.equal(done.due_running, false)
})
