// A lost phone (SECURITY.md 12), through the screens: officer B's phone
// holds the pairing; the administrator revokes B's devices in the console
// (设备); at its next sync the phone is wiped and its sign-in screen says
// why; B signs in again (a new device) and gets the pairing back by sync.
// The API is used only to read back.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { launch, phone, newPage, URL } from '../lib.mjs'
import { loadState } from './state.mjs'
import { see, signInPhone, openConsole } from './people.mjs'

const st = loadState()
const noPeople = !st.people?.officerB || !st.people?.admin || !st.pairing?.name
  ? 'no people in the state file yet: 10-firstday makes them (or run with PAIRSYNC_JOURNEY_FROM=seed)' : false
const B = st.people?.officerB
const admin = st.people?.admin
let browser

after(async () => { if (browser) await browser.close() })

test('a revoked phone is wiped at its next sync and says why; signing in again restores it', { skip: noPeople }, async () => {
  browser = await launch()
  const ctx = await phone(browser)
  const page = await newPage(ctx)
  await signInPhone(page, B)
  await page.locator('[data-test=pairing]', { hasText: st.pairing.name }).first().waitFor()
  await see(page, '60-01-phone-before')

  // The administrator revokes B's devices in the console.
  const pc = await openConsole(browser, admin)
  pc.on('dialog', (d) => d.accept())
  await pc.goto('/console/manage/devices')
  await pc.waitForSelector('[data-test=device-user] option:nth-child(2)', { state: 'attached' })
  // The person picks 李娜 by name in the list.
  const value = await pc.$$eval('[data-test=device-user] option', (os, name) => (os.find((o) => o.textContent.startsWith(name)) || {}).value, B.name)
  assert.ok(value, `the device list offers ${B.name}`)
  await pc.selectOption('[data-test=device-user]', value)
  await pc.waitForSelector('[data-test=device-row]')
  await see(pc, '60-02-console-devices')
  while (await pc.locator('[data-test=revoke]').count()) {
    const n = await pc.locator('[data-test=revoke]').count()
    await pc.locator('[data-test=revoke]').first().click()
    await pc.waitForFunction((n) => document.querySelectorAll('[data-test=revoke]').length < n, n)
  }
  await see(pc, '60-03-console-revoked')

  // The phone's next sync: wiped, back at the sign-in screen, told why.
  await page.evaluate(() => window.pairsync.sync())
  await page.waitForSelector('[data-test=device-revoked]')
  const said = await page.textContent('[data-test=device-revoked]')
  assert.match(said, /停用/)
  await see(page, '60-04-phone-revoked')
  await page.goto('/')
  await page.waitForSelector('[data-test=username] input')
  assert.equal(await page.locator('[data-test=home]').count(), 0, 'the revoked phone no longer opens the home screen')

  // B signs in again on the same phone: a new device, the pairing back by sync.
  await signInPhone(page, B)
  await page.locator('[data-test=pairing]', { hasText: st.pairing.name }).first().waitFor()
  assert.equal(await page.locator('[data-test=device-revoked]').count(), 0)
  await see(page, '60-05-phone-again')

  // Read back: B has one live device now, the new one.
  const r = await fetch(URL + '/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: admin.username, password: admin.password }) })
  const { access_token: tok } = await r.json()
  const users = await (await fetch(URL + '/v1/users?search=' + encodeURIComponent(B.username), { headers: { Authorization: 'Bearer ' + tok } })).json()
  const u = (users.users || users.items || []).find((x) => x.username === B.username)
  assert.ok(u, 'read back: B found')
  const devs = await (await fetch(URL + '/v1/devices?user=' + u.id, { headers: { Authorization: 'Bearer ' + tok } })).json()
  const list = devs.devices || devs.items || devs
  assert.equal(list.filter((d) => !d.revoked_at).length, 1, `B's live devices after signing in again: ${JSON.stringify(list.map((d) => ({ revoked: !!d.revoked_at })))}`)
})
