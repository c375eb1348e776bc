// Runs syncproto's golden vectors (syncproto/testdata/golden) through the
// WebAssembly build the app uses: every vector must pass. The wasm is
// public/syncproto.wasm (make web), or the file named by SYNCPROTO_WASM.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { loadRules } from './rules.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const goldenDir = join(here, '../../../syncproto/testdata/golden')

const loadWasm = () => loadRules({ schema: false })

// The files are handed to the wasm as text: JSON.parse would respell
// numbers (2.50), which canonical encodings keep. extract returns the raw
// text of a top-level value; extractInputs that of each input record.
function valueEnd(s, i) {
  let depth = 0
  let inStr = false
  for (; i < s.length; i++) {
    const c = s[i]
    if (inStr) {
      if (c === '\\') i++
      else if (c === '"') inStr = false
    } else if (c === '"') inStr = true
    else if (c === '{' || c === '[') depth++
    else if (c === '}' || c === ']') { if (--depth === 0) return i + 1 }
  }
  throw new Error('unterminated value')
}
function extract(raw, key) {
  const k = raw.indexOf(`"${key}"`)
  const start = raw.indexOf('{', raw.indexOf(':', k))
  return raw.slice(start, valueEnd(raw, start))
}
function extractInputs(raw) {
  const k = raw.indexOf('"inputs"')
  let i = raw.indexOf('[', k) + 1
  const end = valueEnd(raw, i - 1)
  const out = []
  while (i < end) {
    const s = raw.indexOf('{', i)
    if (s < 0 || s > end) break
    const e = valueEnd(raw, s)
    out.push(raw.slice(s, e))
    i = e
  }
  return out
}

// extractWrites returns the raw text of each write's "on" record.
function extractWrites(raw) {
  const out = []
  let i = raw.indexOf('"writes"')
  if (i < 0) return out
  i = raw.indexOf('[', i)
  const end = valueEnd(raw, i)
  for (;;) {
    const k = raw.indexOf('"on"', i)
    if (k < 0 || k > end) break
    const s = raw.indexOf('{', k)
    const e = valueEnd(raw, s)
    out.push(raw.slice(s, e))
    i = e
  }
  return out
}

function permutations(n) {
  const out = []
  const idx = [...Array(n).keys()]
  const rec = (k) => {
    if (k === n) { out.push([...idx]); return }
    for (let i = k; i < n; i++) {
      [idx[k], idx[i]] = [idx[i], idx[k]]
      rec(k + 1);
      [idx[k], idx[i]] = [idx[i], idx[k]]
    }
  }
  rec(0)
  return out
}

const files = readdirSync(goldenDir).filter((f) => f.endsWith('.json')).sort()
const sp = await loadWasm()

test('there are golden vectors', () => {
  assert.ok(files.length >= 7, `got ${files.length} golden files, want at least 7`)
})

for (const f of files) {
  test(`golden ${f}`, () => {
    const raw = readFileSync(join(goldenDir, f), 'utf8')
    const g = JSON.parse(raw)
    const inputs = g.inputs.map((r, i) => {
      const d = sp.decodeRecord(extractInputs(raw)[i])
      assert.ok(d.record, `input ${i} decodes`)
      return d.record
    })
    for (const [i, gw] of (g.writes || []).entries()) {
      // The record written on goes as its raw text (extractWrites); values
      // are plain strings and lists here, so JSON.parse keeps them.
      const on = extractWrites(raw)[i]
      const ans = sp.write(gw.writer, on, { op: 'set', collection: g.inputs[gw.gives].collection, id: g.inputs[gw.gives].id, pairing: g.inputs[gw.gives].pairing, values: gw.values, now: gw.now })
      assert.equal(ans.view.record, inputs[gw.gives], `write ${i} gives input ${gw.gives}`)
    }
    const want = sp.decodeRecord(extract(raw, 'output'))
    const wantJSON = want.record
    if (g.canonical) {
      assert.equal(wantJSON, g.canonical, 'canonical encoding of output')
    }
    for (const order of permutations(inputs.length)) {
      let left = null
      let right = null
      for (let k = 0; k < order.length; k++) {
        left = sp.merge(left, inputs[order[k]]).record
        right = sp.merge(inputs[order[order.length - 1 - k]], right).record
      }
      assert.equal(left, wantJSON, `merge in order ${order}`)
      assert.equal(right, wantJSON, `right-nested merge in order ${order}`)
    }
    for (const [i, input] of inputs.entries()) {
      assert.equal(sp.merge(want.record, input).record, wantJSON, `re-merging input ${i}`)
    }
    assert.equal(want.deleted, g.deleted, 'deleted')
    assert.equal(want.edit_delete_conflict, g.edit_delete_conflict, 'edit_delete_conflict')
  })
}

test('a local write goes through the outbox functions', () => {
  const w = sp.write({ replica: 'dev-1', counter: 0, clock: [0, 0] }, '', { op: 'set', collection: 'visits', id: 'v1', pairing: 'p1', values: { notes: 'hello' }, now: 1740000000000 })
  assert.equal(w.state.counter, 1)
  assert.equal(JSON.parse(w.write).dot, 'dev-1:1')
  const ch = sp.change(null, [w.write], 'dev-1:1')
  const body = JSON.parse(sp.encodePush('dev-1', [ch]))
  assert.equal(body.device, 'dev-1')
  assert.equal(body.changes.length, 1)
  const base = sp.fold(null, ch).record
  assert.equal(sp.rebuild(base, [w.write]).record, base)
  assert.throws(() => sp.merge('{"collection":"x"}', null), /./)
})
