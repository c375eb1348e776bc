// The details that make the app usable, checked on the officer's phone
// through the screens (signing in with the people of the state file): the
// pending count of the top bar is the sum of the pairings' counts; the sync
// progress total never changes during a sync; the saved toast says what
// happens next (offline: 将在联网时同步; online: 正在同步); touch targets are
// at least 44 px; text meets WCAG AA contrast; every input has a label.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { launch, phone, newPage, shots, assertPeopleWords, photo } from '../lib.mjs'
import { loadState } from './state.mjs'
import { phoneSignInHere, consoleSignInHere } from './people.mjs'

// problems lists, on the current screen, controls smaller than 44 × 44 px,
// text below WCAG AA contrast, and inputs without an accessible name.
async function problems(page) {
  return page.evaluate(() => {
    const out = []
    const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden' }
    const name = (el) => el.getAttribute('data-test') || el.className || el.tagName
    // Touch targets: buttons, radios, selects, inputs, links in the sync bar.
    for (const el of document.querySelectorAll('button, .van-button, .van-radio, select, input:not([type=file]):not([type=hidden]), .syncbar .link')) {
      if (!visible(el)) continue
      const r = el.getBoundingClientRect()
      if (r.height < 44 || (r.width < 44 && !el.matches('input, select'))) out.push(`target ${name(el)} is ${Math.round(r.width)}×${Math.round(r.height)}`)
    }
    // Labels: every form control has an accessible name.
    for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
      if (!visible(el) && el.type !== 'file') continue
      const labelled = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest('label')
      if (!labelled) out.push(`input ${name(el)} has no label`)
    }
    // Contrast: each text node's colour against the first opaque background.
    const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number)
    const lum = ([r, g, b]) => {
      const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4 }
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b)
    }
    const bg = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor)
        if (c.length === 3 || (c.length === 4 && c[3] >= 0.99)) return c.slice(0, 3)
      }
      return [255, 255, 255]
    }
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
    const seen = new Set()
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement
      if (!n.textContent.trim() || !el || seen.has(el) || !visible(el)) continue
      seen.add(el)
      if (el.closest('.van-toast, .van-button--disabled, [disabled]')) continue
      const cs = getComputedStyle(el)
      if (Number(cs.opacity) < 1) continue
      const a = lum(rgb(cs.color).slice(0, 3))
      const b = lum(bg(el))
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)
      const large = parseFloat(cs.fontSize) >= 24 || (parseFloat(cs.fontSize) >= 18.66 && Number(cs.fontWeight) >= 700)
      if (ratio < (large ? 3 : 4.5)) out.push(`contrast ${ratio.toFixed(2)} of "${n.textContent.trim().slice(0, 20)}" (${cs.color} on rgb(${bg(el)}))`)
    }
    return out
  })
}

async function checkScreen(page, where) {
  const p = await problems(page)
  assert.deepEqual(p, [], `${where}: touch targets, contrast, labels`)
  await assertPeopleWords(page, where)
}

