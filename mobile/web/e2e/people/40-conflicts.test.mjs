// Conflicts people can understand, and words everywhere, through
// the screens only (the API is used to read back and assert):
//  1. officer A records a visit with participants on a phone (360×640); A and
//     B sync. Both edit it offline, different fields, without touching the
//     participants: no conflict (the participants are not re-written).
//  2. Both edit the notes offline, differently, and sync: each phone shows
//     the conflict with both people's names and times, its own value
//     labelled 我的; the administrator sees it on the console's pairing page.
//  3. A keeps B's text; after a sync both phones show no conflict and the
//     chosen text, and the console lists no conflict.
//  4. A change the server refuses (a visit dated in the future) is explained
//     in Chinese; switched to English, in English; back in Chinese.
// Every Chinese screen is saved (shots) and checked for ids, codes and
// English sentences (assertPeopleWords). People come from the state file.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { launch, phone, newPage, syncNow, shots, URL } from '../lib.mjs'
import { loadState } from './state.mjs'
import { see, signInPhone, openConsole } from './people.mjs'

const st = loadState()
// Until the first day (10-firstday) has made the people, there is no one to
// sign in as: the journey says so and skips (PAIRSYNC_JOURNEY_FROM=seed
// seeds them).
const noPeople = !st.people?.officerA || !st.people?.officerB || !st.people?.admin || !st.pairing?.name
  ? 'no people in the state file yet: 10-firstday makes them (or run with PAIRSYNC_JOURNEY_FROM=seed)' : false
const A = st.people?.officerA
const B = st.people?.officerB
const admin = st.people?.admin
const pairingName = st.pairing?.name
let browser

after(async () => { if (browser) await browser.close() })

async function openPairing(page) {
  await page.goto('/')
  await page.locator('[data-test=pairing]', { hasText: pairingName }).click()
  await page.waitForSelector('[data-test=pairing-page]')
}

async function openVisit(page, id) {
  await openPairing(page)
  await page.click(`[data-test=visit][data-id="${id}"]`)
  await page.waitForSelector(`[data-test=visit-form][data-id="${id}"]`)
}

