// The administrators' console in a real Chromium at 1440×900 against a real
// pairsyncd with seeded data (started and seeded by TestBrowserJourneys,
// console_e2e_test.go), as the root unit's administrator:
//  1. the overview's figures equal GET /v1/reports/overview's, for the whole
//     tree and for one branch;
//  2. a click on a figure lists exactly the records behind it (the ids of
//     the list APIs);
//  3. the pairings table (figures per pairing, sorting, search, .xlsx export);
//  4. a pairing's page (visits with photos, issues with their history,
//     projects with milestones, ratings) and returning a visit;
//  5. the issue workbench (overdue first, the SLA clock) and a dispatch
//     (TestBrowserJourneys then checks officerC's phone receives it);
//  6. the projects board: verifying a project moves it to verified on the
//     board and in the export;
//  7. the management screens and the devices needing attention;
//  8. English; the overview on a phone; a viewer (领导) reads, without the
//     administrators' actions.
// Every screen is saved under e2e/screenshots/console-NN-….png.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { launch, newPage, shot, api, cnMonth, addMonths, PASSWORD, URL } from './lib.mjs'
import { readSheet } from './xlsx.mjs'

const env = process.env
const ADMIN = env.PAIRSYNC_CONSOLE_ADMIN || 'adminRoot'
const DISPATCH = env.PAIRSYNC_DISPATCH_ISSUE
const DISPATCH_TO = env.PAIRSYNC_DISPATCH_TO
const VERIFY = env.PAIRSYNC_VERIFY_PROJECT
const RETURN = env.PAIRSYNC_RETURN_VISIT
const PAIRING = env.PAIRSYNC_CONSOLE_PAIRING
const STALE = env.PAIRSYNC_STALE_DEVICE
const FRESH = env.PAIRSYNC_FRESH_DEVICE

// The last six months, in China time as the server counts them.
const TO = cnMonth()
const FROM = addMonths(TO, -5)
const PERIOD = `from=${FROM}&to=${TO}`
const inPeriod = (t) => !!t && cnMonth(new Date(t)) >= FROM && cnMonth(new Date(t)) <= TO

let browser, ctx, page, call

async function desktop() {
  const c = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', baseURL: URL, acceptDownloads: true })
  c.setDefaultTimeout(45_000)
  return c
}

before(async () => {
  browser = await launch()
  ctx = await desktop()
  page = await newPage(ctx)
  page.on('dialog', (d) => d.accept())
  page.on('response', async (r) => { if (r.status() >= 500) console.log('  [server error]', r.status(), r.url(), JSON.stringify(await r.request().allHeaders()), await r.text().catch(() => '')) })
  call = await api(ADMIN)
})
after(async () => { await browser?.close() })

// all reads every page of an offset-paged list.
async function all(path, key) {
  const out = []
  for (;;) {
    const sep = path.includes('?') ? '&' : '?'
    const a = await call('GET', `${path}${sep}offset=${out.length}&limit=1000`)
    out.push(...a[key])
    if (out.length >= a.total || !a[key].length) return out
  }
}
const ids = (page, sel) => page.$$eval(sel, (els) => els.map((e) => e.dataset.id))
const sorted = (a) => [...a].sort()

// The overview's figures as the API gives them, keyed as the cards are.
function apiFigures(f) {
  const by = f.projects_by_status || {}
  const r = (x) => ({ num: x.num, den: x.den })
  return {
    visits: { value: f.visits }, coverage: r(f.coverage),
    issues_raised: { value: f.issues_raised }, issues_confirmed_solved: { value: f.issues_confirmed_solved }, issues_closed: { value: f.issues_closed },
    issues_open: { value: f.issues_open }, overdue: { value: f.overdue.total },
    response_rate: r(f.response_rate), resolution_rate: r(f.resolution_rate), satisfaction_rate: r(f.satisfaction_rate), on_time_rate: r(f.on_time_rate),
    projects_planned: { value: f.projects_planned }, projects_in_progress: { value: by.in_progress || 0 },
    projects_completed_now: { value: by.completed || 0 }, projects_verified_now: { value: by.verified || 0 },
    projects_completed: { value: f.projects_completed }, projects_verified: { value: f.projects_verified },
  }
}
const domFigures = (page) => page.$$eval('[data-test=figure]', (els) => Object.fromEntries(els.map((e) => [e.dataset.figure,
  e.dataset.value !== undefined ? { value: Number(e.dataset.value) } : { num: Number(e.dataset.num), den: Number(e.dataset.den) }])))

