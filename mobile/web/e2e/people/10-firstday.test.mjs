// The first day, from an EMPTY server (TestPeopleJourneys starts pairsyncd
// on a new data directory), every step a person does done through the
// screens; the test calls the API only to read back and assert:
//  1. the administrator opens /console (1366×768), signs in as admin with
//     the password the server printed, is told to change it (the console
//     takes them to 账号 with the banner) and changes it there;
//  2. builds the org tree (renames the root, adds a department under it and
//     a branch under the department), a counterparty (an enterprise with a
//     valid 统一社会信用代码), three users (two officers with phone numbers,
//     the counterparty's contact; each one's activation link and QR read
//     from the screen) and a pairing (branch ↔ counterparty, both officers
//     with one primary, the contact);
//  3. each of the three opens their link in a FRESH browser context at
//     360×640 (no service worker yet), sees their name, role and unit,
//     chooses a password (twice, the rules shown first) and lands signed in
//     on the home screen with the pairing;
//  4. the contact signs out from 我的 and back in with user name + new
//     password (no code);
//  5. officer B signs in again with the phone number, records an issue
//     offline; the administrator presses 重置密码: the old password no
//     longer works, the new code typed under 使用激活码 shows officer B
//     (without using it), and the new link on officer B's own phone (signed in
//     first with the phone number, now activated by user name) signs in
//     without "此设备上还有其他账号未同步的记录" and the pending issue syncs;
//  6. officer B changes the password in 我的 on a second phone (which keeps
//     working); on the first phone (signed in by phone number, an issue
//     unsynced) signing in again with the user name and the new password
//     is not refused as another account's, and the issue syncs.
// shots() and assertPeopleWords() run on every screen passed. What the
// people chose is saved for the later journeys (state.mjs).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { launch, phone, newPage, syncNow, controlled, shots, assertPeopleWords, URL } from '../lib.mjs'
import { saveState, PRINTED_PASSWORD } from './state.mjs'
import { phoneSignInHere } from './people.mjs'

// What the people choose on the first day.
const ORG = { root: '市委机关工委', department: '市税务局', branch: '市税务局机关第一党支部' }
const CP = { name: '南京星河电梯有限公司', creditCode: creditCode('91320100134912345'), industry: '电梯制造' }
const PAIRING_NAME = '税务局一支部 ↔ 星河电梯'
const people = {
  admin: { username: 'admin', password: '管理员的新密码-2026', name: '' },
  officerA: { username: 'zhangwei', password: '张伟的密码-road-1', name: '张伟', phone: '13800000001', role: 'officer' },
  officerB: { username: 'lina', password: '李娜的密码-lake-2', name: '李娜', phone: '13800000002', role: 'officer' },
  contact: { username: 'chenjl', password: '陈经理的密码-hill-3', name: '陈经理', phone: '13900000001', role: 'contact' },
}

// creditCode completes 17 characters with the GB 32100 check character
// (server/pairing/creditcode.go has the rule).
function creditCode(first17) {
  const alphabet = '0123456789ABCDEFGHJKLMNPQRTUWXY'
  const w = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
  let sum = 0
  for (let i = 0; i < 17; i++) sum += alphabet.indexOf(first17[i]) * w[i]
  return first17 + alphabet[(31 - (sum % 31)) % 31]
}

let browser, consoleCtx, adm
const links = {}
const phones = {}

before(async () => {
  assert.ok(PRINTED_PASSWORD, 'PAIRSYNC_PRINTED_PASSWORD is empty: the server printed no first password (the data dir was not empty?)')
  browser = await launch()
  consoleCtx = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', baseURL: URL })
  consoleCtx.setDefaultTimeout(45_000)
  adm = await newPage(consoleCtx)
  adm.on('dialog', (d) => d.accept())
  adm.on('response', async (r) => { if (r.status() >= 500) console.log('  [server error]', r.status(), r.url(), await r.text().catch(() => '')) })
})
after(async () => { await browser?.close() })

