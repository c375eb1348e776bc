// The HTTP side of the app: JSON requests with the device-bound session,
// refreshing the access token before it expires and once on a 401 (refresh
// tokens are single use: the new pair is stored at once). Mirrors
// mobile/client.go.
import { getMeta, setMeta } from './db.js'
import { errorText } from './errors.js'
import { locale } from './i18n.js'

// HTTPError is an error answer; its message is in the person's language
// (errors.js: from its code and reason, never the code itself).
export class HTTPError extends Error {
  constructor(status, body, headers) {
    super(body && body.code ? errorText(body) : (body && body.message) || `HTTP ${status}`)
    this.status = status
    this.code = (body && body.code) || 'internal'
    this.field = body && body.field
    this.reason = body && body.reason
    this.args = body && body.args
    this.serverMessage = body && body.message
    // retryAfter: seconds to wait (429, 503), from Retry-After or the body.
    this.retryAfter = retryAfterSeconds(headers, body)
    if (body && this.retryAfter) body.retryAfter = this.retryAfter
  }
}

// retryAfterSeconds reads Retry-After (seconds or an HTTP date) or a
// retry_after field; 0 when neither says.
export function retryAfterSeconds(headers, body) {
  const v = (headers && headers.get && headers.get('Retry-After')) || (body && body.retry_after)
  if (v === undefined || v === null || v === '') return 0
  const n = Number(v)
  if (Number.isFinite(n)) return Math.max(0, Math.ceil(n))
  const at = Date.parse(v)
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - Date.now()) / 1000)) : 0
}

// acceptLanguage is sent with every request: the server's own text follows
// the language chosen in the app (server/messages.go).
export const acceptLanguage = () => (locale.value === 'en' ? 'en' : 'zh-CN,zh;q=0.9')

// Offline: the request could not reach the server at all.
export class OfflineError extends Error {
  constructor(cause) {
    super('offline')
    this.cause = cause
  }
}

const REFRESH_AHEAD_MS = 60_000

let session = null
let refreshing = null
let onSessionEnded = () => {}

export async function loadSession() {
  session = (await getMeta('session')) || null
  return session
}
export const currentSession = () => session
export function setSessionEndedHandler(fn) { onSessionEnded = fn }

export async function saveSession(s) {
  session = s
  await setMeta('session', s)
}

function expiresAt(expiresIn) {
  const sec = expiresIn > 0 && expiresIn <= 600 ? expiresIn : 600
  return Date.now() + sec * 1000
}

// Push bodies go gzip-compressed where the browser can (CompressionStream;
// older phones send them plain, which the server takes as before): about a
// fifth of the bytes for visits (issue 20). A server that answers 415 to a
// compressed body gets plain ones from then on.
const MIN_GZIP = 1024
let noGzip = false

async function gzip(text) {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'))
  return new Uint8Array(await new Response(stream).arrayBuffer())
}