async function overview(query = PERIOD, unit = '') {
  await page.goto(`/console/overview?${query}`)
  await page.waitForSelector(`[data-test=overview][data-loaded="${unit}|${FROM}|${TO}"]`)
}

test('1. sign in; the overview equals GET /v1/reports/overview, for the tree and for a branch', async () => {
  await page.goto('/console')
  await page.waitForSelector('[data-test=console-login]')
  await shot(page, 'console-00-login.png')
  await page.fill('[data-test=username]', ADMIN)
  await page.fill('[data-test=password]', PASSWORD)
  await page.click('[data-test=sign-in]')
  await page.waitForSelector('[data-test=overview][data-ready="1"]')

  await overview()
  const ov = await call('GET', `/v1/reports/overview?${PERIOD}`)
  const want = apiFigures(ov.figures)
  assert.deepEqual(await domFigures(page), want)
  assert.ok(want.visits.value >= 7 && want.overdue.value >= 2 && want.issues_confirmed_solved.value >= 1 && want.satisfaction_rate.den >= 4,
    `the seed gives every figure something: ${JSON.stringify(want)}`)
  assert.equal(await page.textContent('[data-figure=satisfaction_rate] [data-test=figure-value]'),
    (ov.figures.satisfaction_rate.value * 100).toFixed(1) + '%')
  await page.waitForSelector('[data-test=chart-trend-counts] canvas')
  await page.waitForSelector('[data-test=chart-units] canvas')
  await page.waitForSelector('[data-test=chart-pairings] canvas')
  await page.waitForTimeout(600) // the charts' entry animation
  await shot(page, 'console-01-overview.png')
  await shot(page, 'console-01b-overview-charts.png', '[data-test=chart-pairings]')

  // The org unit picker: one branch, rolled up.
  await page.selectOption('[data-test=org-picker]', 'unitB')
  await page.waitForSelector(`[data-test=overview][data-loaded="unitB|${FROM}|${TO}"]`)
  const ovB = await call('GET', `/v1/reports/overview?org_unit=unitB&${PERIOD}`)
  assert.deepEqual(await domFigures(page), apiFigures(ovB.figures))
  assert.notDeepEqual(apiFigures(ovB.figures), want, 'one branch is not the whole tree')
})

