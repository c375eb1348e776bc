// The field app's journeys in a real Chromium against a real pairsyncd
// (started by TestBrowserJourneys in e2e_test.go), at 360×640:
//  1. offline: an officer signs in online, goes offline, records a visit with
//     2 photos and an issue, reloads the page offline (the data is still
//     there), goes online: the server has the visit complete with both photos;
//  2. the contact, in a second browser context, confirms and rates that issue
//     (after an administrator dispatched it and the officer answered); the
//     officer's app shows it after sync;
//  3. two officers edit the same visit offline: different fields (both
//     survive), then the same field (the conflict is shown for review and
//     settled).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { launch, phone, newPage, signIn, syncNow, signAndAnswer, controlled, shot, photo, api, users, PAIRING } from './lib.mjs'

let browser, ctxA, pageA
const ids = {}

before(async () => {
  browser = await launch()
  ctxA = await phone(browser)
  pageA = await newPage(ctxA)
})
after(async () => { await browser?.close() })

const visitNotes = '走访星河电梯，了解出口退税进展。'

test('1. offline visit with 2 photos and an issue, reload offline, sync', async () => {
  const page = pageA
  const firstLoad = []
  page.on('response', async (r) => {
    try { firstLoad.push({ url: r.url(), bytes: (await r.request().sizes()).responseBodySize }) } catch { /* gone */ }
  })
  await page.goto('/')
  await page.waitForSelector('[data-test=username]')
  await shot(page, '01-login.png')
  await signIn(page, users.officerA)
  await page.waitForSelector('[data-test=sync-status][data-state=caught-up]')
  await controlled(page)
  await shot(page, '02-pairings.png')
  const appBytes = firstLoad.filter((r) => !r.url.includes('/v1/')).reduce((n, r) => n + r.bytes, 0)
  console.log(`first load (app files as transferred, compressed): ${(appBytes / 1024).toFixed(0)} KiB`)

  await ctxA.setOffline(true)
  await page.waitForSelector('[data-test=sync-status][data-state=offline]')
  await page.click('[data-test=pairing]')
  await page.click('[data-test=new-visit]')
  await page.waitForSelector('[data-test=visit-form]')
  ids.visit = await page.getAttribute('[data-test=visit-form]', 'data-id')
  await page.fill('[data-test=visit-title] input', '走访星河电梯')
  await page.click('[data-test=visit-locate]')
  await page.waitForSelector('[data-test=visit-location]')
  await page.click('[data-test=add-participant]')
  await page.fill('[data-test=participant-name]', '陈经理')
  await page.fill('[data-test=visit-notes] textarea', visitNotes)
  await page.setInputFiles('[data-test=visit-photos]', [photo(1), photo(2)])
  await page.waitForFunction(() => document.querySelectorAll('[data-test=visit-form] [data-test=photo-thumb]').length === 2)
  await page.click('[data-test=add-issue]')
  await page.fill('[data-test=visit-issue] [data-test=issue-title] input', '出口退税办理进度慢')
  await page.selectOption('[data-test=visit-issue] [data-test=issue-category]', 'tax')
  await page.fill('[data-test=visit-issue] [data-test=issue-description] textarea', '企业反映退税审核周期长，请协调。')
  await shot(page, '03-visit-form.png')
  await page.click('[data-test=visit-save]')
  await page.waitForSelector(`[data-test=visit][data-id="${ids.visit}"], [data-test=visit-error]`)
  if (await page.$('[data-test=visit-error]')) assert.fail('saving the visit: ' + await page.textContent('[data-test=visit-error]'))
  await page.waitForSelector(`[data-test=visit][data-id="${ids.visit}"] [data-test=visit-pending]`)
  // Pending is counted in records (the visit and its issue), photos apart.
  assert.match(await page.textContent('[data-test=sync-status]'), /离线 · 待同步 2 · 照片待上传 2/)
  await shot(page, '04-visits-offline-pending.png')

  // Reload while offline: the service worker starts the app, IndexedDB
  // still holds the visit, its photos and the outbox.
  const t0 = Date.now()
  await page.reload()
  await page.waitForSelector(`[data-test=visit][data-id="${ids.visit}"]`)
  const tti = Date.now() - t0
  const readyAt = await page.evaluate(() => window.pairsync.readyAt)
  console.log(`offline reload to interactive: ${tti} ms (app mounted ${readyAt.toFixed(0)} ms after navigation start)`)
  assert.match(await page.textContent('[data-test=sync-status]'), /待同步 2 · 照片待上传 2/)
  await page.click(`[data-test=visit][data-id="${ids.visit}"]`)
  await page.waitForFunction(() => document.querySelectorAll('[data-test=visit-form] [data-test=photo-thumb]').length === 2)
  assert.equal(await page.inputValue('[data-test=visit-notes] textarea'), visitNotes)
  await page.goBack()

  await ctxA.setOffline(false)
  assert.equal(await syncNow(page), 'caught-up')
  await page.waitForSelector(`[data-test=visit][data-id="${ids.visit}"]:not(:has([data-test=visit-pending]))`)

  const officer = await api(users.officerA)
  const v = await officer('GET', `/v1/visits/${ids.visit}`)
  assert.equal(v.complete, true, `visit complete, missing ${JSON.stringify(v.missing_photos)}`)
  assert.equal(v.record.fields.photos.length, 2)
  assert.equal(v.record.fields.notes, visitNotes)
  assert.equal(v.record.fields.location.lat, 32.0603)
  assert.equal(v.record.fields.issues.length, 1)
  ids.issue = v.record.fields.issues[0]
  const issue = await officer('GET', `/v1/issues/${ids.issue}`)
  assert.equal(issue.record.fields.title, '出口退税办理进度慢')
  assert.equal(issue.record.fields.visit, ids.visit)
})

