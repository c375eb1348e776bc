// What the people's journeys do alike: look at a screen as a person would
// (screenshots at both sizes, no ids, codes or English), sign a person in
// on a phone's sign-in screen, open the console at a desk's size and sign
// an administrator in, and read back over REST what people did.
import assert from 'node:assert/strict'
import { newPage, syncNow, shots, assertPeopleWords, URL } from '../lib.mjs'

export async function see(page, name) {
  await shots(page, name)
  await assertPeopleWords(page, name)
}

// signInPhone signs who in on the phone's sign-in screen and waits for the
// home screen with its pairings, synced. look, when given, looks at the
// sign-in screen first.
export async function signInPhone(page, who, look) {
  await page.goto('/')
  await phoneSignInHere(page, who, look)
  await page.waitForSelector('[data-test=home] [data-test=pairing]')
  assert.equal(await syncNow(page), 'caught-up')
}

// syncedTodo opens the phone's home, syncs it (caught up) and waits for
// the 待办 item of kind (toSign, toConfirm…) that leads to issue; it returns
// the item's selector.
export async function syncedTodo(page, kind, issue) {
  await page.goto('/')
  await page.waitForSelector('[data-test=home]')
  assert.equal(await syncNow(page), 'caught-up')
  const item = `[data-test=todo-item][data-kind=${kind}][data-to="/issues/${issue}"]`
  await page.waitForSelector(item)
  return item
}

// phoneSignInHere and consoleSignInHere wait for the phone's (the
// console's) sign-in screen on page, let look (when given) look at it, fill
// in who's user name and password and press 登录; where the app goes next
// is the caller's to wait for.
export const phoneSignInHere = (page, who, look) => signInHere(page, who, look,
  { screen: '[data-test=username] input', username: '[data-test=username] input', password: '[data-test=password] input' })
export const consoleSignInHere = (page, who, look) => signInHere(page, who, look,
  { screen: '[data-test=console-login]', username: '[data-test=username]', password: '[data-test=password]' })

async function signInHere(page, who, look, fields) {
  await page.waitForSelector(fields.screen)
  if (look) await look(page)
  await page.fill(fields.username, who.username)
  await page.fill(fields.password, who.password)
  await page.click('[data-test=sign-in]')
}

// reader signs who in over REST (no device), to read back and assert only:
// it returns get(path), the JSON of a GET that must succeed.
export async function reader(who) {
  const r = await fetch(URL + '/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: who.username, password: who.password }) })
  assert.ok(r.ok, `login ${who.username}: ${r.status}`)
  const { access_token: token } = await r.json()
  return async (path) => {
    const resp = await fetch(URL + path, { headers: { Authorization: 'Bearer ' + token } })
    assert.ok(resp.ok, `GET ${path}: ${resp.status} ${await resp.clone().text()}`)
    return resp.json()
  }
}

// openConsole opens the console in a 1366×768 context and signs who in
// (look, when given, looks at the sign-in screen first); it returns the
// page (close its context when done: page.context()).
export async function openConsole(browser, who, look) {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', baseURL: URL })
  ctx.setDefaultTimeout(60_000)
  const pc = await newPage(ctx)
  await pc.goto('/console')
  await consoleSignInHere(pc, who, look)
  await pc.waitForSelector('[data-test=overview][data-ready="1"]')
  return pc
}