test('2. a click on a figure lists exactly the records behind it', async () => {
  const ov = (await call('GET', `/v1/reports/overview?${PERIOD}`)).figures
  const open = (s) => !['closed', 'closed_unconfirmed', 'not_accepted'].includes(s)
  const allProjects = await all('/v1/projects', 'projects')
  const checks = [
    { figure: 'visits', screen: 'visits-list', row: 'visit-row', want: async () => (await all(`/v1/visits?${PERIOD}`, 'visits')).map((v) => v.id), count: ov.visits, shot: 'console-07-visits.png' },
    { figure: 'issues_raised', screen: 'workbench', row: 'issue-row', want: async () => (await all(`/v1/reports/issues?figure=raised&${PERIOD}`, 'issues')).map((i) => i.id), count: ov.issues_raised },
    { figure: 'issues_confirmed_solved', screen: 'workbench', row: 'issue-row', want: async () => (await all(`/v1/reports/issues?figure=confirmed_solved&${PERIOD}`, 'issues')).map((i) => i.id), count: ov.issues_confirmed_solved },
    { figure: 'resolution_rate', screen: 'workbench', row: 'issue-row', want: async () => (await all(`/v1/reports/issues?figure=closed&${PERIOD}`, 'issues')).map((i) => i.id), count: ov.resolution_rate.den },
    { figure: 'response_rate', screen: 'workbench', row: 'issue-row', want: async () => (await all(`/v1/reports/issues?figure=dispatched&${PERIOD}`, 'issues')).map((i) => i.id), count: ov.response_rate.den },
    { figure: 'overdue', screen: 'workbench', row: 'issue-row', want: async () => (await all('/v1/issues?overdue=true', 'issues')).map((i) => i.id), count: ov.overdue.total, ordered: true },
    { figure: 'issues_open', screen: 'workbench', row: 'issue-row', want: async () => (await all('/v1/issues', 'issues')).filter((i) => open(i.status)).map((i) => i.id), count: ov.issues_open },
    { figure: 'satisfaction_rate', screen: 'ratings-list', row: 'rating-row', want: async () => (await all(`/v1/reports/ratings?${PERIOD}`, 'ratings')).map((r) => r.id), count: ov.satisfaction_rate.den, shot: 'console-08-ratings.png' },
    { figure: 'projects_planned', screen: 'projects-board', row: 'project-card', want: async () => allProjects.filter((p) => ['proposed', 'approved', 'deferred'].includes(p.status)).map((p) => p.id), count: ov.projects_planned },
    { figure: 'projects_in_progress', screen: 'projects-board', row: 'project-card', want: async () => (await all('/v1/projects?status=in_progress', 'projects')).map((p) => p.id), count: ov.projects_by_status.in_progress },
    { figure: 'projects_completed_now', screen: 'projects-board', row: 'project-card', want: async () => (await all('/v1/projects?status=completed', 'projects')).map((p) => p.id), count: ov.projects_by_status.completed },
    { figure: 'projects_verified_now', screen: 'projects-board', row: 'project-card', want: async () => (await all('/v1/projects?status=verified', 'projects')).map((p) => p.id), count: ov.projects_by_status.verified },
    { figure: 'projects_completed', screen: 'projects-board', row: 'project-card', want: async () => allProjects.filter((p) => inPeriod(p.completed_at)).map((p) => p.id), count: ov.projects_completed },
    { figure: 'projects_verified', screen: 'projects-board', row: 'project-card', want: async () => allProjects.filter((p) => inPeriod(p.verified_at)).map((p) => p.id), count: ov.projects_verified },
  ]
  await overview()
  for (const [n, c] of checks.entries()) {
    if (n > 0) { // back to the overview, in the app (no reload)
      await page.goBack()
      await page.waitForSelector(`[data-test=overview][data-loaded="|${FROM}|${TO}"]`)
    }
    await page.click(`[data-test=figure][data-figure=${c.figure}]`)
    await page.waitForSelector(`[data-test=${c.screen}][data-ready="1"]`)
    const got = await ids(page, `[data-test=${c.row}]`)
    const want = await c.want()
    assert.ok(want.length > 0, `${c.figure}: the seed gives it records`)
    assert.equal(want.length, c.count, `${c.figure}: the list API's records are as many as the figure says`)
    if (c.ordered) assert.deepEqual(got, want, `${c.figure}: the records on screen, in the API's order`)
    else assert.deepEqual(sorted(got), sorted(want), `${c.figure}: the records on screen are the list API's`)
    if (c.shot) await shot(page, c.shot)
  }
  // The ratings screen says how many of them are satisfied: the rate's numerator.
  await page.goto(`/console/ratings?${PERIOD}`)
  await page.waitForSelector('[data-test=ratings-list][data-ready="1"]')
  assert.equal(Number(await page.getAttribute('[data-test=row-count]', 'data-satisfied')), ov.satisfaction_rate.num)
})

