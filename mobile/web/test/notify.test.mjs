// Every notification event the planner names (server/notify/plan.go), every
// channel (server/notify/prefs.go, webhook.go) and every reason the
// server's notify.Explain gives has words in both languages in src/notify.js
// (the console shows them, never the codes).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { channelName, eventName, reasonText, stateName } from '../src/notify.js'
import { locale } from '../src/i18n.js'

const dir = join(dirname(fileURLToPath(import.meta.url)), '../../../server/notify')
const src = readdirSync(dir).filter((f) => f.endsWith('.go') && !f.endsWith('_test.go')).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n')
const consts = (prefix) => [...src.matchAll(new RegExp(`^\\s*(?:const )?${prefix}\\w*\\s*=\\s*"([a-z_]+)"`, 'gm'))].map((m) => m[1])
// The codes notify.Explain returns (its body only).
const explain = src.slice(src.indexOf('func Explain('), src.indexOf('\n}\n', src.indexOf('func Explain(')))
const han = /\p{Script=Han}/u

test('events, channels and reasons have words in both languages', () => {
  const events = consts('Event')
  const channels = consts('Channel')
  const reasons = [...consts('Reason'), ...[...explain.matchAll(/return "([a-z_]+)"/g)].map((m) => m[1])]
  assert.ok(events.length >= 3 && channels.length >= 5 && reasons.length >= 9, `parsed ${events} ${channels} ${reasons}`)
  for (const lang of ['zh', 'en']) {
    locale.value = lang
    for (const e of events) {
      const w = eventName(e)
      assert.ok(w !== eventName('no_such_event') && (lang === 'en' || han.test(w)), `${lang}: event ${e} has no words (${w})`)
    }
    for (const c of channels) {
      const w = channelName(c)
      assert.ok(w !== c && (lang === 'en' || han.test(w)), `${lang}: channel ${c} has no words`)
    }
    for (const r of reasons) {
      if (r === 'other') continue
      const w = reasonText({ reason: r, answer: 'HTTP 500 upstream busy' })
      assert.ok(w && w !== 'HTTP 500 upstream busy' && (lang === 'en' || han.test(w)), `${lang}: reason ${r} has no words (${w})`)
    }
    for (const s of ['pending', 'sent', 'failed']) assert.ok(!stateName(s).startsWith('ns_'), `${lang}: state ${s}`)
  }
  locale.value = 'zh'
  assert.equal(reasonText({ reason: 'http_error', answer: 'HTTP 502 Bad Gateway <html>' }), '对方服务出错（HTTP 502），系统会自动重试')
})

test('the events\' words are the server\'s titles (server/notify Titles), in both languages', () => {
  const events = Object.fromEntries([...src.matchAll(/^\s*(?:const )?(Event\w+)\s*=\s*"([a-z_]+)"/gm)].map((m) => [m[1], m[2]]))
  const titles = [...src.matchAll(/^\s*(Event\w+):\s*\{"([^"]+)", "([^"]+)"\}/gm)]
  assert.ok(titles.length >= 13, `parsed ${titles.length} titles in server/notify`)
  for (const [, c, zh, en] of titles) {
    locale.value = 'zh'
    assert.equal(eventName(events[c]), zh, `event ${events[c]} in Chinese`)
    locale.value = 'en'
    assert.equal(eventName(events[c]), en, `event ${events[c]} in English`)
  }
  locale.value = 'zh'
})
