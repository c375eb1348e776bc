// Helpers of the browser journeys: Debian's Chromium through playwright-core
// (never a downloaded browser), phone-sized contexts, sign-in, sync, the
// server's REST API, screenshots, and photos made on the fly.
import { chromium } from 'playwright-core'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { png } from '../scripts/icons.mjs'

export const URL = process.env.PAIRSYNC_URL
export const PASSWORD = process.env.PAIRSYNC_PASSWORD
export const SHOTS = process.env.PAIRSYNC_SCREENSHOTS || 'e2e/screenshots'
export const users = {
  officerA: process.env.PAIRSYNC_OFFICER_A || 'officerA',
  officerB: process.env.PAIRSYNC_OFFICER_B || 'officerB',
  contact: process.env.PAIRSYNC_CONTACT || 'contactA',
  admin: process.env.PAIRSYNC_ADMIN || 'adminA',
}
export const PAIRING = process.env.PAIRSYNC_PAIRING || 'p1'

// cnMonth is the month (2026-03) of d in China time, as the server counts
// months; addMonths(m, n) the month n after m (n may be negative).
export const cnMonth = (d = new Date()) => new Date(d.getTime() + 8 * 3600e3).toISOString().slice(0, 7)
export function addMonths(m, n) {
  const [y, mm] = m.split('-').map(Number)
  const k = y * 12 + mm - 1 + n
  return `${Math.floor(k / 12)}-${String((k % 12) + 1).padStart(2, '0')}`
}

export async function launch() {
  if (!URL) throw new Error('PAIRSYNC_URL is not set: run these through go test ./mobile/web/ (TestBrowserJourneys)')
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  })
}

// phone opens a 360×640 context (a phone's first screen), with a position.
export async function phone(browser) {
  const ctx = await browser.newContext({
    viewport: { width: 360, height: 640 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    geolocation: { latitude: 32.0603, longitude: 118.7969, accuracy: 12 },
    permissions: ['geolocation'],
    baseURL: URL,
  })
  ctx.setDefaultTimeout(60_000) // generous: CI machines are shared; a real failure still fails, only later
  return ctx
}

export async function newPage(ctx) {
  const page = await ctx.newPage()
  page.on('pageerror', (e) => console.log('  [page error]', e.message))
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log(`  [console ${m.type()}]`, m.text()) })
  return page
}

export async function signIn(page, username) {
  await page.goto('/')
  await page.waitForSelector('[data-test=username] input')
  await page.fill('[data-test=username] input', username)
  await page.fill('[data-test=password] input', PASSWORD)
  await page.click('[data-test=sign-in]')
  await page.waitForSelector('[data-test=home] [data-test=pairing]')
  await syncNow(page)
}

// syncNow runs a sync in the app and waits for it to end. A sync the app
// starts by itself (coming back online, 800 ms after a write, or its minute
// timer) may begin just as this one ends, and a write saved while a sync ran
// waits for the next one; so it syncs until the app is idle and the bar
// shows an outcome that is not "syncing", nor "pending" without an error
// (up to 90 s): then the bar's state is the outcome, not a run still going.
export async function syncNow(page) {
  const deadline = Date.now() + 90_000
  let st
  for (;;) {
    await page.evaluate(async () => {
      const ps = window.pairsync
      await ps.sync()
      for (let i = 0; i < 10 && ps.state.phase !== 'idle'; i++) await ps.sync()
    })
    await page.waitForFunction(() => document.querySelector('[data-test=sync-status]')?.dataset.state !== 'syncing', null, { timeout: Math.max(1000, deadline - Date.now()) }).catch(() => {})
    st = await page.getAttribute('[data-test=sync-status]', 'data-state')
    const settled = st !== 'syncing' && !(st === 'pending' && !(await page.evaluate(() => window.pairsync.state.lastError)))
    if (settled || Date.now() > deadline) break
    await page.waitForTimeout(200)
  }
  if (st !== 'caught-up') {
    const s = await page.evaluate(() => { const s = window.pairsync.state; return { pending: s.pending, photos: s.photosPending, error: s.lastError, rejected: s.rejected.map((r) => r.error) } })
    console.log('  sync state:', st, JSON.stringify(s))
  }
  return st
}

// signAndAnswer signs (签收) the dispatched issue the page shows and answers
// it as resolved (已解决) with note; look, when given, looks at the answer
// before it is sent. It returns once the page shows the issue answered.
export async function signAndAnswer(page, note, look) {
  await page.click('[data-test=issue-sign]')
  await page.waitForSelector('[data-test=issue-page][data-status=signed]')
  await page.click('[data-test=resolution] >> text=已解决')
  await page.fill('[data-test=respond-note] textarea', note)
  if (look) await look(page)
  await page.click('[data-test=respond-submit]')
  await page.waitForSelector('[data-test=issue-page][data-status=responded]')
}