test('3. the pairings table: figures per pairing, sort, search, export to .xlsx', async () => {
  await page.goto(`/console/pairings?${PERIOD}`)
  await page.waitForSelector('[data-test=pairings-table][data-ready="1"]')
  const rep = await all(`/v1/reports/pairings?${PERIOD}`, 'pairings')
  assert.equal(rep.length, 6)
  assert.deepEqual(sorted(await ids(page, '[data-test=pairing-row]')), sorted(rep.map((r) => r.pairing.id)))
  for (const r of rep) {
    const row = `[data-test=pairing-row][data-id="${r.pairing.id}"]`
    assert.equal(Number(await page.textContent(`${row} [data-test=cell-visits]`)), r.figures.visits, `${r.pairing.id} visits`)
    assert.equal(Number(await page.textContent(`${row} [data-test=cell-overdue]`)), r.figures.overdue.total, `${r.pairing.id} overdue`)
    assert.equal(Number(await page.textContent(`${row} [data-test=cell-open]`)), r.figures.issues_open, `${r.pairing.id} open`)
  }
  // Sorted by visits, most first.
  await page.click('[data-test=col-visits]')
  const most = Math.max(...rep.map((r) => r.figures.visits))
  assert.equal(Number(await page.textContent('[data-test=pairing-row]:first-child [data-test=cell-visits]')), most)
  await page.waitForFunction(() => [...document.querySelectorAll('[data-test=last-visit]')].every((e) => e.textContent !== '…'))
  const lastV = (await call('GET', `/v1/visits?pairing=${PAIRING}&limit=1`)).visits[0]
  assert.match(await page.textContent(`[data-test=pairing-row][data-id="${PAIRING}"] [data-test=last-visit]`), new RegExp(cnMonth(new Date(lastV.visited_at)).slice(0, 4)))
  await shot(page, 'console-02-pairings.png')
  // Search: the pairings whose name or counterparty holds 社区.
  await page.fill('[data-test=search]', '社区')
  await page.waitForFunction((n) => document.querySelectorAll('[data-test=pairing-row]').length === n, 2)
  await page.fill('[data-test=search]', '')
  await page.check('[data-test=only-overdue]')
  await page.waitForFunction((n) => document.querySelectorAll('[data-test=pairing-row]').length === n, rep.filter((r) => r.figures.overdue.total > 0).length)
  await page.uncheck('[data-test=only-overdue]')
  // The export: every pairing, with the period's figures.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-test=export]')])
  assert.match(dl.suggestedFilename(), /\.xlsx$/)
  const rows = readSheet(readFileSync(await dl.path()))
  assert.equal(rows[0][0], '结对名称')
  assert.deepEqual(sorted(rows.slice(1).map((r) => r[0])), sorted(rep.map((r) => r.pairing.name)))
  const visitsCol = rows[0].indexOf('走访次数')
  for (const r of rep) assert.equal(Number(rows.find((x) => x[0] === r.pairing.name)[visitsCol]), r.figures.visits, `export: ${r.pairing.name}'s visits`)
})

