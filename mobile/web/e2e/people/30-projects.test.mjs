// 实事项目 end to end, through the screens only (the API is used to read
// back and assert):
//  1. officerA, on the phone (360×640) and OFFLINE, proposes a project with a
//     milestone (新建实事项目: the form's limits come from /v1/schema); it waits
//     on the phone; online, it syncs;
//  2. the administrator, in the console (1366×768), sees it on the projects
//     board as 待立项 and presses 立项;
//  3. officerA proposes a second one; the administrator defers it (暂缓) from
//     the pairing page — the dialog refuses an empty reason — and the officer's
//     phone shows the decision: status in words, who, when and the reason;
//  4. officerA starts the first project, adds an evidence photo to its
//     milestone (the phone's file input), marks it done and claims completion;
//     the photo goes up on the photo channel;
//  5. the contact accepts it on their phone, choosing a satisfaction level
//     explicitly (the submit is disabled until they do);
//  6. the administrator verifies it in the console.
// Read back: the project is verified, the milestone's photo is stored (GET
// /v1/photos/<sha> 200 for the administrator) and the rating counts. Every
// screen is shot at 360×640 and 1366×768 and checked for ids, codes and
// English sentences.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { URL, launch, phone, newPage, syncNow, photo, shots, assertPeopleWords } from '../lib.mjs'
import { loadState } from './state.mjs'
import { phoneSignInHere, consoleSignInHere } from './people.mjs'

const st = loadState()
const P = st.people
let browser, offCtx, off, conCtx, con, admCtx, adm
const ids = {}
const first = { title: '电梯企业职工子女暑托班', description: '联合社区为企业职工子女开办暑期托管班，解决双职工家庭看护难题。', end: '2026-09-30', milestone: '确定场地与师资', due: '2026-07-01' }
const second = { title: '智能制造人才对接会', description: '组织高校与企业开展人才供需对接。', reason: '企业年内搬迁新厂区，待搬迁完成后再办' }
const third = { title: '园区道路照明改造', description: '协调园区改造企业门前道路照明。', reason: '已并入区里统一实施的道路改造工程' }

// see: a person looks at the screen (shots at both sizes, people's words),
// scrolled to show what they act on (selector) or at its top.
async function see(page, name, selector) {
  if (selector) await page.locator(selector).first().scrollIntoViewIfNeeded()
  else await page.evaluate(() => window.scrollTo(0, 0))
  await shots(page, name)
  await assertPeopleWords(page, name)
}