async function send(method, path, { body, token, headers = {}, raw = false, compress = false } = {}) {
  const h = { Accept: 'application/json', 'Accept-Language': acceptLanguage(), ...headers }
  let b = body
  if (body !== undefined && !(body instanceof Blob) && typeof body !== 'string') {
    b = JSON.stringify(body)
    h['Content-Type'] = 'application/json'
  } else if (typeof body === 'string') {
    h['Content-Type'] = 'application/json'
  }
  if (compress && !noGzip && typeof b === 'string' && b.length >= MIN_GZIP && typeof CompressionStream === 'function') {
    try {
      const packed = new Blob([await gzip(b)])
      return await send(method, path, { body: packed, token, raw, headers: { ...headers, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' } })
    } catch (e) {
      if (!(e instanceof HTTPError) || e.status !== 415) throw e
      noGzip = true // a server (or proxy) that takes no gzip: plain from now on
    }
  }
  if (token) h.Authorization = 'Bearer ' + token
  let resp
  try {
    resp = await fetch(path, { method, headers: h, body: b, cache: 'no-store' })
  } catch (e) {
    throw new OfflineError(e)
  }
  const text = await resp.text()
  if (resp.ok) return raw ? text : (text ? JSON.parse(text) : null)
  let problem = null
  try { problem = JSON.parse(text) } catch { /* not a problem body */ }
  if (problem) problem.retryAfter = retryAfterSeconds(resp.headers, problem) || undefined
  throw new HTTPError(resp.status, problem, resp.headers)
}

// request sends one API request; auth: with the session's access token.
// raw: the answer's text (sync bodies go to syncproto.wasm as they are).
// compress: send a large body gzip-compressed where the browser can.
export async function request(method, path, { body, auth = true, headers, raw, compress } = {}) {
  if (!auth) return send(method, path, { body, headers, raw, compress })
  let token = await accessToken()
  try {
    return await send(method, path, { body, token, headers, raw, compress })
  } catch (e) {
    if (!(e instanceof HTTPError) || e.status !== 401) throw e
    await refresh(true)
    token = session.accessToken
    return send(method, path, { body, token, headers, raw, compress })
  }
}

async function accessToken() {
  if (!session || !session.refreshToken) throw new HTTPError(401, { code: 'unauthorized', message: 'sign in' })
  if (session.accessToken && Date.now() + REFRESH_AHEAD_MS < session.accessExpires) return session.accessToken
  await refresh(false)
  return session.accessToken
}

async function refresh(force) {
  if (refreshing) return refreshing
  refreshing = (async () => {
    if (!force && session.accessToken && Date.now() + REFRESH_AHEAD_MS < session.accessExpires) return
    try {
      const tr = await send('POST', '/v1/auth/refresh', { body: { refresh_token: session.refreshToken } })
      await saveSession({ ...session, accessToken: tr.access_token, refreshToken: tr.refresh_token, accessExpires: expiresAt(tr.expires_in) })
    } catch (e) {
      if (e instanceof HTTPError && e.status === 401) {
        // The sign-in ended (expired, revoked or reused): keep the data,
        // ask for the password again.
        await saveSession({ ...session, accessToken: '', refreshToken: '' })
        onSessionEnded()
      }
      throw e
    }
  })()
  try {
    await refreshing
  } finally {
    refreshing = null
  }
}

// signIn logs in online; the first time on this browser it registers the
// device, whose id becomes the replica id of every local write. On a
// device already registered it signs in with the device: the server checks
// that the device is the signed-in user's, whatever they typed (user name or
// phone). When it is another user's device, it throws an error with
// otherUser set (the caller decides whether the device may be wiped).
export async function signIn(username, password, deviceName) {
  const existing = await loadSession()
  if (existing && existing.deviceId) {
    let tr
    try {
      tr = await send('POST', '/v1/auth/login', { body: { username, password, device_id: existing.deviceId } })
    } catch (e) {
      if (e instanceof HTTPError && e.status === 400 && e.field === 'device_id') throw Object.assign(e, { otherUser: true })
      throw e
    }
    if (existing.userId && tr.user.id !== existing.userId) {
      // Not expected (the server checks the device's user); never mix two
      // people's data.
      try { await send('POST', '/v1/auth/logout', { body: { refresh_token: tr.refresh_token } }) } catch { /* it expires */ }
      throw Object.assign(new HTTPError(400, { code: 'validation', field: 'device_id', message: 'other_user' }), { otherUser: true })
    }
    await saveSession({ ...existing, userId: tr.user.id, user: tr.user, accessToken: tr.access_token, refreshToken: tr.refresh_token, accessExpires: expiresAt(tr.expires_in) })
    return { registered: false }
  }
  const first = await send('POST', '/v1/auth/login', { body: { username, password } })
  return registerDevice(first, username, deviceName)
}

// registerDevice registers this browser as a device of the user signed in
// by tr (a login's or an activation's answer) and keeps the session.
export async function registerDevice(tr, username, deviceName) {
  const reg = await send('POST', '/v1/devices', { body: { name: deviceName }, token: tr.access_token })
  // The sign-in is bound to the device now (its refresh token too).
  await saveSession({
    server: location.origin, username, userId: tr.user.id, user: tr.user, deviceId: reg.device.id,
    accessToken: reg.access_token, refreshToken: tr.refresh_token, accessExpires: expiresAt(reg.expires_in),
  })
  return { registered: true, deviceId: reg.device.id }
}

// ---- onboarding: activation codes, password rules, password change ----

// cleanCode keeps the letters and digits of a code as typed or pasted.
export const cleanCode = (code) => String(code || '').replace(/[^0-9a-z]/gi, '').toUpperCase()

// activationInfo asks whom an activation code is for (without using it).
export const activationInfo = (code) => send('POST', '/v1/auth/activation-info', { body: { code: cleanCode(code) } })

// passwordRules are the server's rules for a new password.
export const passwordRules = () => send('GET', '/v1/auth/password-rules')

// activate sets the password with the code; the answer signs the person in
// (not yet bound to this device).
export const activate = (code, password) => send('POST', '/v1/auth/activate', { body: { code: cleanCode(code), password } })

// dropTokens ends a sign-in this app will not keep.
export async function dropTokens(tr) {
  try { await send('POST', '/v1/auth/logout', { body: { refresh_token: tr.refresh_token } }) } catch { /* it expires */ }
}

// changePassword changes the signed-in user's password; the server ends
// the other sign-ins and answers new tokens for this device, kept at once.
export async function changePassword(oldPassword, newPassword) {
  const tr = await request('POST', '/v1/me/password', { body: { old_password: oldPassword, new_password: newPassword } })
  await saveSession({ ...session, user: tr.user, accessToken: tr.access_token, refreshToken: tr.refresh_token, accessExpires: expiresAt(tr.expires_in) })
  return tr
}

export async function signOut() {
  if (session && session.refreshToken) {
    try { await send('POST', '/v1/auth/logout', { body: { refresh_token: session.refreshToken } }) } catch { /* offline: the token expires */ }
  }
  session = null
}