test('the details: one pending count, a steady sync total, the right saved message, targets, contrast, labels', async () => {
  const st = loadState()
  const officer = st.people.officerA
  const browser = await launch()
  try {
    const ctx = await phone(browser)
    const page = await newPage(ctx)
    await page.goto('/')
    await phoneSignInHere(page, officer, (p) => checkScreen(p, 'sign-in'))
    await page.waitForSelector('[data-test=home] [data-test=pairing]')
    await page.waitForSelector('[data-test=sync-status][data-state=caught-up]')
    await shots(page, '55-details-home')
    await checkScreen(page, 'home')

    // Offline: two issues saved; the toast says they sync when online.
    await ctx.setOffline(true)
    await page.click('[data-test=home] [data-test=pairing]')
    await page.waitForSelector('[data-test=pairing-page]')
    const pairingURL = page.url()
    for (const title of ['楼道照明损坏（离线记录一）', '消防通道被占（离线记录二）']) {
      await page.goto(pairingURL.replace(/\?.*$/, '') + '/issues/new')
      await page.waitForSelector('[data-test=issue-form]')
      await checkScreen(page, 'issue form')
      await page.fill('[data-test=issue-title] input', title)
      await page.click('[data-test=issue-save]')
      await page.waitForSelector('.van-toast:has-text("将在联网时同步")')
    }
    // And a visit with a photo: a record and a photo waiting, counted apart.
    await page.goto(pairingURL.replace(/\?.*$/, '') + '/visits/new')
    await page.waitForSelector('[data-test=visit-form]')
    await page.fill('[data-test=visit-notes] textarea', '走访企业，了解用工情况（离线）')
    await page.setInputFiles('[data-test=visit-photos]', [photo(7, 400, 300)])
    await page.waitForFunction(() => document.querySelectorAll('[data-test=visit-form] [data-test=photo-thumb]').length === 1)
    await page.click('[data-test=visit-save]')
    await page.waitForSelector('[data-test=visit-pending]')
    await page.goto('/')
    await page.waitForSelector('[data-test=pairing-pending]')
    const bar = await page.textContent('[data-test=sync-status]')
    const tags = await page.$$eval('[data-test=pairing-pending]', (els) => els.map((e) => Number(e.textContent.match(/\d+/)[0])))
    const barN = Number((bar.match(/待同步\s*(\d+)/) || [])[1])
    assert.equal(barN, tags.reduce((a, b) => a + b, 0), `top bar "${bar.trim()}" against the pairings' ${tags}`)
    assert.equal(barN, 3, 'three records wait')
    assert.match(bar, /照片待上传 1/, 'the photo is counted apart')
    await shots(page, '55-details-offline')
    await checkScreen(page, 'home, offline with pending records')

    // Back online: the sync's x/y never changes its y and never goes back.
    await page.evaluate(() => {
      window.__progress = []
      const bar = document.querySelector('[data-test=sync-status]')
      new MutationObserver(() => window.__progress.push(bar.textContent.trim())).observe(bar, { subtree: true, childList: true, characterData: true })
    })
    await ctx.setOffline(false)
    await page.evaluate(() => window.pairsync.sync())
    await page.waitForSelector('[data-test=sync-status][data-state=caught-up]')
    const seen = await page.evaluate(() => window.__progress)
    const steps = seen.map((s) => s.match(/(\d+)\s*\/\s*(\d+)/)).filter(Boolean).map((m) => [Number(m[1]), Number(m[2])])
    console.log('  sync progress seen:', JSON.stringify(steps))
    assert.ok(steps.length > 0, `the bar showed progress (${JSON.stringify(seen)})`)
    assert.equal(new Set(steps.map((s) => s[1])).size, 1, `the total changed during the sync: ${JSON.stringify(steps)}`)
    for (let i = 1; i < steps.length; i++) assert.ok(steps[i][0] >= steps[i - 1][0], `progress went back: ${JSON.stringify(steps)}`)

    // Online: the toast says it syncs now, never "when online".
    await page.goto(pairingURL.replace(/\?.*$/, '') + '/issues/new')
    await page.waitForSelector('[data-test=issue-form]')
    await page.fill('[data-test=issue-title] input', '小区路灯不亮（联网记录）')
    await page.click('[data-test=issue-save]')
    const toast = await page.waitForSelector('.van-toast')
    const msg = await toast.textContent()
    assert.match(msg, /已保存/)
    assert.doesNotMatch(msg, /将在联网时同步/, 'online, the toast must not say it waits for the network')
    await page.waitForSelector('[data-test=sync-status][data-state=caught-up]')
    await page.waitForSelector('[data-test=pairing-page]')
    await shots(page, '55-details-pairing')
    await checkScreen(page, 'pairing page')
    await page.click('[data-test=issue]')
    await page.waitForSelector('[data-test=issue-page]')
    await shots(page, '55-details-issue')
    await checkScreen(page, 'issue page')
    // An administrator dispatches (交办) it in the console with no due date:
    // the phone shows 办理期限 (the category's default by the server's rule,
    // computed on the phone by the wasm) and the time left.
    const admin = st.people.admin
    const cctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', baseURL: page.url().replace(/^(https?:\/\/[^/]+).*$/, '$1') })
    const cp = await newPage(cctx)
    await cp.goto('/console/login')
    await consoleSignInHere(cp, admin)
    await cp.waitForSelector('[data-test=overview][data-ready="1"]')
    await cp.goto('/console/issues')
    await cp.waitForSelector('[data-test=workbench][data-ready="1"]')
    const row = cp.locator('[data-test=issue-row]', { hasText: '小区路灯不亮' })
    await row.locator('[data-test=act-dispatched]').click()
    const handler = await cp.$$eval('[data-test=dispatch-handler] option', (os, name) => (os.find((o) => o.textContent.includes(name)) || {}).value, officer.name)
    assert.ok(handler, `the officer ${officer.name} is offered as the handler`)
    await cp.selectOption('[data-test=dispatch-handler]', handler)
    await cp.click('[data-test=modal-ok]')
    await cp.waitForSelector('[data-test=issue-row][data-status=dispatched]')
    await cctx.close()
    await page.evaluate(() => window.pairsync.sync())
    await page.waitForSelector('[data-test=issue-page][data-status=dispatched]')
    const due = await page.textContent('[data-test=issue-due]')
    assert.match(due, /办理期限/)
    assert.match(due, /剩余 \d+ 天 \d+ 小时/, `the time left is shown: ${due}`)
    await shots(page, '55-details-issue-dispatched')
    await checkScreen(page, 'dispatched issue')
    await page.goto(pairingURL.replace(/\?.*$/, '') + '?tab=issues')
    await page.waitForSelector('[data-test=issue] >> text=办理期限')
    await page.goto(pairingURL.replace(/\?.*$/, '') + '/visits/new')
    await page.waitForSelector('[data-test=visit-form]')
    await page.click('[data-test=add-participant]')
    await page.click('[data-test=add-issue]')
    await shots(page, '55-details-visit-form')
    await checkScreen(page, 'visit form')
    await ctx.close()
  } finally {
    await browser.close()
  }
})