test('4. a pairing: visits with photos, issues with history, projects with milestones, ratings; return a visit', async () => {
  await page.goto(`/console/pairings/${PAIRING}`)
  await page.waitForSelector('[data-test=pairing-page][data-ready="1"]')
  const visits = await call('GET', `/v1/visits?pairing=${PAIRING}`)
  await page.waitForFunction((n) => document.querySelectorAll('[data-test=timeline-visit]').length === n, visits.total)
  assert.deepEqual(await ids(page, '[data-test=timeline-visit]'), visits.visits.map((v) => v.id), 'the timeline, newest first')
  // The photos, as thumbnails fetched with the token.
  const withPhotos = visits.visits.find((v) => v.photos > 0)
  await page.waitForFunction((id) => {
    const imgs = [...document.querySelectorAll(`[data-test=timeline-visit][data-id="${id}"] [data-test=photo] img`)]
    return imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0)
  }, withPhotos.id)
  const issues = await call('GET', `/v1/issues?pairing=${PAIRING}`)
  assert.deepEqual(sorted(await ids(page, '[data-test=pairing-issue]')), sorted(issues.issues.map((i) => i.id)))
  const solved = issues.issues.find((i) => i.status === 'closed')
  await page.waitForSelector(`[data-test=pairing-issue][data-id="${solved.id}"] [data-test=issue-event][data-type=confirmed]`)
  const types = await page.$$eval(`[data-test=pairing-issue][data-id="${solved.id}"] [data-test=issue-event]`, (els) => els.map((e) => e.dataset.type))
  assert.deepEqual(types, ['raised', 'dispatched', 'signed', 'responded', 'confirmed'])
  const projects = await call('GET', `/v1/projects?pairing=${PAIRING}`)
  assert.deepEqual(sorted(await ids(page, '[data-test=pairing-project]')), sorted(projects.projects.map((p) => p.id)))
  const running = projects.projects.find((p) => p.milestones > 0)
  await page.waitForFunction(([id, n]) => document.querySelectorAll(`[data-test=pairing-project][data-id="${id}"] [data-test=milestone]`).length === n, [running.id, running.milestones])
  await page.waitForSelector(`[data-test=pairing-project][data-id="${running.id}"] [data-test=milestone] [data-test=photo] img`)
  const ratings = await call('GET', `/v1/reports/ratings?pairing=${PAIRING}&from=${addMonths(TO, -119)}&to=${TO}`)
  assert.equal(await page.locator('[data-test=pairing-rating]').count(), ratings.total)
  assert.ok(ratings.total > 0)
  await shot(page, 'console-03-pairing.png')

  // Return a visit with a comment: the API shows it returned.
  await page.click(`[data-test=timeline-visit][data-id="${RETURN}"] [data-test=return-visit]`)
  await page.fill('[data-test=prompt-text]', '请补充走访照片和参加人员')
  await page.click('[data-test=modal-ok]')
  await page.waitForSelector(`[data-test=timeline-visit][data-id="${RETURN}"] [data-test=visit-returned]`)
  const v = await call('GET', `/v1/visits/${RETURN}`)
  assert.equal(v.record.fields.status, 'returned')
  assert.equal(v.record.fields.return_comment, '请补充走访照片和参加人员')
})

test('5. the workbench: overdue first with the SLA clock; dispatch an issue', async () => {
  await page.goto('/console/issues')
  await page.waitForSelector('[data-test=workbench][data-ready="1"]')
  const list = await all('/v1/issues', 'issues')
  assert.deepEqual(await ids(page, '[data-test=issue-row]'), list.map((i) => i.id), 'in the API\'s order: overdue first, then by due date')
  const overdue = list.filter((i) => i.overdue)
  assert.ok(overdue.length >= 2)
  assert.deepEqual(list.slice(0, overdue.length).map((i) => i.id), overdue.map((i) => i.id))
  for (const i of overdue) assert.match(await page.textContent(`[data-test=issue-row][data-id="${i.id}"] [data-test=sla]`), /已超期 \d+天/)
  assert.ok(await page.$('[data-test=chip-arbitration]'), 'a second bounce waits in arbitration')
  await page.click(`[data-test=issue-row][data-id="${overdue[0].id}"] [data-test=issue-expand]`)
  await page.waitForSelector('[data-test=issue-history] [data-test=issue-event][data-type=dispatched]')
  await shot(page, 'console-04-workbench.png')

  // Dispatch (交办) the raised issue to officerC.
  const row = `[data-test=issue-row][data-id="${DISPATCH}"]`
  assert.equal(await page.getAttribute(row, 'data-status'), 'raised')
  await page.click(`${row} [data-test=act-dispatched]`)
  await page.selectOption('[data-test=dispatch-handler]', DISPATCH_TO)
  await shot(page, 'console-04b-dispatch.png')
  await page.click('[data-test=modal-ok]')
  await page.waitForSelector(`${row}[data-status=dispatched]`)
  assert.match(await page.textContent(`${row} [data-test=sla]`), /剩余/)
  const is = await call('GET', `/v1/issues/${DISPATCH}`)
  assert.equal(is.state.status, 'dispatched')
  assert.equal(is.state.handler, DISPATCH_TO)
  // The arbitration: the bounced-twice issue goes back to a handler.
  await page.click('[data-test=chip-arbitration]')
  const arb = (await ids(page, '[data-test=issue-row]'))[0]
  await page.click(`[data-test=issue-row][data-id="${arb}"] [data-test=act-dispatched]`)
  await page.click('[data-test=modal-ok]')
  await page.waitForFunction(() => !document.querySelector('[data-test=chip-arbitration]'))
  assert.equal((await call('GET', `/v1/issues/${arb}`)).state.status, 'dispatched')
})