// controlled waits until the service worker controls the page (the app then
// starts offline).
export async function controlled(page) {
  await page.waitForFunction(() => navigator.serviceWorker && navigator.serviceWorker.controller !== null, null, { timeout: 90_000 })
}

// shot saves a screenshot of the screen: its top, or scrolled to show the
// element of selector.
export async function shot(page, name, selector) {
  mkdirSync(SHOTS, { recursive: true })
  if (selector) await page.locator(selector).scrollIntoViewIfNeeded()
  else await page.evaluate(() => window.scrollTo(0, 0))
  await page.screenshot({ path: join(SHOTS, name) })
}

// photo makes a PNG the size of a small phone photo, coloured by seed.
export function photo(seed, w = 1600, h = 1200) {
  const buffer = png(w, h, (x, y) => [(x * 255 / w + seed * 70) & 255, (y * 255 / h) & 255, (seed * 90 + (x ^ y)) & 255, 255])
  return { name: `photo-${seed}.png`, mimeType: 'image/png', buffer }
}

// api signs in over REST (no device) and returns a request function.
export async function api(username) {
  const r = await fetch(URL + '/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password: PASSWORD }) })
  if (!r.ok) throw new Error(`login ${username}: ${r.status} ${await r.text()}`)
  const { access_token: token } = await r.json()
  return async (method, path, body) => {
    const resp = await fetch(URL + path, { method, headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) })
    const text = await resp.text()
    if (!resp.ok) throw new Error(`${method} ${path}: ${resp.status} ${text}`)
    return text ? JSON.parse(text) : null
  }
}

// shots saves the screen at a phone's 360×640 and at a desktop's 1366×768
// (name-360.png, name-1366.png), then puts the phone's size back.
export async function shots(page, name) {
  mkdirSync(SHOTS, { recursive: true })
  const size = page.viewportSize()
  await page.setViewportSize({ width: 360, height: 640 })
  await page.screenshot({ path: join(SHOTS, `${name}-360.png`) })
  await page.setViewportSize({ width: 1366, height: 768 })
  await page.screenshot({ path: join(SHOTS, `${name}-1366.png`) })
  if (size) await page.setViewportSize(size)
}

// People see people and words: on a Chinese screen no id, no wire code and
// no English sentence is visible. visibleText is what a person can read:
// the page's text, inputs' values and placeholders, and titles.
export async function visibleText(page) {
  return page.evaluate(() => {
    const parts = [document.body.innerText]
    for (const el of document.querySelectorAll('input, textarea')) {
      if (el.type === 'hidden' || el.type === 'password') continue
      const r = el.getBoundingClientRect()
      if (r.width === 0 && r.height === 0) continue
      if (el.placeholder) parts.push(el.placeholder)
    }
    for (const el of document.querySelectorAll('[title]')) parts.push(el.getAttribute('title'))
    return parts.join('\n')
  })
}

// Words allowed in Latin letters on a Chinese screen (units, formats, brand
// names a person types or reads as they are).
const LATIN_OK = new Set(['PWA', 'QR', 'Excel', 'xlsx', 'CSV', 'csv', 'ods', 'WPS', 'LibreOffice', 'English', 'OK', 'KB', 'MB', 'GB', 'km', 'px'])

// peopleWordsProblems lists what a person should not see in text: ids
// (uuid-like strings, long hex), wire codes (snake_case words) and English
// sentences (three or more Latin words in a row). Typed user data (names,
// user names like "zhangwei") is single words and passes.
export function peopleWordsProblems(text) {
  const problems = []
  for (const m of text.matchAll(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{20,}\b/gi)) problems.push(`id ${m[0]}`)
  // An id cut short for display ("0192f3a1-7b…") is still an id (web-todo).
  for (const m of text.matchAll(/\b[0-9a-f]{8}-[0-9a-f]{0,4}…/gi)) problems.push(`id ${m[0]}`)
  for (const m of text.matchAll(/\b[a-z]+(?:_[a-z]+)+\b/g)) problems.push(`code ${m[0]}`)
  for (const m of text.matchAll(/[A-Za-z][A-Za-z'’]+(?:[ ,:;.!?-]+[A-Za-z][A-Za-z'’]+){2,}/g)) {
    const words = m[0].split(/[ ,:;.!?-]+/).filter((w) => !LATIN_OK.has(w))
    if (words.length >= 3) problems.push(`English "${m[0]}"`)
  }
  return problems
}

// assertPeopleWords fails when the screen (Chinese UI) shows an id, a code or
// an English sentence; where says which screen, for the message.
export async function assertPeopleWords(page, where) {
  const problems = peopleWordsProblems(await visibleText(page))
  if (problems.length) throw new Error(`${where}: a person would see ${problems.join('; ')}`)
}
