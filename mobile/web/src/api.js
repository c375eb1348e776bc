// The field app's sign-in: a device-bound session kept in IndexedDB, its
// requests sent through the shared client (http.js), which refreshes the
// access token and keeps each new pair at once.
import { getMeta, setMeta } from './db.js'
import { HTTPError, answer, expiresAt, sendJSON as send, signedInClient } from './http.js'

export { HTTPError, OfflineError, acceptLanguage, retryAfterSeconds } from './http.js'

let session = null
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

const client = signedInClient({
  tokens: () => ({ access: session?.accessToken || '', refresh: session?.refreshToken || '', expires: session?.accessExpires || 0 }),
  keep: (tr) => saveSession({ ...session, accessToken: tr.access_token, refreshToken: tr.refresh_token, accessExpires: expiresAt(tr.expires_in) }),
  // The sign-in ended (expired, revoked or reused): keep the data, ask for
  // the password again.
  ended: async () => {
    await saveSession({ ...session, accessToken: '', refreshToken: '' })
    onSessionEnded()
  },
})

// Push bodies go gzip-compressed where the browser can (CompressionStream;
// older phones send them plain, which the server takes as before): about a
// fifth of the bytes for visits. A server that answers 415 to a compressed
// body gets plain ones from then on.
const MIN_GZIP = 1024
let noGzip = false

async function gzip(text) {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'))
  return new Blob([await new Response(stream).arrayBuffer()])
}

// request sends one API request; auth: with the session's access token.
// raw: the answer's text (sync bodies go to syncproto.wasm as they are).
// compress: send a large string body gzip-compressed where the browser can.
export async function request(method, path, { body, auth = true, headers, raw = false, compress = false } = {}) {
  if (compress && !noGzip && typeof body === 'string' && body.length >= MIN_GZIP && typeof CompressionStream === 'function') {
    try {
      const packed = await gzip(body)
      return await request(method, path, { body: packed, auth, raw, headers: { ...headers, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' } })
    } catch (e) {
      if (!(e instanceof HTTPError) || e.status !== 415) throw e
      noGzip = true // a server (or proxy) that takes no gzip: plain from now on
    }
  }
  if (!auth) return send(method, path, { body, headers, raw })
  return answer(await client.call(method, path, { body, headers }), raw)
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