test('2. the contact confirms and rates the issue; the officer sees it after sync', async () => {
  assert.ok(ids.issue, 'journey 1 made the issue')
  // An administrator dispatches (交办) the issue to officer A.
  const admin = await api(users.admin)
  await admin('POST', `/v1/issues/${ids.issue}/events`, { type: 'dispatched', handler: 'u-officerA', handler_name: '张伟' })

  const page = pageA
  await syncNow(page)
  await page.goto(`/issues/${ids.issue}`) // the server's SPA fallback (or the service worker) opens the app there
  await page.waitForSelector('[data-test=issue-page][data-status=dispatched]')
  await signAndAnswer(page, '已协调税务部门加快审核，退税将于本周到账。')
  assert.equal(await syncNow(page), 'caught-up')
  await shot(page, '05-issue-officer-responded.png', '[data-test=issue-event][data-type=responded]')

  // The contact, on their own phone.
  const ctxC = await phone(browser)
  const pc = await newPage(ctxC)
  await signIn(pc, users.contact)
  await shot(pc, '06-contact-pairings.png')
  await pc.click('[data-test=pairing]')
  await pc.waitForSelector(`[data-test=issue][data-id="${ids.issue}"] [data-status=responded]`)
  await shot(pc, '07-contact-issues.png')
  await pc.click(`[data-test=issue][data-id="${ids.issue}"]`)
  await pc.waitForSelector('[data-test=confirm-form]')
  // Ratings are chosen, never preset: nothing picked, confirming disabled.
  assert.equal(await pc.getAttribute('[data-test=confirm-form] [data-test=rate]', 'data-level'), '')
  assert.ok(await pc.isDisabled('[data-test=confirm-submit]'))
  await pc.click('[data-test=confirm-form] [data-test=rate-level][data-level="5"]')
  assert.equal(await pc.textContent('[data-test=rate-label]'), '非常满意')
  await pc.fill('[data-test=rate-comment] textarea', '办理及时，非常感谢！')
  await shot(pc, '08-contact-confirm-rate.png', '[data-test=confirm-form]')
  await pc.click('[data-test=confirm-submit]')
  await pc.waitForSelector('[data-test=issue-page][data-status=closed]')
  assert.equal(await syncNow(pc), 'caught-up')
  await ctxC.close()

  const officer = await api(users.officerA)
  const is = await officer('GET', `/v1/issues/${ids.issue}`)
  assert.equal(is.state.status, 'closed', JSON.stringify(is.state))

  // The officer's app shows the confirmation and the rating after a sync.
  assert.equal(await syncNow(page), 'caught-up')
  await page.waitForSelector('[data-test=issue-page][data-status=closed]')
  await page.waitForSelector('[data-test=issue-rating][data-level="5"]')
  assert.ok(await page.$('[data-test=issue-event][data-type=confirmed]'))
  await shot(page, '09-issue-officer-confirmed.png')
})

