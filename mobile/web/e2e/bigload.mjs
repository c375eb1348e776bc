// The console's overview with a large store (TestConsoleOverviewLoad seeds
// 100,000 visits in 2,000 pairings): the time from navigation to the
// figures on screen, in Chromium at 1440×900: cold (the server's first
// report, which builds its ledger) and warm (the median of five page loads).
// It prints the figures; it asserts only that the figures are the API's.
import assert from 'node:assert/strict'
import { launch, newPage, shot, api, cnMonth, addMonths, PASSWORD, URL } from './lib.mjs'

const ADMIN = process.env.PAIRSYNC_CONSOLE_ADMIN || 'adminRoot'
const VISITS = Number(process.env.PAIRSYNC_BIG_VISITS || 0)
const TO = cnMonth()
const FROM = addMonths(TO, -11)

const browser = await launch()
try {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', baseURL: URL })
  ctx.setDefaultTimeout(120_000)
  const page = await newPage(ctx)
  await page.goto('/console/login')
  await page.fill('[data-test=username]', ADMIN)
  await page.fill('[data-test=password]', PASSWORD)
  // Cold: the first report after the server started builds its ledger
  // from the stored feeds; measured from the click on 登录 to the figures.
  const clickAt = await page.evaluate(() => performance.now())
  await page.click('[data-test=sign-in]')
  await page.waitForSelector('[data-test=overview][data-ready="1"] [data-test=figure]')
  await page.waitForFunction(() => window.pairsyncConsole && window.pairsyncConsole.figuresAt)
  const cold = await page.evaluate((t0) => window.pairsyncConsole.figuresAt - t0, clickAt)
  // Warm: a full page load of the overview (the app, then the report),
  // from navigation start.
  const loads = []
  for (let i = 0; i < 5; i++) {
    await page.goto(`/console/overview?from=${FROM}&to=${TO}`)
    await page.waitForSelector(`[data-test=overview][data-loaded="|${FROM}|${TO}"] [data-test=figure]`)
    await page.waitForFunction(() => window.pairsyncConsole && window.pairsyncConsole.figuresAt && window.pairsyncConsole.overviewAt)
    loads.push(await page.evaluate(() => ({ figures: window.pairsyncConsole.figuresAt, all: window.pairsyncConsole.overviewAt })))
  }
  const call = await api(ADMIN)
  const ov = await call('GET', `/v1/reports/overview?from=${FROM}&to=${TO}`)
  const dom = await page.$eval('[data-figure=visits]', (e) => Number(e.dataset.value))
  assert.equal(dom, ov.figures.visits)
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  console.log(`overview with ${VISITS} visits stored (${ov.figures.pairings} pairings; ${ov.figures.visits} visits in ${FROM}…${TO}):`)
  console.log(`  first report after start (cold ledger): figures on screen ${cold.toFixed(0)} ms after the click on 登录`)
  console.log(`  page load, median of ${loads.length}: figures on screen ${med(loads.map((l) => l.figures)).toFixed(0)} ms after navigation start, charts and rankings ${med(loads.map((l) => l.all)).toFixed(0)} ms`)
  await shot(page, 'console-18-overview-100k.png')
} finally {
  await browser.close()
}
