// What the people's journeys do alike: look at a screen as a person would
// (screenshots at both sizes, no ids, codes or English), sign a person in
// on a phone's sign-in screen, open the console at a desk's size and sign
// an administrator in.
import assert from 'node:assert/strict'
import { newPage, syncNow, shots, assertPeopleWords, URL } from '../lib.mjs'

export async function see(page, name) {
  await shots(page, name)
  await assertPeopleWords(page, name)
}

// signInPhone signs who in on the phone's sign-in screen and waits for the
// home screen with its pairings, synced.
export async function signInPhone(page, who) {
  await page.goto('/')
  await page.waitForSelector('[data-test=username] input')
  await page.fill('[data-test=username] input', who.username)
  await page.fill('[data-test=password] input', who.password)
  await page.click('[data-test=sign-in]')
  await page.waitForSelector('[data-test=home] [data-test=pairing]')
  assert.equal(await syncNow(page), 'caught-up')
}

// openConsole opens the console in a 1366×768 context and signs who in;
// it returns the page (close its context when done: page.context()).
export async function openConsole(browser, who) {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', baseURL: URL })
  ctx.setDefaultTimeout(60_000)
  const pc = await newPage(ctx)
  await pc.goto('/console')
  await pc.waitForSelector('[data-test=console-login]')
  await pc.fill('[data-test=username]', who.username)
  await pc.fill('[data-test=password]', who.password)
  await pc.click('[data-test=sign-in]')
  await pc.waitForSelector('[data-test=overview][data-ready="1"]')
  return pc
}