// reader signs in over REST to read back (never to act).
async function reader(who) {
  const r = await fetch(URL + '/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: who.username, password: who.password }) })
  assert.ok(r.ok, `login ${who.username}: ${r.status}`)
  const { access_token: token } = await r.json()
  return async (path) => (await fetch(URL + path, { headers: { Authorization: 'Bearer ' + token } })).json()
}

test('two officers, one visit: no conflict from untouched participants; a same-field conflict shown with names, resolved; words in both languages', { skip: noPeople }, async () => {
  browser = await launch()
  const ctxA = await phone(browser)
  const ctxB = await phone(browser)
  const pa = await newPage(ctxA)
  const pb = await newPage(ctxB)
  await signInPhone(pa, A)
  await signInPhone(pb, B)
  const readA = await reader(A)

  // 1. A records a visit with two participants (name, title, organisation).
  await openPairing(pa)
  await see(pa, '40-01-pairing')
  await pa.click('[data-test=new-visit]')
  await pa.waitForSelector('[data-test=visit-form]')
  const visitId = await pa.getAttribute('[data-test=visit-form]', 'data-id')
  await pa.fill('[data-test=visit-title] input', '走访座谈：用工与融资')
  for (const [i, [name, title, org]] of [['王经理', '总经理', '星河电梯'], ['赵会计', '财务主管', '星河电梯']].entries()) {
    await pa.click('[data-test=add-participant]')
    const row = pa.locator('[data-test=participant]').nth(i)
    await row.locator('[data-test=participant-name]').fill(name)
    await row.locator('input').nth(1).fill(title)
    await row.locator('input').nth(2).fill(org)
  }
  await pa.fill('[data-test=visit-notes] textarea', '企业介绍了今年的经营情况。')
  await see(pa, '40-02-visit-new')
  await pa.click('[data-test=visit-save]')
  await pa.waitForSelector(`[data-test=visit][data-id="${visitId}"]`)
  assert.equal(await syncNow(pa), 'caught-up')
  assert.equal(await syncNow(pb), 'caught-up')
  let v = await readA(`/v1/visits/${visitId}`)
  assert.deepEqual(v.record.fields.participants.map((p) => p.name), ['王经理', '赵会计'])

  // Different fields offline, participants untouched: no conflict.
  await openVisit(pa, visitId)
  await openVisit(pb, visitId)
  await ctxA.setOffline(true)
  await ctxB.setOffline(true)
  await pa.fill('[data-test=visit-notes] textarea', '企业介绍了今年的经营情况，希望招聘技术工人。')
  await pa.click('[data-test=visit-save]')
  await pa.waitForSelector(`[data-test=visit][data-id="${visitId}"] [data-test=visit-pending]`)
  await pb.fill('[data-test=visit-title] input', '走访座谈：用工、融资与政策')
  await pb.click('[data-test=visit-save]')
  await pb.waitForSelector(`[data-test=visit][data-id="${visitId}"] [data-test=visit-pending]`)
  await ctxA.setOffline(false)
  await ctxB.setOffline(false)
  for (const p of [pa, pb, pa]) assert.equal(await syncNow(p), 'caught-up')
  v = await readA(`/v1/visits/${visitId}`)
  assert.equal(v.record.conflicts, undefined, `editing a visit with participants made a conflict: ${JSON.stringify(v.record.conflicts)}`)
  assert.equal(v.record.fields.title, '走访座谈：用工、融资与政策')
  assert.match(v.record.fields.notes, /技术工人/)
  await openPairing(pa)
  assert.equal(await pa.$(`[data-test=visit][data-id="${visitId}"] [data-test=visit-conflict]`), null, 'no conflict shown for untouched participants')
  await see(pa, '40-03-no-conflict')

  // 2. The same field, differently, offline on both phones.
  const textA = '企业希望尽快召开稳岗政策宣讲会'
  const textB = '企业希望对接银行的设备更新贷款'
  for (const [page, ctx, text] of [[pa, ctxA, textA], [pb, ctxB, textB]]) {
    await openVisit(page, visitId)
    await ctx.setOffline(true)
    await page.fill('[data-test=visit-notes] textarea', text)
    await page.click('[data-test=visit-save]')
    await page.waitForSelector(`[data-test=visit][data-id="${visitId}"] [data-test=visit-pending]`)
  }
  await ctxA.setOffline(false)
  await ctxB.setOffline(false)
  for (const p of [pa, pb, pa]) assert.equal(await syncNow(p), 'caught-up')
  v = await readA(`/v1/visits/${visitId}`)
  assert.equal(v.record.conflicts?.length, 1, 'the server keeps the other value as a conflict')

  for (const [page, me, mine, name] of [[pa, A, textA, 'a'], [pb, B, textB, 'b']]) {
    await openPairing(page)
    await page.waitForSelector(`[data-test=visit][data-id="${visitId}"] [data-test=visit-conflict]`)
    await page.click('[data-test=review-link]')
    await page.waitForSelector('[data-test=conflict-field][data-field=notes]')
    const values = page.locator('[data-test=conflict-field][data-field=notes] [data-test=conflict-value]')
    assert.equal(await values.count(), 2)
    const byTexts = await page.locator('[data-test=conflict-field][data-field=notes] [data-test=conflict-by]').allTextContents()
    const all = byTexts.join('\n')
    assert.ok(all.includes(A.name) && all.includes(B.name), `the conflict names both officers: ${all}`)
    for (const t of byTexts) assert.match(t, /\d{1,2}:\d{2}/, `each value says when: ${t}`)
    const mineRow = page.locator('[data-test=conflict-value][data-mine=yes]')
    assert.equal(await mineRow.count(), 1, 'exactly one value is labelled as mine')
    assert.match(await mineRow.textContent(), new RegExp(mine))
    assert.match(await mineRow.textContent(), /我的/)
    assert.ok((await mineRow.locator('[data-test=conflict-by]').textContent()).includes(me.name))
    await see(page, `40-04-conflict-${name}`)
  }

  // The administrator sees it on the pairing's page in the console.
  const pc = await openConsole(browser, admin)
  await pc.goto('/console/pairings')
  await pc.waitForSelector('[data-test=pairings-table][data-ready="1"]')
  await pc.locator('[data-test=pairing-row] a', { hasText: pairingName }).first().click()
  await pc.waitForSelector('[data-test=pairing-page][data-ready="1"]')
  await pc.waitForSelector('[data-test=pairing-conflicts][data-count="1"]')
  const consoleBy = (await pc.locator('[data-test=pairing-conflict-by]').allTextContents()).join('\n')
  assert.ok(consoleBy.includes(A.name) && consoleBy.includes(B.name), `the console names both officers: ${consoleBy}`)
  const consoleValues = (await pc.locator('[data-test=pairing-conflict-value]').allTextContents()).join('\n')
  assert.ok(consoleValues.includes(textA) && consoleValues.includes(textB))
  await pc.locator('[data-test=pairing-conflicts]').scrollIntoViewIfNeeded()
  await see(pc, '40-05-console-conflicts')

  // 3. A keeps B's text.
  await pa.locator('[data-test=conflict-value]', { hasText: textB }).locator('[data-test=keep-value]').click()
  await pa.waitForSelector('[data-test=review-page] >> text=没有需要处理的冲突或被拒绝的修改')
  await see(pa, '40-06-review-empty')
  for (const p of [pa, pb]) assert.equal(await syncNow(p), 'caught-up')
  v = await readA(`/v1/visits/${visitId}`)
  assert.equal(v.record.fields.notes, textB)
  assert.equal(v.record.conflicts, undefined, 'the choice settled the conflict on the server')
  for (const [page, name] of [[pa, 'a'], [pb, 'b']]) {
    await openPairing(page)
    await page.waitForSelector(`[data-test=visit][data-id="${visitId}"]`)
    assert.equal(await page.$(`[data-test=visit][data-id="${visitId}"] [data-test=visit-conflict]`), null, `no conflict left on phone ${name}`)
    await page.click(`[data-test=visit][data-id="${visitId}"]`)
    await page.waitForSelector(`[data-test=visit-form][data-id="${visitId}"]`)
    assert.equal(await page.inputValue('[data-test=visit-notes] textarea'), textB)
    await see(page, `40-07-visit-settled-${name}`)
  }
  await pc.reload()
  await pc.waitForSelector('[data-test=pairing-conflicts][data-count="0"]')
  await see(pc, '40-08-console-no-conflicts')
  // The audit log in words: actors by name, actions and objects in Chinese.
  await pc.goto('/console/manage/audit')
  await pc.waitForSelector('[data-test=audit-row]')
  const actors = (await pc.locator('[data-test=audit-actor]').allTextContents()).join('\n')
  assert.ok(actors.includes(A.name) && actors.includes(B.name), `the audit log names the officers who signed in: ${actors.slice(0, 300)}`)
  const actions = await pc.locator('[data-test=audit-action]').allTextContents()
  assert.ok(actions.includes('登录') && actions.includes('登记设备'), `actions in words: ${actions.slice(0, 10)}`)
  await see(pc, '40-12-audit')
  await pc.context().close()

  // 4. A change the server refuses, in both languages: a visit dated three
  // days ahead (the phone's clock is trusted only a day ahead).
  await openPairing(pa)
  await pa.click('[data-test=new-visit]')
  await pa.waitForSelector('[data-test=visit-form]')
  const ahead = new Date(Date.now() + 3 * 86400_000 + 8 * 3600_000).toISOString().slice(0, 16)
  await pa.fill('[data-test=visit-time]', ahead)
  await pa.fill('[data-test=visit-notes] textarea', '预约下周走访')
  await pa.click('[data-test=visit-save]')
  await pa.waitForSelector('[data-test=pairing-page]')
  await syncNow(pa)
  await pa.click('[data-test=review-link]')
  await pa.waitForSelector('[data-test=rejected]')
  const zh = await pa.textContent('[data-test=rejected] [data-test=rejected-reason]')
  assert.match(zh, /走访时间.*晚于当前时间/, `the refusal in Chinese: ${zh}`)
  await see(pa, '40-09-refused-zh')
  await pa.goto('/')
  await pa.click('[data-test=lang]')
  await pa.goto('/review')
  await pa.waitForSelector('[data-test=rejected]')
  const en = await pa.textContent('[data-test=rejected] [data-test=rejected-reason]')
  assert.match(en, /Visited at.*is in the future/, `the refusal in English: ${en}`)
  await shots(pa, '40-10-refused-en')
  await pa.goto('/')
  await pa.click('[data-test=lang]')
  await pa.goto('/review')
  await pa.waitForSelector('[data-test=rejected]')
  assert.equal(await pa.textContent('[data-test=rejected] [data-test=rejected-reason]'), zh)
  await see(pa, '40-11-refused-zh-again')
  await pa.locator('[data-test=rejected] button', { hasText: '忽略' }).click()
  await pa.waitForSelector('[data-test=review-page] >> text=没有需要处理的冲突或被拒绝的修改')
  await ctxA.close()
  await ctxB.close()
})