// reader signs in over REST (no device) to read back what people did.
async function reader(person) {
  const r = await fetch(URL + '/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: person.username, password: person.password }) })
  if (!r.ok) throw new Error(`login ${person.username}: ${r.status} ${await r.text()}`)
  const tr = await r.json()
  const call = async (path) => {
    const resp = await fetch(URL + path, { headers: { Authorization: 'Bearer ' + tr.access_token } })
    return { status: resp.status, body: resp.headers.get('content-type')?.includes('json') ? await resp.json() : await resp.arrayBuffer() }
  }
  return { user: tr.user, call }
}

async function phoneSignIn(page, person) {
  await page.goto('/')
  await phoneSignInHere(page, person)
  await page.waitForSelector('[data-test=home] [data-test=pairing]')
  await syncNow(page)
}

async function openPairingProjects(page) {
  await page.goto('/')
  await page.click(`[data-test=home] [data-test=pairing]:has-text("${st.pairing.name}")`)
  await page.waitForSelector('[data-test=pairing-page]')
  await page.getByRole('tab', { name: '实事项目' }).click()
}

async function consoleSignIn(page, person) {
  await page.goto('/console')
  await consoleSignInHere(page, person)
  await page.waitForSelector('[data-test=console] [data-test=nav]')
}

async function projectByTitle(api, title) {
  const { body } = await api.call('/v1/projects?limit=1000')
  return body.projects.find((p) => p.title === title)
}

before(async () => {
  browser = await launch()
  offCtx = await phone(browser)
  off = await newPage(offCtx)
  conCtx = await phone(browser)
  con = await newPage(conCtx)
  admCtx = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', baseURL: URL })
  admCtx.setDefaultTimeout(60_000)
  adm = await newPage(admCtx)
})
after(async () => { await browser?.close() })

// Each step needs the ones before it: after a failure the rest are skipped
// (not left to time out one by one).
let broken = ''
function step(name, fn) {
  test(name, async (t) => {
    if (broken) { t.skip(`needs "${broken}"`); return }
    try { await fn() } catch (e) { broken = name; throw e }
  })
}

step('1. the officer proposes a project offline; it syncs when online', async () => {
  const admin = await reader(P.admin)
  await phoneSignIn(off, P.officerA)
  await see(off, '30-01-officer-home')
  await openPairingProjects(off)
  await see(off, '30-02-pairing-projects')

  await offCtx.setOffline(true)
  await off.waitForSelector('[data-test=sync-status][data-state=offline]')
  await off.click('[data-test=new-project]')
  await off.waitForSelector('[data-test=project-form]')
  // Required fields, from the server's schema: nothing is written without them.
  await off.click('[data-test=project-save]')
  await off.waitForSelector('[data-test=project-error]')
  assert.match(await off.textContent('[data-test=project-error]'), /请填写项目名称/)
  const schema = (await admin.call('/v1/schema')).body
  const titleSpec = schema.collections.find((c) => c.name === 'projects').fields.find((f) => f.name === 'title')
  await off.fill('[data-test=project-title] input', '项'.repeat(titleSpec.max_len + 5))
  assert.equal([...await off.inputValue('[data-test=project-title] input')].length, titleSpec.max_len, 'the title takes its limit from the schema')
  await off.fill('[data-test=project-title] input', first.title)
  await off.click('[data-test=project-save]')
  assert.match(await off.textContent('[data-test=project-error]'), /请填写项目类别/)
  await off.selectOption('[data-test=project-category]', { label: '民生服务' })
  await off.fill('[data-test=project-description] textarea', first.description)
  await off.fill('[data-test=project-planned-end]', first.end)
  await off.fill('[data-test=project-form-milestone] [data-test=pm-title] input', first.milestone)
  await off.fill('[data-test=project-form-milestone] [data-test=pm-due]', first.due)
  await see(off, '30-03-new-project-form', '[data-test=project-form-milestone]')
  await off.click('[data-test=project-save]')
  await off.waitForSelector('[data-test=project-page][data-status=proposed]')
  assert.match(await off.textContent('[data-test=project-status]'), /待立项/)
  assert.match(await off.textContent('[data-test=project-status]'), /待同步/)
  assert.equal(await off.locator('[data-test=milestone]').count(), 1)
  ids.first = (await off.url()).split('/projects/')[1]
  await see(off, '30-04-project-proposed-offline')
  assert.equal(await projectByTitle(admin, first.title), undefined, 'offline: the server has not got the project yet')

  await offCtx.setOffline(false)
  await syncNow(off)
  await off.waitForSelector('[data-test=sync-status][data-state=caught-up]')
  const p = await projectByTitle(admin, first.title)
  assert.ok(p, 'online: the project reached the server')
  assert.equal(p.id, ids.first)
  assert.equal(p.status, 'proposed')
  assert.equal(p.milestones, 1)
  await see(off, '30-05-project-synced')
})

step('2. the administrator approves it (立项) on the projects board', async () => {
  const admin = await reader(P.admin)
  await consoleSignIn(adm, P.admin)
  await adm.click('[data-test=nav-projects]')
  await adm.waitForSelector('[data-test=projects-board][data-ready="1"]')
  const col = '[data-test=board-col][data-status=proposed]'
  await adm.waitForSelector(`${col} [data-test=project-card][data-id="${ids.first}"]`)
  assert.match(await adm.textContent(`${col} h3`), /待立项/)
  await see(adm, '30-06-board-proposed')
  const card = `[data-test=project-card][data-id="${ids.first}"]`
  assert.equal((await adm.textContent(`${card} [data-test=move-approved]`)).trim(), '立项')
  await adm.click(`${card} [data-test=move-approved]`)
  await adm.waitForSelector('[data-test=modal]')
  await see(adm, '30-07-approve-dialog')
  assert.equal((await adm.textContent('[data-test=modal-ok]')).trim(), '立项')
  await adm.click('[data-test=modal-ok]')
  await adm.waitForSelector(`[data-test=board-col][data-status=approved] ${card}`)
  await see(adm, '30-08-board-approved')
  const p = await admin.call(`/v1/projects/${ids.first}`)
  assert.equal(p.body.record.fields.status, 'approved')
  assert.equal(p.body.record.fields.status_by, admin.user.id, 'the decision names the administrator')

  await syncNow(off)
  await off.goto(`/projects/${ids.first}`)
  await off.waitForSelector('[data-test=project-page][data-status=approved]')
  assert.match(await off.textContent('[data-test=project-status]'), /已立项/)
  assert.match(await off.textContent('[data-test=project-decision]'), new RegExp(P.admin.name))
  await see(off, '30-09-officer-sees-approval')
})

step('3. a second project is deferred (暂缓) with a reason from the pairing page; the officer sees why', async () => {
  const admin = await reader(P.admin)
  await openPairingProjects(off)
  await off.click('[data-test=new-project]')
  await off.waitForSelector('[data-test=project-form]')
  await off.fill('[data-test=project-title] input', second.title)
  await off.selectOption('[data-test=project-category]', { label: '人才科技' })
  await off.fill('[data-test=project-description] textarea', second.description)
  await off.click('[data-test=project-save]')
  await off.waitForSelector('[data-test=project-page][data-status=proposed]')
  ids.second = (await off.url()).split('/projects/')[1]
  await syncNow(off)
  assert.equal((await projectByTitle(admin, second.title))?.status, 'proposed')

  // The board links each card to its pairing's page.
  await adm.goto('/console/projects')
  await adm.waitForSelector(`[data-test=project-card][data-id="${ids.second}"]`)
  await adm.click(`[data-test=project-card][data-id="${ids.second}"] .ptitle`)
  const row = `[data-test=pairing-project][data-id="${ids.second}"]`
  await adm.waitForSelector(row)
  await see(adm, '30-10-pairing-page-projects', row)
  assert.equal((await adm.textContent(`${row} [data-test=move-deferred]`)).trim(), '暂缓')
  await adm.click(`${row} [data-test=move-deferred]`)
  await adm.waitForSelector('[data-test=modal]')
  assert.ok(await adm.isDisabled('[data-test=modal-ok]'), 'an empty reason is refused')
  await adm.fill('[data-test=prompt-text]', '   ')
  assert.ok(await adm.isDisabled('[data-test=modal-ok]'), 'a blank reason is refused')
  await adm.fill('[data-test=prompt-text]', second.reason)
  await see(adm, '30-11-defer-dialog')
  await adm.click('[data-test=modal-ok]')
  await adm.waitForSelector(`${row}[data-status=deferred]`)
  await adm.waitForSelector(`${row} ~ [data-test=project-reason], ${row} [data-test=project-reason]`)
  await see(adm, '30-12-pairing-page-deferred', row)
  const p = await admin.call(`/v1/projects/${ids.second}`)
  assert.equal(p.body.record.fields.status, 'deferred')
  assert.equal(p.body.record.fields.status_reason, second.reason)

  await syncNow(off)
  await off.goto(`/projects/${ids.second}`)
  await off.waitForSelector('[data-test=project-page][data-status=deferred]')
  assert.match(await off.textContent('[data-test=project-status]'), /已暂缓/)
  assert.match(await off.textContent('[data-test=project-decision]'), new RegExp(P.admin.name))
  assert.match(await off.textContent('[data-test=project-decision]'), /\d{4}-\d{2}-\d{2} \d{2}:\d{2}/)
  assert.match(await off.textContent('[data-test=project-reason]'), new RegExp(second.reason))
  assert.equal(await off.locator('[data-test=project-move-approved], [data-test=project-move-in_progress]').count(), 0, 'only an administrator resumes a deferred project')
  await see(off, '30-13-officer-sees-deferral')
})

step('4. the officer starts the project, adds a milestone photo, marks it done and claims completion', async () => {
  const admin = await reader(P.admin)
  await off.goto(`/projects/${ids.first}`)
  await off.waitForSelector('[data-test=project-page][data-status=approved]')
  assert.equal((await off.textContent('[data-test=project-move-in_progress]')).trim(), '开始推进')
  await off.click('[data-test=project-move-in_progress]')
  await off.waitForSelector('[data-test=project-page][data-status=in_progress]')
  const ms = '[data-test=milestone]'
  await off.setInputFiles(`${ms} [data-test=milestone-photo]`, [photo(7)])
  await off.waitForSelector(`${ms} [data-test=milestone-evidence] [data-test=photo-thumb]`)
  await off.click(`${ms} [data-test=milestone-done]`)
  await off.waitForSelector(`${ms}[data-done="1"]`)
  await see(off, '30-14-milestone-done-with-photo', '[data-test=milestone]')
  await off.click('[data-test=project-move-completed]')
  await off.waitForSelector('[data-test=project-page][data-status=completed]')
  await syncNow(off)
  await off.waitForSelector('[data-test=sync-status][data-state=caught-up]')
  assert.equal(await off.evaluate(() => window.pairsync.state.photosPending), 0, 'the photo went up on the photo channel')
  await see(off, '30-15-project-completed')
  const d = await admin.call(`/v1/projects/${ids.first}`)
  assert.equal(d.body.record.fields.status, 'completed')
  assert.equal(d.body.milestones.length, 1)
  assert.equal(d.body.milestones[0].evidence.length, 1)
  ids.photo = d.body.milestones[0].evidence[0].sha256
})

step('5. the contact accepts it on their phone, choosing a satisfaction level', async () => {
  await phoneSignIn(con, P.contact)
  await openPairingProjects(con)
  await con.click(`[data-test=project][data-id="${ids.first}"]`)
  await con.waitForSelector('[data-test=project-page][data-status=completed] [data-test=accept-form]')
  assert.equal(await con.locator('[data-test=accept-form] .van-radio__icon--checked').count(), 0, 'no level is chosen for the contact')
  assert.ok(await con.isDisabled('[data-test=project-accept]'), 'the submit waits for a level')
  // The contact sees the milestone's evidence photo (read from the server).
  await con.waitForFunction(() => { const i = document.querySelector('[data-test=milestone-evidence] img[data-test=photo-thumb]'); return i && i.complete && i.naturalWidth > 0 })
  assert.match(await con.textContent('[data-test=accept-level-state]'), /请选择满意度/)
  await see(con, '30-16-contact-accept-form', '[data-test=accept-form]')
  await con.click('[data-test=level-4]')
  assert.ok(!(await con.isDisabled('[data-test=project-accept]')), 'a level chosen: the submit is enabled')
  assert.match(await con.textContent('[data-test=accept-level-state]'), /满意/)
  await con.click('[data-test=project-accept]')
  await con.waitForSelector('[data-test=project-accepted]')
  await syncNow(con)
  await con.waitForSelector('[data-test=sync-status][data-state=caught-up]')
  await con.waitForSelector('[data-test=project-rating][data-level="4"]')
  await see(con, '30-17-contact-accepted', '[data-test=project-rating]')
})

step('6. the administrator verifies it in the console; read back', async () => {
  const admin = await reader(P.admin)
  await adm.goto('/console/projects')
  const card = `[data-test=project-card][data-id="${ids.first}"]`
  await adm.waitForSelector(`[data-test=board-col][data-status=completed] ${card} [data-test=verify]`)
  await see(adm, '30-18-board-to-verify')
  await adm.click(`${card} [data-test=verify]`)
  await adm.waitForSelector('[data-test=modal]')
  await adm.click('[data-test=modal-ok]')
  await adm.waitForSelector(`[data-test=board-col][data-status=verified] ${card}`)
  await see(adm, '30-19-board-verified')
  // The pairing page shows the milestone with its evidence photo.
  await adm.click(`${card} .ptitle`)
  await adm.waitForSelector(`[data-test=pairing-project][data-id="${ids.first}"] [data-test=milestone] [data-test=photo] img`)
  await see(adm, '30-20-pairing-page-verified', `[data-test=pairing-project][data-id="${ids.first}"]`)

  const d = await admin.call(`/v1/projects/${ids.first}`)
  assert.equal(d.body.record.fields.status, 'verified')
  assert.ok(d.body.record.fields.contact_accepted_at, 'accepted by the contact')
  assert.equal(d.body.ratings.length, 1)
  assert.equal(d.body.ratings[0].level, 4)
  const ph = await admin.call(`/v1/photos/${ids.photo}`)
  assert.equal(ph.status, 200, 'the milestone photo is stored and the administrator may read it')
  assert.ok(ph.body.byteLength > 1000)
  const rt = await admin.call(`/v1/reports/ratings?pairing=${d.body.record.pairing}&limit=1000`)
  assert.ok(rt.body.ratings.some((r) => r.target_kind === 'project' && r.target === ids.first && r.level === 4), 'the rating counts in the ratings behind the satisfaction rate')

  await syncNow(off)
  await off.goto(`/projects/${ids.first}`)
  await off.waitForSelector('[data-test=project-page][data-status=verified]')
  assert.match(await off.textContent('[data-test=project-status]'), /已验收/)
  assert.match(await off.textContent('[data-test=project-decision]'), new RegExp(P.admin.name), 'the officer sees who verified it')
  await see(off, '30-21-officer-sees-verified')
})

step('7. the phone starts a project offline while the administrator cancels it: the conflict says why the phone\'s value cannot stand, and what can', async () => {
  const admin = await reader(P.admin)
  // A third project, proposed on the phone and approved in the console.
  await openPairingProjects(off)
  await off.click('[data-test=new-project]')
  await off.waitForSelector('[data-test=project-form]')
  await off.fill('[data-test=project-title] input', third.title)
  await off.selectOption('[data-test=project-category]', { label: '民生服务' })
  await off.fill('[data-test=project-description] textarea', third.description)
  await off.click('[data-test=project-save]')
  await off.waitForSelector('[data-test=project-page][data-status=proposed]')
  ids.third = (await off.url()).split('/projects/')[1]
  await syncNow(off)
  await adm.goto('/console/projects')
  const card = `[data-test=project-card][data-id="${ids.third}"]`
  await adm.waitForSelector(`[data-test=board-col][data-status=proposed] ${card}`)
  await adm.click(`${card} [data-test=move-approved]`)
  await adm.waitForSelector('[data-test=modal]')
  await adm.click('[data-test=modal-ok]')
  await adm.waitForSelector(`[data-test=board-col][data-status=approved] ${card}`)
  await syncNow(off)
  await off.goto(`/projects/${ids.third}`)
  await off.waitForSelector('[data-test=project-page][data-status=approved]')

  // Offline, the officer starts it; meanwhile the administrator cancels it.
  // (The network is cut before the move, so nothing of it leaves the phone
  // until it is back.)
  await offCtx.setOffline(true)
  await off.click('[data-test=project-move-in_progress]')
  await off.waitForSelector('[data-test=project-page][data-status=in_progress]')
  await adm.click(`${card} [data-test=move-cancelled]`)
  await adm.waitForSelector('[data-test=modal]')
  await adm.fill('[data-test=prompt-text]', third.reason)
  await adm.click('[data-test=modal-ok]')
  await adm.waitForFunction((sel) => !document.querySelector(`[data-test=board-col][data-status=approved] ${sel}`), card)
  assert.equal((await admin.call(`/v1/projects/${ids.third}`)).body.record.fields.status, 'cancelled')

  // Online: the administrator's later decision stands; the phone's 推进中 is
  // kept as a conflict, which says why it cannot be chosen and what can.
  await offCtx.setOffline(false)
  await syncNow(off)
  const d = (await admin.call(`/v1/projects/${ids.third}`)).body
  assert.equal(d.record.fields.status, 'cancelled')
  assert.ok(d.record.conflicts?.some((c) => c.field === 'status' && c.value === 'in_progress'), `the server keeps the phone's 推进中 as a conflict: ${JSON.stringify(d.record.conflicts)}`)
  console.log('  conflicts kept:', JSON.stringify(d.record.conflicts.map((c) => c.field)))
  await off.goto('/review')
  const f = '[data-test=conflict-field][data-field=status]'
  await off.waitForSelector(f)
  const mine = off.locator(`${f} [data-test=conflict-value][data-mine=yes]`)
  assert.match(await mine.locator('[data-test=conflict-shown]').textContent(), /推进中/)
  assert.ok(await mine.locator('[data-test=keep-value]').isDisabled(), 'a value the rules refuse cannot be chosen')
  const why = await mine.locator('[data-test=conflict-refused]').textContent()
  assert.match(why, /实事项目不能从“已取消”改为“推进中”/)
  assert.match(why, /可以选择：已取消/)
  // The console's writes are the server's: their writer reads as an
  // administrator (console), never as an id.
  assert.match(await off.locator(`${f} [data-test=conflict-value][data-current=yes] [data-test=conflict-by]`).textContent(), /管理员/)
  await see(off, '30-22-conflict-refused-value', f)

  // The officer keeps the administrator's decision (and its time, which
  // the two moves also wrote concurrently): settled everywhere.
  await off.locator(`${f} [data-test=conflict-value][data-current=yes] [data-test=keep-value]`).click()
  for (let n = 0; n < 5 && await off.locator('[data-test=conflict-field]').count(); n++) {
    await off.locator('[data-test=conflict-field]').first().locator('[data-test=conflict-value][data-current=yes] [data-test=keep-value]').click()
    await off.waitForTimeout(200)
  }
  assert.equal(await off.locator('[data-test=conflict-field]').count(), 0, 'nothing left to settle on the phone')
  await syncNow(off)
  await off.waitForSelector('[data-test=sync-status][data-state=caught-up]')
  const after = (await admin.call(`/v1/projects/${ids.third}`)).body
  assert.equal(after.record.fields.status, 'cancelled')
  assert.ok(!after.record.conflicts?.length, `no conflict left: ${JSON.stringify(after.record.conflicts)}`)
  await see(off, '30-23-conflict-settled')
})