// look saves the screen at both sizes and fails on an id, a code or an
// English sentence a person would see.
async function look(page, name) {
  await shots(page, name)
  await assertPeopleWords(page, name)
}

// read signs in over REST to read back (never to act).
async function reader(username, password) {
  const r = await fetch(URL + '/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }) })
  if (!r.ok) throw new Error(`login ${username}: ${r.status} ${await r.text()}`)
  const tr = await r.json()
  const get = async (path) => {
    const resp = await fetch(URL + path, { headers: { Authorization: 'Bearer ' + tr.access_token } })
    if (!resp.ok) throw new Error(`GET ${path}: ${resp.status} ${await resp.text()}`)
    return resp.json()
  }
  return { user: tr.user, get }
}

async function loginStatus(username, password) {
  const r = await fetch(URL + '/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }) })
  return r.status
}

// pick chooses, in a <select>, the option a person reads as text.
async function pick(page, sel, text) {
  const value = await page.$eval(sel, (s, want) => [...s.options].find((o) => o.textContent.trim() === want)?.value, text)
  assert.ok(value !== undefined, `${sel} offers no option "${text}"`)
  await page.selectOption(sel, value)
}

async function modalOK(page) {
  await page.click('[data-test=modal] [data-test=modal-ok]')
  await page.waitForSelector('[data-test=modal]', { state: 'detached' })
}

test('1. the administrator signs in with the printed password and changes it', async () => {
  await adm.goto('/console')
  await adm.waitForSelector('[data-test=console-login]')
  await look(adm, 'firstday-01-console-login')
  await adm.fill('[data-test=console-login] [data-test=username]', 'admin')
  await adm.fill('[data-test=console-login] [data-test=password]', PRINTED_PASSWORD)
  await adm.click('[data-test=console-login] [data-test=sign-in]')
  // Told to change it: the account screen, with the banner.
  await adm.waitForSelector('[data-test=console-account] [data-test=account-must-change]')
  // The console wears the app's theme: its top bar is the theme red with
  // white words, and primary buttons are red (a console without the shared
  // stylesheet showed white words on white, and invisible 交办 buttons).
  const theme = await adm.evaluate(() => {
    const top = getComputedStyle(document.querySelector('.c-top'))
    return { bar: top.backgroundColor, words: top.color, font: getComputedStyle(document.body).fontFamily }
  })
  assert.equal(theme.bar, 'rgb(200, 22, 29)', `the console's top bar: ${JSON.stringify(theme)}`)
  assert.equal(theme.words, 'rgb(255, 255, 255)', `the console's top bar words: ${JSON.stringify(theme)}`)
  assert.ok(!/^\s*(serif|"?Times)/i.test(theme.font), `the console's font: ${theme.font}`)
  assert.match(await adm.textContent('[data-test=account-must-change]'), /初始密码/)
  assert.match(await adm.textContent('[data-test=pw-rules]'), /8–128 个字符/)
  people.admin.name = (await adm.textContent('[data-test=me-name]')).trim()
  assert.equal((await adm.textContent('[data-test=me-role]')).trim(), '管理员')
  await look(adm, 'firstday-02-console-must-change')

  // A mismatch is caught before anything is sent.
  await adm.fill('[data-test=old-password]', PRINTED_PASSWORD)
  await adm.fill('[data-test=new-password]', people.admin.password)
  await adm.fill('[data-test=repeat-password]', people.admin.password + 'x')
  await adm.click('[data-test=change-password]')
  assert.match(await adm.textContent('[data-test=password-error]'), /两次输入的密码不一致/)
  await adm.fill('[data-test=repeat-password]', people.admin.password)
  await adm.click('[data-test=change-password]')
  await adm.waitForSelector('[data-test=password-changed]')
  await adm.waitForSelector('[data-test=account-must-change]', { state: 'detached' })
  await look(adm, 'firstday-03-console-password-changed')

  // Read back: the printed password is dead, the new one works, no prompt.
  assert.equal(await loginStatus('admin', PRINTED_PASSWORD), 401)
  const me = await reader('admin', people.admin.password)
  assert.ok(!me.user.must_change_password, 'must_change_password still set after the change')
  // The console keeps working on its new tokens.
  await adm.click('[data-test=nav-overview]')
  await adm.waitForSelector('[data-test=must-change]', { state: 'detached', timeout: 5000 }).catch(() => {})
  assert.equal(await adm.$('[data-test=must-change]'), null, 'the banner is still shown after the change')
})

test('2. org units, a counterparty, three users and a pairing, in the console', async () => {
  // Org units: rename the root, a department below it, a branch below that.
  await adm.click('[data-test=nav-org-units]')
  await adm.waitForSelector('[data-test=org-units] [data-test=unit-row]')
  await adm.click('[data-test=unit-row]:first-child [data-test=unit-edit]')
  await adm.fill('[data-test=unit-name]', ORG.root)
  await modalOK(adm)
  await adm.waitForSelector(`[data-test=unit-row]:has-text("${ORG.root}")`)
  await adm.click(`[data-test=unit-row]:has-text("${ORG.root}") [data-test=unit-add]`)
  await adm.fill('[data-test=unit-name]', ORG.department)
  await adm.selectOption('[data-test=unit-kind]', 'department')
  await look(adm, 'firstday-04-console-unit-add')
  await modalOK(adm)
  await adm.waitForSelector(`[data-test=unit-row]:has-text("${ORG.department}")`)
  await adm.click(`[data-test=unit-row]:has-text("${ORG.department}") [data-test=unit-add]`)
  await adm.fill('[data-test=unit-name]', ORG.branch)
  await adm.selectOption('[data-test=unit-kind]', 'branch')
  await modalOK(adm)
  await adm.waitForSelector(`[data-test=unit-row]:has-text("${ORG.branch}")`)
  await look(adm, 'firstday-05-console-org-units')

  // The counterparty.
  await adm.click('[data-test=nav-counterparties]')
  await adm.click('[data-test=cp-new]')
  await adm.selectOption('[data-test=cp-kind]', 'enterprise')
  await adm.fill('[data-test=cp-name]', CP.name)
  await adm.fill('[data-test=cp-code]', CP.creditCode)
  await pick(adm, '[data-test=cp-unit]', ORG.branch)
  await adm.fill('[data-test=modal] label:has-text("行业") input', CP.industry)
  await look(adm, 'firstday-06-console-counterparty-new')
  await modalOK(adm)
  await adm.waitForSelector(`[data-test=cp-row]:has-text("${CP.name}")`)
  await look(adm, 'firstday-07-console-counterparties')

  // Three users; each one's activation link is read from the screen.
  await adm.click('[data-test=nav-users]')
  await adm.waitForSelector('[data-test=users] [data-test=user-row]')
  for (const key of ['officerA', 'officerB', 'contact']) {
    const p = people[key]
    await adm.click('[data-test=user-new]')
    await adm.fill('[data-test=uf-username]', p.username)
    await adm.fill('[data-test=uf-name]', p.name)
    await adm.fill('[data-test=uf-phone]', p.phone)
    await adm.selectOption('[data-test=uf-role]', p.role)
    await pick(adm, '[data-test=uf-unit]', ORG.branch)
    if (p.role === 'contact') {
      // The counterparty is chosen by its name.
      await pick(adm, '[data-test=uf-counterparty]', CP.name)
      await look(adm, 'firstday-08-console-user-new-contact')
    }
    await adm.click('[data-test=modal] [data-test=modal-ok]')
    await adm.waitForSelector('[data-test=activation] [data-test=activation-qr]')
    assert.ok(await adm.$eval('[data-test=activation-qr]', (i) => i.complete && i.naturalWidth > 100), 'the QR image is not shown')
    const shownURL = (await adm.textContent('[data-test=activation-url]')).trim()
    assert.equal(shownURL, await adm.getAttribute('[data-test=activation-url]', 'href'))
    assert.ok(shownURL.startsWith(URL + '/activate#code='), `activation link ${shownURL}`)
    assert.match(await adm.textContent('[data-test=activation]'), new RegExp(p.name))
    links[key] = shownURL
    if (key === 'officerA') await look(adm, 'firstday-09-console-activation')
    await adm.click('[data-test=modal] [data-test=modal-ok]')
    await adm.waitForSelector(`[data-test=user-row][data-username="${p.username}"]`)
  }
  await look(adm, 'firstday-10-console-users')

  // The pairing: the branch ↔ the counterparty, both officers (张伟 primary)
  // and the contact.
  await adm.click('[data-test=nav-pairing-admin]')
  await adm.click('[data-test=pairing-new]')
  await adm.fill('[data-test=pf-name]', PAIRING_NAME)
  await adm.selectOption('[data-test=pf-status]', 'active')
  const branchValue = await adm.$eval('[data-test=pf-branches]', (s, want) => [...s.options].find((o) => o.textContent.trim() === want)?.value, ORG.branch)
  await adm.selectOption('[data-test=pf-branches]', [branchValue])
  const cpValue = await adm.$eval('[data-test=pf-counterparties]', (s, want) => [...s.options].find((o) => o.textContent.trim() === want)?.value, CP.name)
  await adm.selectOption('[data-test=pf-counterparties]', [cpValue])
  await adm.check(`[data-test=pf-officer-${people.officerA.username}] input[type=checkbox]`)
  await adm.check(`[data-test=pf-officer-${people.officerB.username}] input[type=checkbox]`)
  await adm.check(`[data-test=pf-officer-${people.officerA.username}] [data-test=pf-primary]`)
  await adm.check(`[data-test=pf-contact-${people.contact.username}] input[type=checkbox]`)
  await look(adm, 'firstday-11-console-pairing-new')
  await modalOK(adm)
  await adm.waitForSelector(`[data-test=admin-pairing-row]:has-text("${PAIRING_NAME}")`)
  const row = await adm.textContent(`[data-test=admin-pairing-row]:has-text("${PAIRING_NAME}")`)
  for (const w of [ORG.branch, CP.name, people.officerA.name, people.officerB.name, people.contact.name]) assert.ok(row.includes(w), `pairing row "${row}" lacks ${w}`)
  await look(adm, 'firstday-12-console-pairings')

  // Read back.
  const a = await reader('admin', people.admin.password)
  const { pairings } = await a.get('/v1/pairings')
  const pr = pairings.find((x) => x.name === PAIRING_NAME)
  assert.ok(pr, 'the pairing is not on the server')
  const { users: list } = await a.get('/v1/users?limit=500')
  const id = (u) => list.find((x) => x.username === u)?.id
  assert.deepEqual(pr.officers, [id(people.officerA.username), id(people.officerB.username)])
  assert.deepEqual(pr.contacts, [id(people.contact.username)])
  assert.equal(pr.status, 'active')
})

// activateOn opens the person's link on a phone, checks whom it shows,
// chooses the password and lands on the home screen with the pairing.
async function activateOn(page, key, link, shotName) {
  const p = people[key]
  await page.goto(link)
  await page.waitForSelector('[data-test=activate-page] [data-test=activation-person]')
  assert.equal((await page.textContent('[data-test=act-name]')).trim(), p.name)
  assert.equal((await page.textContent('[data-test=act-role]')).trim(), p.role === 'contact' ? '企业/社区联系人' : '联络员')
  assert.equal((await page.textContent('[data-test=act-unit]')).trim(), p.role === 'contact' ? CP.name : ORG.branch)
  assert.equal((await page.textContent('[data-test=act-username]')).trim(), p.username)
  assert.match(await page.textContent('[data-test=pw-rules]'), /8–128 个字符/)
  assert.ok(!page.url().includes('code='), 'the code stays in the address bar')
  if (shotName) await look(page, shotName)
  await page.fill('[data-test=new-password] input', p.password)
  await page.fill('[data-test=repeat-password] input', p.password)
  await page.click('[data-test=activate]')
  await page.waitForSelector(`[data-test=home] [data-test=pairing]:has-text("${PAIRING_NAME}")`)
  assert.match(await page.textContent('[data-test=to-account]'), new RegExp(p.name))
}

test('3. the officers and the contact activate on fresh phones', async () => {
  for (const key of ['officerA', 'officerB', 'contact']) {
    const ctx = await phone(browser)
    const page = await newPage(ctx)
    phones[key] = { ctx, page }
    assert.equal(await page.evaluate(() => navigator.serviceWorker?.controller ?? null).catch(() => null), null)
    await activateOn(page, key, links[key], key === 'officerA' ? 'firstday-13-phone-activate' : key === 'contact' ? 'firstday-14-phone-activate-contact' : '')
    if (key !== 'officerB') await look(page, `firstday-15-phone-home-${key}`)
    assert.equal(await syncNow(page), 'caught-up')
  }
  // Read back: activated, with one device each; the code is used.
  const a = await reader('admin', people.admin.password)
  const { users: list } = await a.get('/v1/users?limit=500')
  for (const key of ['officerA', 'officerB', 'contact']) {
    const u = list.find((x) => x.username === people[key].username)
    assert.ok(u.activated, `${key} is not activated`)
    const { devices } = await a.get('/v1/devices?user=' + u.id)
    assert.equal(devices.length, 1, `${key} has ${devices.length} devices, want 1`)
  }
  const used = await fetch(URL + '/v1/auth/activation-info', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code: links.officerA.split('code=')[1] }) })
  assert.equal(used.status, 400, 'a used code still answers')
  // A used link opened again says so, in words, with what to do.
  const again = await newPage(phones.contact.ctx)
  await again.goto(links.officerA)
  await again.waitForSelector('[data-test=activate-error]')
  assert.match(await again.textContent('[data-test=activate-error]'), /无效或已过期.*联系管理员/)
  await look(again, 'firstday-16-phone-activate-used-code')
  await again.close()
})

test('4. the contact signs out in 我的 and back in with user name and password', async () => {
  const { page } = phones.contact
  await page.click('[data-test=to-account]')
  await page.waitForSelector('[data-test=account-page] [data-test=account-me]')
  assert.equal((await page.textContent('[data-test=me-name] .van-cell__value')).trim(), people.contact.name)
  assert.equal((await page.textContent('[data-test=me-role] .van-cell__value')).trim(), '企业/社区联系人')
  await page.waitForSelector(`[data-test=me-counterparty]:has-text("${CP.name}")`)
  await look(page, 'firstday-17-phone-account')
  await page.click('[data-test=account-sign-out]')
  await phoneSignInHere(page, people.contact, (p) => look(p, 'firstday-18-phone-login'))
  await page.waitForSelector(`[data-test=home] [data-test=pairing]:has-text("${PAIRING_NAME}")`)
})

// raiseIssueOffline raises an issue on the phone with the network off and
// returns its title; it stays pending.
async function raiseIssueOffline(ctx, page, title) {
  await ctx.setOffline(true)
  await page.waitForSelector('[data-test=sync-status][data-state=offline]')
  await page.click(`[data-test=home] [data-test=pairing]:has-text("${PAIRING_NAME}")`)
  await page.click('.van-tabs__nav .van-tab:has-text("诉求")')
  await page.click('[data-test=new-issue]')
  await page.fill('[data-test=issue-title] input', title)
  await page.click('[data-test=issue-save]')
  await page.waitForSelector(`[data-test=issue]:has-text("${title}")`)
  await page.goto('/')
  await page.waitForSelector('[data-test=home] [data-test=pairing-pending]')
}

test('5. a reset: the old password stops working, the new link works on the same phone', async () => {
  const { ctx, page } = phones.officerB
  await controlled(page)
  // Officer B signs in with the phone number this time…
  await page.click('[data-test=to-account]')
  await page.click('[data-test=account-sign-out]')
  await phoneSignInHere(page, { username: people.officerB.phone, password: people.officerB.password })
  await page.waitForSelector(`[data-test=home] [data-test=pairing]:has-text("${PAIRING_NAME}")`)
  // …and records an issue offline.
  await raiseIssueOffline(ctx, page, '电梯出口退税进度咨询')

  // The administrator resets officer B's password.
  await adm.click('[data-test=nav-users]')
  await adm.click(`[data-test=user-row][data-username="${people.officerB.username}"] [data-test=user-reset]`)
  await adm.waitForSelector('[data-test=activation] [data-test=activation-qr]')
  const link = (await adm.textContent('[data-test=activation-url]')).trim()
  assert.notEqual(link, links.officerB)
  const printed = (await adm.textContent('[data-test=activation-code]')).trim() // as on the printed sheet
  await look(adm, 'firstday-19-console-reset')
  await adm.click('[data-test=modal] [data-test=modal-ok]')

  // The old password no longer works (on a phone's sign-in screen).
  const other = await phone(browser)
  const op = await newPage(other)
  await op.goto('/login')
  await op.fill('[data-test=username] input', people.officerB.username)
  await op.fill('[data-test=password] input', people.officerB.password)
  await op.click('[data-test=sign-in]')
  await op.waitForSelector('[data-test=login-error]')
  assert.match(await op.textContent('[data-test=login-error]'), /用户名或密码不正确/)
  await look(op, 'firstday-20-phone-old-password')
  // 使用激活码: the code typed by hand shows whom it is for (and is not
  // used by looking).
  await op.click('[data-test=use-code]')
  await op.waitForSelector('[data-test=activate-page] [data-test=code] input')
  await op.fill('[data-test=code] input', printed.toLowerCase())
  await op.click('[data-test=check-code]')
  await op.waitForSelector('[data-test=activation-person]')
  assert.equal((await op.textContent('[data-test=act-name]')).trim(), people.officerB.name)
  assert.equal((await op.textContent('[data-test=act-unit]')).trim(), ORG.branch)
  await look(op, 'firstday-20b-phone-typed-code')
  await op.goto('/login')
  phones.officerB2 = { ctx: other, page: op }

  // The new link, on officer B's own phone (signed in with the phone
  // number, holding an unsynced issue): activated by user name, the same
  // person, so nothing is blocked and the issue syncs.
  // Sync stays out of reach until the person is signed in, so the issue is
  // still unsynced then (the old tokens could push it otherwise).
  await page.route('**/v1/sync/**', (r) => r.abort('connectionrefused'))
  await ctx.setOffline(false)
  people.officerB.password = '李娜重置后的密码-4'
  await activateOn(page, 'officerB', link, 'firstday-21-phone-activate-reset')
  assert.equal(await page.$('[data-test=activate-error]'), null)
  assert.equal(await page.evaluate(() => window.pairsync.state.pending), 1, 'the issue is no longer pending before the sync')
  await page.unroute('**/v1/sync/**')
  assert.equal(await syncNow(page), 'caught-up')
  const b = await reader(people.officerB.username, people.officerB.password)
  const { issues } = await b.get('/v1/issues?limit=100')
  assert.ok(issues.some((i) => i.title === '电梯出口退税进度咨询'), 'the issue recorded before the reset did not reach the server')
  assert.equal(await loginStatus(people.officerB.username, '李娜的密码-lake-2'), 401)
})

test('6. officer B changes the password on a second phone; the first signs in again by user name', async () => {
  const { ctx, page } = phones.officerB
  await raiseIssueOffline(ctx, page, '申请政策宣讲')
  await page.route('**/v1/sync/**', (r) => r.abort('connectionrefused'))
  await ctx.setOffline(false)

  const { page: op } = phones.officerB2
  await op.fill('[data-test=username] input', people.officerB.username)
  await op.fill('[data-test=password] input', people.officerB.password)
  await op.click('[data-test=sign-in]')
  await op.waitForSelector('[data-test=home] [data-test=to-account]')
  await op.click('[data-test=to-account]')
  await op.waitForSelector('[data-test=account-page] [data-test=pw-rules]')
  const newest = '李娜自己改的密码-5'
  await op.fill('[data-test=old-password] input', people.officerB.password)
  await op.fill('[data-test=new-password] input', newest)
  await op.fill('[data-test=repeat-password] input', newest)
  await op.click('[data-test=change-password]')
  await op.waitForSelector('[data-test=password-changed]')
  await look(op, 'firstday-22-phone-password-changed')
  people.officerB.password = newest
  // The second phone keeps working on its new tokens.
  await op.goto('/')
  await op.waitForSelector('[data-test=home]')
  assert.equal(await syncNow(op), 'caught-up')

  // The first phone's sign-in ends with the change (at its next refresh:
  // its access token may live on for up to 10 minutes, SECURITY.md 2), and
  // the person signs in again on the sign-in screen (the one the sync bar's
  // 登录 opens) with the user name — the device was signed in by phone
  // number before — keeping and syncing its unsynced issue.
  await page.goto('/login')
  await phoneSignInHere(page, { username: people.officerB.username, password: newest })
  await page.waitForSelector(`[data-test=home] [data-test=pairing]:has-text("${PAIRING_NAME}")`)
  assert.equal(await page.$('[data-test=login-error]'), null)
  assert.equal(await page.evaluate(() => window.pairsync.state.pending), 1, 'the issue is no longer pending before the sync')
  await page.unroute('**/v1/sync/**')
  assert.equal(await syncNow(page), 'caught-up')
  const b = await reader(people.officerB.username, newest)
  const { issues } = await b.get('/v1/issues?limit=100')
  assert.ok(issues.some((i) => i.title === '申请政策宣讲'), 'the issue recorded before signing in again did not reach the server')
})

test('7. what the people chose is saved for the later journeys', async () => {
  const strip = ({ username, password, name, phone }) => (phone ? { username, password, name, phone } : { username, password, name })
  saveState({
    people: Object.fromEntries(Object.entries(people).map(([k, p]) => [k, strip(p)])),
    orgUnits: { ...ORG },
    counterparty: { name: CP.name, creditCode: CP.creditCode },
    pairing: { name: PAIRING_NAME },
  })
  // Every one of them signs in with what was saved.
  for (const p of Object.values(people)) assert.equal(await loginStatus(p.username, p.password), 200, `${p.username} cannot sign in with the saved password`)
})

test('8. too many wrong passwords: the sign-in screen says how long to wait', async () => {
  // An account nobody has, so no person of the later journeys is throttled.
  const ctx = await phone(browser)
  const page = await newPage(ctx)
  await page.goto('/login')
  let last
  for (let i = 0; i < 4; i++) {
    await page.fill('[data-test=username] input', 'nobody-here')
    await page.fill('[data-test=password] input', 'wrong-password-' + i)
    const answer = page.waitForResponse((r) => r.url().endsWith('/v1/auth/login'))
    await page.click('[data-test=sign-in]')
    const status = (await answer).status()
    await page.waitForFunction((want) => document.querySelector('[data-test=login-error]')?.textContent.includes(want), status === 429 ? '分钟' : '不正确')
    last = await page.textContent('[data-test=login-error]')
  }
  assert.match(last, /尝试次数过多，请在 \d+ 分钟后再试/)
  await look(page, 'firstday-23-phone-too-many')
  await ctx.close()
})