test('6. the projects board: verify a project; it is verified on the board and in the export', async () => {
  await page.goto('/console/projects')
  await page.waitForSelector('[data-test=projects-board][data-ready="1"]')
  const card = `[data-test=project-card][data-id="${VERIFY}"]`
  await page.waitForSelector(`[data-test=board-col][data-status=completed] ${card}`)
  // Each card's move buttons are the server's allowed moves for an
  // administrator from its status, named for the action (立项, 暂缓…), never
  // for the target state (已立项); 审核验收 has its own button.
  const schema = await call('GET', '/v1/schema')
  const actionName = Object.fromEntries(schema.project_actions.map((a) => [a.value, a.label.zh]))
  const cards = await page.$$eval('[data-test=project-card]', (els) => els.map((e) => ({ status: e.dataset.status,
    moves: [...e.querySelectorAll('[data-test^=move-]')].map((b) => [b.dataset.test.slice(5), b.textContent.trim()]) })))
  assert.ok(cards.some((c) => c.moves.length), 'some card offers a move')
  for (const c of cards) {
    const want = Object.entries(schema.project_moves[c.status] || {}).filter(([to, roles]) => roles.includes('admin') && to !== 'verified').map(([to]) => to).sort()
    assert.deepEqual(c.moves.map(([to]) => to).sort(), want, `moves of a ${c.status} card`)
    for (const [to, text] of c.moves) assert.equal(text, actionName[to], `the ${to} button is named for the action`)
  }
  const title = (await call('GET', `/v1/projects/${VERIFY}`)).record.fields.title
  await page.click(`${card} [data-test=verify]`)
  await page.click('[data-test=modal-ok]')
  await page.waitForSelector(`[data-test=board-col][data-status=verified] ${card}[data-status=verified]`)
  const verified = await call('GET', '/v1/projects?status=verified')
  assert.ok(verified.projects.some((p) => p.id === VERIFY), 'GET /v1/projects?status=verified lists it')
  await shot(page, 'console-05-projects.png')

  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-test=export]')])
  const rows = readSheet(readFileSync(await dl.path()))
  const status = rows[0].indexOf('状态')
  const row = rows.find((r) => r.includes(title))
  assert.ok(row, `the export has a row for ${title}`)
  assert.equal(row[status], '已验收')
  assert.equal(rows.length - 1, (await call('GET', '/v1/projects?limit=1000')).total)

  // Which pairings completed which projects.
  await page.click('[data-test=view-pairings]')
  await page.waitForSelector(`[data-test=pairing-projects][data-id="${PAIRING}"] [data-test=done-project][data-id="${VERIFY}"]`)
  await shot(page, 'console-06-projects-by-pairing.png')
})

