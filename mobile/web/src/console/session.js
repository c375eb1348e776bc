// The console's sign-in. The console is online only: it signs in without
// registering a device (it never syncs) and keeps its tokens in
// localStorage under its own key, apart from the field app's device session
// in IndexedDB; its requests go through the shared client (../http.js),
// which refreshes the access token and keeps each new pair at once.
import { reactive, watch } from 'vue'
import { locale } from '../i18n.js'
import { HTTPError, answer, expiresAt, send, signedInClient } from '../http.js'

const KEY = 'pairsync.console'

// APIError is the shared client's error answer (HTTPError).
export { HTTPError as APIError }

function loadSaved() {
  try { return JSON.parse(localStorage.getItem(KEY) || 'null') } catch { return null }
}

export const session = reactive({ user: null, access: '', refresh: '', expires: 0, ...(loadSaved() || {}) })

function save() {
  if (!session.refresh) localStorage.removeItem(KEY)
  else localStorage.setItem(KEY, JSON.stringify({ user: session.user, access: session.access, refresh: session.refresh, expires: session.expires }))
}

function setTokens(tr) {
  session.access = tr.access_token
  session.refresh = tr.refresh_token
  session.expires = expiresAt(tr.expires_in)
  if (tr.user) session.user = tr.user
  save()
}

export const signedIn = () => !!session.refresh

const client = signedInClient({ tokens: () => session, keep: setTokens, ended: signOutLocal })

// call sends an authenticated request and returns the Response.
export const call = client.call

// api sends a request and returns the JSON answer (null when empty).
export async function api(method, path, body) {
  return answer(await call(method, path, { body }))
}

export const get = (path) => api('GET', path)

// query builds a query string from an object, leaving out empty values.
export function qs(params) {
  const u = new URLSearchParams()
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '' && v !== false) u.set(k, String(v))
  }
  const s = u.toString()
  return s ? '?' + s : ''
}

// getAll reads every page of an offset-paged list (GET …?offset=&limit=),
// up to max items: key names the array in the answer.
export async function getAll(path, key, params = {}, max = 20_000) {
  const out = []
  let total = Infinity
  while (out.length < total && out.length < max) {
    const page = await get(path + qs({ ...params, offset: out.length, limit: 1000 }))
    const items = page[key] || []
    total = page.total ?? items.length
    out.push(...items)
    if (!items.length) break
  }
  return out
}

// getCursor reads every page of an after=-paged list (users, pairings,
// counterparties).
export async function getCursor(path, key, params = {}, limit = 500, max = 50_000) {
  const out = []
  let after = ''
  for (;;) {
    const page = await get(path + qs({ ...params, after, limit }))
    out.push(...(page[key] || []))
    if (!page.more || !page.next || out.length >= max) break
    after = page.next
  }
  return out
}

// blob fetches a file with the token (photos, exports, templates).
export async function blob(path) {
  const resp = await call('GET', path)
  const cd = resp.headers.get('Content-Disposition') || ''
  let name = ''
  const star = cd.match(/filename\*=UTF-8''([^;]+)/i)
  if (star) name = decodeURIComponent(star[1])
  else { const m = cd.match(/filename="?([^";]+)"?/i); if (m) name = m[1] }
  return { blob: await resp.blob(), name, type: resp.headers.get('Content-Type') || '' }
}

// download saves a file the server makes (an export) under its own name.
export async function download(path, fallback) {
  const f = await blob(path)
  const url = URL.createObjectURL(f.blob)
  const a = document.createElement('a')
  a.href = url
  a.download = f.name || fallback
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
  return f
}

export async function signIn(username, password) {
  const resp = await send('POST', '/v1/auth/login', { body: { username, password } })
  const tr = await resp.json()
  if (tr.user.role !== 'admin' && tr.user.role !== 'viewer') {
    try { await send('POST', '/v1/auth/logout', { body: { refresh_token: tr.refresh_token } }) } catch { /* expires anyway */ }
    throw new HTTPError(403, { message: 'console_roles' }) // no code: Login.vue reads the message
  }
  setTokens(tr)
  keepLanguage(tr.user)
}

// keepLanguage keeps the console's language on the administrator's user
// (PATCH /v1/me), so their notifications are written in it: at sign-in
// when it differs from the stored one, and at each switch.
function keepLanguage(user) {
  const lang = locale.value === 'en' ? 'en' : 'zh'
  if (!user || (user.language || 'zh') === lang) return
  api('PATCH', '/v1/me', { language: lang }).then((u) => { if (session.user && u) { session.user = { ...session.user, language: u.language }; save() } }).catch(() => { /* kept at the next switch or sign-in */ })
}

watch(locale, () => { if (signedIn()) keepLanguage(session.user) })

function signOutLocal() {
  session.user = null
  session.access = ''
  session.refresh = ''
  session.expires = 0
  save()
}

export async function signOut() {
  if (session.refresh) {
    try { await send('POST', '/v1/auth/logout', { body: { refresh_token: session.refresh } }) } catch { /* expires anyway */ }
  }
  signOutLocal()
}

export const isAdmin = () => session.user && session.user.role === 'admin'

// changePassword changes the signed-in administrator's password; the server
// ends their other sign-ins and answers new tokens, kept at once (the
// console goes on working), with the user (must_change_password cleared).
export async function changePassword(oldPassword, newPassword) {
  const resp = await call('POST', '/v1/me/password', { body: { old_password: oldPassword, new_password: newPassword } })
  setTokens(await resp.json())
}
