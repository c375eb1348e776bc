// Every wire error code (syncproto/errors.go) and every domain refusal
// reason (server/pairing/reasons.go) has a Chinese and an English message
// in the apps' table (src/errors.js), and the server's own table
// (server/messages.go) holds the same keys with the same placeholders: a
// code or reason added in Go without words fails the build, so that people
// never see a bare code.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { codeMessages, reasonMessages, errorText } from '../src/errors.js'
import { locale } from '../src/i18n.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..')
const goSource = (p) => readFileSync(join(root, p), 'utf8')

const wireCodes = [...goSource('syncproto/errors.go').matchAll(/^\s*Code\w+\s+Code\s*=\s*"([a-z_]+)"/gm)].map((m) => m[1])
const reasons = [...goSource('server/pairing/reasons.go').matchAll(/^\s*Reason\w+\s*=\s*"([a-z_]+)"/gm)].map((m) => m[1])
const han = /\p{Script=Han}/u
const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',')

test('the Go sources were parsed', () => {
  assert.ok(wireCodes.length >= 18, `found ${wireCodes.length} wire codes in syncproto/errors.go`)
  assert.ok(reasons.length >= 40, `found ${reasons.length} reasons in server/pairing/reasons.go`)
})

function checkEntry(kind, key, entry) {
  assert.ok(Array.isArray(entry) && entry.length === 2, `${kind} ${key}: no [zh, en] entry in src/errors.js`)
  const [zh, en] = entry
  assert.ok(han.test(zh), `${kind} ${key}: the Chinese message ${JSON.stringify(zh)} is not Chinese`)
  assert.ok(!/[A-Za-z]{3,} [A-Za-z]{3,}/.test(zh.replace(/\{\w+\}/g, '')), `${kind} ${key}: English words in the Chinese message ${JSON.stringify(zh)}`)
  assert.ok(!/_/.test(zh.replace(/\{\w+\}/g, '')), `${kind} ${key}: a code in the Chinese message ${JSON.stringify(zh)}`)
  assert.ok(/^[A-Z“]/.test(en) && !han.test(en), `${kind} ${key}: the English message ${JSON.stringify(en)} is not English`)
  assert.equal(placeholders(zh), placeholders(en), `${kind} ${key}: zh and en name different values`)
}

test('every wire code has a zh and an en message', () => {
  for (const c of wireCodes) checkEntry('code', c, codeMessages[c])
  for (const c of Object.keys(codeMessages)) assert.ok(wireCodes.includes(c), `src/errors.js has code ${c}, which syncproto/errors.go does not define`)
})

test('every refusal reason has a zh and an en message', () => {
  for (const r of reasons) checkEntry('reason', r, reasonMessages[r])
  for (const r of Object.keys(reasonMessages)) assert.ok(reasons.includes(r), `src/errors.js has reason ${r}, which server/pairing/reasons.go does not define`)
})

test('the server keeps the same table', () => {
  const src = goSource('server/messages.go')
  const goTable = Object.fromEntries([...src.matchAll(/^\s*"([a-z_]+)":\s*\{("(?:[^"\\]|\\.)*"),\s*("(?:[^"\\]|\\.)*")\},/gm)].map((m) => [m[1], [JSON.parse(m[2]), JSON.parse(m[3])]]))
  for (const k of [...wireCodes, ...reasons]) {
    assert.ok(goTable[k], `server/messages.go has no message for ${k}`)
    const js = codeMessages[k] || reasonMessages[k]
    assert.equal(placeholders(goTable[k][0]), placeholders(js[0]), `${k}: server and app messages name different values`)
  }
})

test('errorText never shows a code', () => {
  for (const l of ['zh', 'en']) {
    locale.value = l
    for (const code of wireCodes) {
      const s = errorText({ code, message: 'x', field: 'title', reason: '', args: {} })
      assert.ok(s && !(s.includes(code) && (l === 'zh' || code.includes('_'))) && !/\{\w+\}/.test(s), `${l} ${code}: ${s}`)
    }
    for (const reason of reasons) {
      const s = errorText({ code: 'validation_failed', reason, args: { field: 'title', from: 'cancelled', to: 'approved', role: 'officer', want: 'contact', type: 'signed', status: 'proposed', max: '5', min: '1', value: 'x' } })
      assert.ok(s && !s.includes(reason) && !/\{\w+\}/.test(s), `${l} ${reason}: ${s}`)
    }
    assert.equal(errorText({ code: 'no_such_code' }), codeMessages.internal[l === 'en' ? 1 : 0])
  }
  locale.value = 'zh'
})