test('3. two officers edit one visit offline: different fields merge, the same field is a conflict to review', async () => {
  assert.ok(ids.visit, 'journey 1 made the visit')
  const ctxB = await phone(browser)
  const pb = await newPage(ctxB)
  await signIn(pb, users.officerB)
  await controlled(pb)
  const pa = pageA
  await pa.goto(`/visits/${ids.visit}`)
  await pa.waitForSelector('[data-test=visit-form]')
  await pb.goto(`/visits/${ids.visit}`)
  await pb.waitForSelector('[data-test=visit-form]')

  // Different fields, offline: A the notes, B the participants.
  await ctxA.setOffline(true)
  await ctxB.setOffline(true)
  await pa.fill('[data-test=visit-notes] textarea', visitNotes + '（张伟补充：企业另有用工需求）')
  await pa.click('[data-test=visit-save]')
  await pa.waitForSelector(`[data-test=visit][data-id="${ids.visit}"] [data-test=visit-pending]`)
  await pb.click('[data-test=add-participant]')
  await pb.fill('[data-test=participant]:nth-of-type(2) [data-test=participant-name]', '赵会计')
  await pb.click('[data-test=visit-save]')
  await pb.waitForSelector(`[data-test=visit][data-id="${ids.visit}"] [data-test=visit-pending]`)
  await ctxA.setOffline(false)
  await ctxB.setOffline(false)
  for (const p of [pa, pb, pa]) assert.equal(await syncNow(p), 'caught-up')

  const officer = await api(users.officerA)
  let v = await officer('GET', `/v1/visits/${ids.visit}`)
  assert.equal(v.record.fields.notes, visitNotes + '（张伟补充：企业另有用工需求）')
  assert.deepEqual(v.record.fields.participants.map((p) => p.name), ['陈经理', '赵会计'])
  assert.equal(v.record.conflicts, undefined, 'different fields do not conflict')

  // The same field, offline on both phones.
  for (const [page, ctx, text] of [[pa, ctxA, 'A：企业希望尽快召开政策宣讲会'], [pb, ctxB, 'B：企业希望对接银行融资']]) {
    await page.goto(`/visits/${ids.visit}`)
    await page.waitForSelector('[data-test=visit-form]')
    await ctx.setOffline(true)
    await page.fill('[data-test=visit-notes] textarea', text)
    await page.click('[data-test=visit-save]')
    await page.waitForSelector(`[data-test=visit][data-id="${ids.visit}"] [data-test=visit-pending]`)
  }
  await ctxA.setOffline(false)
  await ctxB.setOffline(false)
  for (const p of [pa, pb, pa]) assert.equal(await syncNow(p), 'caught-up')
  v = await officer('GET', `/v1/visits/${ids.visit}`)
  assert.equal(v.record.conflicts?.length, 1, 'the server keeps the loser as a conflict')
  assert.equal(v.record.conflicts[0].field, 'notes')

  // Both phones show the conflict; A reviews it and keeps B's text.
  await pb.waitForSelector(`[data-test=visit][data-id="${ids.visit}"] [data-test=visit-conflict]`)
  await pa.goto(`/pairings/${PAIRING}`)
  await pa.waitForSelector(`[data-test=visit][data-id="${ids.visit}"] [data-test=visit-conflict]`)
  await shot(pa, '10-visits-conflict.png')
  await pa.click('[data-test=review-link]')
  await pa.waitForSelector('[data-test=conflict-field][data-field=notes]')
  const texts = (await pa.locator('[data-test=conflict-value]').allTextContents()).join('\n')
  assert.match(texts, /政策宣讲会/)
  assert.match(texts, /银行融资/)
  await shot(pa, '11-review-conflict.png')
  await pa.locator('[data-test=conflict-value]', { hasText: '银行融资' }).locator('[data-test=keep-value]').click()
  await pa.waitForSelector('[data-test=review-page] >> text=没有需要处理的冲突或被拒绝的修改')
  assert.equal(await syncNow(pa), 'caught-up')
  v = await officer('GET', `/v1/visits/${ids.visit}`)
  assert.equal(v.record.fields.notes, 'B：企业希望对接银行融资')
  assert.equal(v.record.conflicts, undefined, 'the choice settled the conflict on the server')
  assert.equal(await syncNow(pb), 'caught-up')
  await pb.goto(`/pairings/${PAIRING}`)
  await pb.waitForSelector(`[data-test=visit][data-id="${ids.visit}"]`)
  assert.equal(await pb.$(`[data-test=visit][data-id="${ids.visit}"] [data-test=visit-conflict]`), null, 'settled on the other phone too')
  await ctxB.close()
})

test('4. a change the server refuses is kept for review, never lost silently', async () => {
  // The pairing ends while officer A is offline: the field may no longer
  // write to it, so the issue raised offline is rejected at push.
  const page = pageA
  await page.goto(`/pairings/${PAIRING}?tab=issues`)
  await page.waitForSelector('[data-test=new-issue]')
  await ctxA.setOffline(true)
  const admin = await api(users.admin)
  await admin('POST', `/v1/pairings/${PAIRING}/end`, { reason: '年度结对期满' })
  await page.click('[data-test=new-issue]')
  await page.fill('[data-test=issue-title] input', '希望协助申报高新技术企业')
  await page.selectOption('[data-test=issue-category]', 'technology')
  await page.click('[data-test=issue-save]')
  await page.waitForSelector('[data-test=issue] >> text=希望协助申报高新技术企业')
  await ctxA.setOffline(false)
  await syncNow(page)
  await page.click('[data-test=review-link]')
  await page.waitForSelector('[data-test=rejected][data-code=forbidden]')
  await shot(page, '12-review-rejected.png')
  // Rejected writes leave the view (it is rebuilt without them) but stay in
  // the list until dismissed.
  await page.goto(`/pairings/${PAIRING}?tab=issues`)
  await page.waitForSelector('[data-test=issue]')
  assert.equal(await page.$('[data-test=issue] >> text=希望协助申报高新技术企业'), null)
  await page.click('[data-test=review-link]')
  await page.click('[data-test=rejected] >> text=忽略')
  await page.waitForSelector('[data-test=review-page] >> text=没有需要处理的冲突或被拒绝的修改')
})