test('7. management: org units, counterparties and the import, pairings, users, devices, audit, attention', async () => {
  await page.goto('/console/manage/org-units')
  await page.waitForSelector('[data-test=unit-row][data-id=unitB]')
  await page.click('[data-test=unit-row][data-id=unitB] [data-test=unit-edit]')
  await page.fill('[data-test=sla-tax]', '8')
  await page.click('[data-test=modal-ok]')
  await page.waitForSelector('[data-test=unit-row][data-id=unitB] >> text=财税服务 8')
  assert.equal((await call('GET', '/v1/org-units/unitB')).sla_days.tax, 8)
  // The unit's group robot: the URL (its key) is write-only, shown as 已设置.
  await page.click('[data-test=unit-row][data-id=unitB] [data-test=unit-edit]')
  await page.fill('[data-test=robot-wecom_url]', 'https://robot.example/cgi-bin/webhook/send?key=console-robot-key')
  await page.click('[data-test=modal-ok]')
  await page.waitForSelector('[data-test=unit-row][data-id=unitB] [data-test=unit-robots] >> text=企业微信已设置')
  const withRobot = await call('GET', '/v1/org-units/unitB')
  assert.equal(withRobot.robots.wecom, true)
  assert.ok(!JSON.stringify(withRobot).includes('console-robot-key'), 'the robot key is never shown back')
  await page.click('[data-test=unit-row][data-id=unitB] [data-test=unit-edit]')
  assert.equal(await page.getAttribute('[data-test=robot-wecom_url]', 'placeholder'), '已设置（留空不变）')
  await page.click('[data-test=modal-cancel]')
  await shot(page, 'console-09-org-units.png')

  await page.goto('/console/manage/counterparties')
  await page.waitForSelector('[data-test=cp-row][data-id=cp-B]')
  const [tpl] = await Promise.all([page.waitForEvent('download'), page.click('[data-test=template]')])
  assert.match(tpl.suggestedFilename(), /\.xlsx$/)
  assert.deepEqual(readSheet(readFileSync(await tpl.path()))[0].slice(0, 2), ['类型*', '名称*'], 'the template\'s 共建单位 sheet')
  // The import, checked first (nothing written), then for real: one row
  // imported, the other reported with its row and column.
  await page.setInputFiles('[data-test=import-file]', env.PAIRSYNC_IMPORT_XLSX)
  await page.click('[data-test=import-run]')
  const sheet = '[data-test=import-sheet][data-sheet=共建单位]'
  await page.waitForSelector(`[data-test=import-report][data-dry-run="1"] ${sheet}[data-imported="1"][data-errors="1"]`)
  assert.equal((await call('GET', '/v1/counterparties?search=梅园新村')).counterparties.length, 0, 'a dry run writes nothing')
  await page.uncheck('[data-test=import-dry-run]')
  await page.click('[data-test=import-run]')
  await page.waitForSelector(`[data-test=import-report][data-dry-run="0"] ${sheet}[data-imported="1"][data-errors="1"]`)
  assert.match(await page.textContent(`${sheet} [data-test=import-row-error]`), /第 3 行 · 统一社会信用代码/)
  await page.waitForSelector('[data-test=cp-row] >> text=玄武区梅园新村社区')
  assert.equal((await call('GET', '/v1/counterparties?search=梅园新村')).counterparties.length, 1)
  await shot(page, 'console-10-counterparties.png')

  await page.goto('/console/manage/pairings')
  await page.waitForSelector(`[data-test=admin-pairing-row][data-id="${PAIRING}"]`)
  await page.click(`[data-test=admin-pairing-row][data-id="${PAIRING}"] [data-test=pairing-edit]`)
  await page.waitForSelector('[data-test=pf-name]')
  assert.equal(await page.inputValue('[data-test=pf-name]'), (await call('GET', `/v1/pairings/${PAIRING}`)).fields.name)
  await shot(page, 'console-11-pairing-admin.png')
  await page.click('[data-test=modal-cancel]')

  await page.goto('/console/manage/users')
  await page.waitForSelector('[data-test=user-row][data-username=officerC]')
  await page.click('[data-test=user-new]')
  await page.fill('[data-test=uf-username]', 'officerE')
  await page.fill('[data-test=uf-name]', '钱进')
  await page.selectOption('[data-test=uf-unit]', 'unitB')
  await page.click('[data-test=modal-ok]')
  await page.waitForSelector('[data-test=activation] [data-test=activation-qr]')
  assert.match(await page.getAttribute('[data-test=activation-code]', 'data-code'), /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/)
  assert.ok(await page.$eval('[data-test=activation-qr]', (i) => i.complete && i.naturalWidth > 100))
  await shot(page, 'console-12-users-activation.png')
  await page.click('[data-test=modal-ok]')
  await page.waitForSelector('[data-test=user-row][data-username=officerE] >> text=待激活')

  await page.goto('/console/manage/devices?user=u-officerD')
  await page.waitForSelector(`[data-test=device-row][data-id="${STALE}"]`)
  await shot(page, 'console-13-devices.png')

  await page.goto('/console/manage/audit')
  await page.waitForSelector('[data-test=audit-row][data-action="issue.dispatched"]')
  assert.ok(await page.$('[data-test=audit-row][data-action="project.verify"]'))
  await shot(page, 'console-14-audit.png')

  await page.goto('/console/attention')
  await page.waitForSelector('[data-test=attention][data-ready="1"]')
  const idle = await ids(page, '[data-test=attention-row]')
  assert.ok(idle.includes(STALE), `the device not synced for 3 days is listed: ${idle}`)
  assert.ok(!idle.includes(FRESH), 'the phone that just synced is not')
  assert.match(await page.textContent('[data-test=attention-note]'), /只有设备本身知道/)
  await shot(page, 'console-15-attention.png')
})

