// Being told (notifications), through the screens: officer A, to whom the
// administrator dispatched an issue in 20-fieldwork, sees 消息 with an
// unread badge on the home screen, opens 消息 with the network off (the
// phone's own copy) and the message and lands on the issue; the read made
// offline reaches the server at the next sync;
// 我的 → 通知设置 shows the channels (in-app always on) and the quiet hours;
// the administrator's console lists the notification by the person's name,
// the event in words, the channel and its state, and resends it. The API is
// used only to read back.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { launch, phone, newPage, controlled, syncNow, URL } from '../lib.mjs'
import { loadState } from './state.mjs'
import { see, signInPhone, openConsole } from './people.mjs'

const st = loadState()
const noPeople = !st.people?.officerA || !st.people?.admin ? 'no people in the state file yet: 10-firstday makes them' : false
const A = st.people?.officerA
const admin = st.people?.admin
let browser

after(async () => { if (browser) await browser.close() })

// readerOf signs who in over REST (no device) to read back what the
// server holds.
async function readerOf(who) {
  const r = await fetch(URL + '/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: who.username, password: who.password }) })
  if (!r.ok) throw new Error(`login ${who.username}: ${r.status} ${await r.text()}`)
  const { access_token: token } = await r.json()
  return async (method, path) => {
    const resp = await fetch(URL + path, { method, headers: { Authorization: 'Bearer ' + token } })
    if (!resp.ok) throw new Error(`${method} ${path}: ${resp.status} ${await resp.text()}`)
    return resp.json()
  }
}

test('officer A reads the dispatch in 消息, opens the issue, sees the settings; the console lists it by name and resends it', { skip: noPeople }, async () => {
  browser = await launch()
  const ctx = await phone(browser)
  const page = await newPage(ctx)
  await signInPhone(page, A)
  await controlled(page)
  await page.waitForSelector('[data-test=to-messages] [data-test=unread-badge]')
  await see(page, '70-01-home-unread')

  // Offline, 消息 is the phone's own copy, kept at the sync: the message
  // shows, and opening it marks it read on the phone.
  await ctx.setOffline(true)
  await page.reload()
  await page.waitForSelector('[data-test=sync-status][data-state=offline]')
  await page.waitForSelector('[data-test=to-messages] [data-test=unread-badge]')
  await page.click('[data-test=to-messages]')
  const first = page.locator('[data-test=message][data-read=no]', { hasText: '已交办给您' }).first()
  await first.waitFor()
  assert.equal(await page.$('[data-test=messages-error]'), null, 'an error shown offline')
  await see(page, '70-02-messages-offline')
  const subject = await first.getAttribute('data-subject')
  assert.match(subject, /^issues\//, 'the dispatch message opens an issue')
  await first.click()
  await page.waitForURL('**/' + subject)
  await page.waitForSelector('[data-test=issue-page]')
  await page.goto('/messages')
  await page.waitForSelector(`[data-test=message][data-subject="${subject}"][data-read=yes]`)
  const onServer = async () => (await readerOf(A))('GET', '/v1/me/messages?limit=100').then((a) => a.messages.find((m) => m.subject === subject && !m.read_at) ? 'unread' : 'read')
  assert.equal(await onServer(), 'unread', 'read on the server while the phone was offline')

  // Online again: the sync tells the server.
  await ctx.setOffline(false)
  assert.equal(await syncNow(page), 'caught-up')
  assert.equal(await onServer(), 'read', 'the read made offline did not reach the server')
  await page.goto('/messages')
  await page.waitForSelector(`[data-test=message][data-subject="${subject}"][data-read=yes]`)

  await page.goto('/account')
  await page.click('[data-test=to-notify-settings]')
  await page.waitForSelector('[data-test=notify-channel][data-channel=inapp]')
  assert.ok(await page.locator('[data-test=notify-switch][data-channel=inapp].van-switch--disabled').count(), 'in-app messages cannot be turned off')
  assert.match(await page.textContent('[data-test=notify-quiet]'), /22:00–07:00/)
  await see(page, '70-03-notify-settings')

  // The administrator's 通知记录: names, words, no ids.
  const pc = await openConsole(browser, admin)
  pc.on('dialog', (d) => d.accept())
  await pc.goto('/console/notifications')
  // The dispatch went to A on every configured channel (the journeys'
  // server has the webhook too): the in-app one is read here.
  const row = pc.locator('[data-test=notification-row]', { hasText: A.name }).filter({ hasText: '诉求交办' })
    .filter({ has: pc.locator('[data-test=n-channel]', { hasText: '站内消息' }) }).first()
  await row.waitFor()
  assert.equal((await row.locator('[data-test=n-channel]').textContent()).trim(), '站内消息')
  await pc.waitForFunction(() => [...document.querySelectorAll('[data-test=n-state]')].some((e) => e.textContent.includes('已发送')), null, { timeout: 30_000 })
  for (const to of await pc.locator('[data-test=n-to]').allTextContents()) {
    assert.doesNotMatch(to, /^u-|^[0-9a-f-]{16,}$/, `a recipient shown as an id: ${to}`)
  }
  await see(pc, '70-04-console-notifications')
  const sent = pc.locator('[data-test=notification-row][data-state=sent]', { hasText: A.name }).first()
  await sent.locator('[data-test=n-resend]').click()
  await pc.waitForSelector('[data-test=notification-row][data-state=pending]')
  await pc.goto('/console/messages')
  await pc.waitForSelector('[data-test=console-messages]')
  await see(pc, '70-05-console-messages')
  await pc.context().close()
})

test('officer A switches the app to English: the choice is kept on the person (their notifications follow it), and back', { skip: noPeople }, async () => {
  const ctx = await phone(browser)
  const page = await newPage(ctx)
  await signInPhone(page, A)
  const me = async () => (await readerOf(A))('GET', '/v1/me')
  assert.equal((await me()).language, undefined, 'a person is written to in Chinese until they choose')
  await page.goto('/account')
  const kept = () => page.waitForResponse((r) => new globalThis.URL(r.url()).pathname === '/v1/me' && r.request().method() === 'PATCH')
  let patched = kept()
  await page.click('[data-test=lang-switch]')
  assert.equal((await patched).status(), 200)
  assert.equal((await me()).language, 'en', 'the language chosen on the phone did not reach the server')
  patched = kept()
  await page.click('[data-test=lang-switch]')
  assert.equal((await patched).status(), 200)
  assert.equal((await me()).language, undefined, 'back to Chinese, the default')
  await ctx.close()
})
