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
  constructor(status, body) {
    super(body && body.code ? errorText(body) : (body && body.message) || `HTTP ${status}`)
    this.status = status
    this.code = (body && body.code) || 'internal'
    this.field = body && body.field
    this.reason = body && body.reason
    this.args = body && body.args
    this.serverMessage = body && body.message
  }
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

async function send(method, path, { body, token, headers = {}, raw = false } = {}) {
  const h = { Accept: 'application/json', 'Accept-Language': acceptLanguage(), ...headers }
  let b = body
  if (body !== undefined && !(body instanceof Blob) && typeof body !== 'string') {
    b = JSON.stringify(body)
    h['Content-Type'] = 'application/json'
  } else if (typeof body === 'string') {
    h['Content-Type'] = 'application/json'
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
  if (problem && resp.headers.get('Retry-After')) problem.retryAfter = resp.headers.get('Retry-After')
  throw new HTTPError(resp.status, problem)
}

// request sends one API request; auth: with the session's access token.
// raw: the answer's text (sync bodies go to syncproto.wasm as they are).
export async function request(method, path, { body, auth = true, headers, raw } = {}) {
  if (!auth) return send(method, path, { body, headers, raw })
  let token = await accessToken()
  try {
    return await send(method, path, { body, token, headers, raw })
  } catch (e) {
    if (!(e instanceof HTTPError) || e.status !== 401) throw e
    await refresh(true)
    token = session.accessToken
    return send(method, path, { body, token, headers, raw })
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
// device, whose id becomes the replica id of every local write.
export async function signIn(username, password, deviceName) {
  const existing = await loadSession()
  if (existing && existing.deviceId && existing.username !== username) {
    throw new HTTPError(409, { code: 'conflict', message: 'other_user' })
  }
  if (existing && existing.deviceId) {
    const tr = await send('POST', '/v1/auth/login', { body: { username, password, device_id: existing.deviceId } })
    await saveSession({ ...existing, userId: tr.user.id, user: tr.user, accessToken: tr.access_token, refreshToken: tr.refresh_token, accessExpires: expiresAt(tr.expires_in) })
    return { registered: false }
  }
  const first = await send('POST', '/v1/auth/login', { body: { username, password } })
  const reg = await send('POST', '/v1/devices', { body: { name: deviceName }, token: first.access_token })
  // The sign-in is bound to the device now (its refresh token too).
  await saveSession({
    server: location.origin, username, userId: first.user.id, user: first.user, deviceId: reg.device.id,
    accessToken: reg.access_token, refreshToken: first.refresh_token, accessExpires: expiresAt(reg.expires_in),
  })
  return { registered: true, deviceId: reg.device.id }
}

export async function signOut() {
  if (session && session.refreshToken) {
    try { await send('POST', '/v1/auth/logout', { body: { refresh_token: session.refreshToken } }) } catch { /* offline: the token expires */ }
  }
  session = null
}