test('8. English; the overview on a phone; a viewer reads without acting', async () => {
  await overview()
  await page.click('[data-test=lang]')
  await page.waitForSelector('[data-test=nav-overview] >> text=Overview')
  await page.waitForSelector('[data-figure=overdue] >> text=Overdue issues')
  await page.waitForTimeout(600)
  await shot(page, 'console-16-overview-en.png')
  await page.click('[data-test=lang]')
  await page.waitForSelector('[data-test=nav-overview] >> text=总览')

  const phoneCtx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', baseURL: URL })
  const p = await newPage(phoneCtx)
  await p.goto('/console/login')
  await p.fill('[data-test=username]', ADMIN)
  await p.fill('[data-test=password]', PASSWORD)
  await p.click('[data-test=sign-in]')
  await p.waitForSelector('[data-test=overview][data-ready="1"]')
  const width = await p.evaluate(() => document.documentElement.scrollWidth)
  assert.ok(width <= 390, `no sideways scrolling of the page on a phone (scrollWidth ${width})`)
  await p.waitForTimeout(600)
  await shot(p, 'console-17-overview-phone.png')
  await phoneCtx.close()

  const viewerCtx = await desktop()
  const v = await newPage(viewerCtx)
  await v.goto('/console/login')
  await v.fill('[data-test=username]', 'viewerRoot')
  await v.fill('[data-test=password]', PASSWORD)
  await v.click('[data-test=sign-in]')
  await v.waitForSelector('[data-test=overview][data-ready="1"]')
  assert.equal(await v.$('[data-test=nav-users]'), null, 'no accounts for a viewer')
  await v.goto('/console/issues')
  await v.waitForSelector('[data-test=workbench][data-ready="1"] [data-test=issue-row]')
  assert.equal(await v.$('[data-test=issue-actions]'), null, 'a viewer does not dispatch')
  await v.goto('/console/pairings')
  await v.waitForSelector('[data-test=pairings-table][data-ready="1"] [data-test=pairing-row]')
  await viewerCtx.close()
})
