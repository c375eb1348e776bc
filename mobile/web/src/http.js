// The one HTTP client of the field app and the console: JSON requests in
// the person's language, error answers as HTTPError, and a sign-in's access
// token refreshed before it expires and once on a 401. Refresh tokens are
// single use, so concurrent requests share one refresh and the new pair is
// kept at once. Where the tokens live is the caller's: the field app keeps
// a device session in IndexedDB (api.js), the console its own tokens in
// localStorage (console/session.js). Mirrors mobile/client.go.
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

// OfflineError: the request could not reach the server at all; its message
// is the browser's.
export class OfflineError extends Error {
  constructor(cause) {
    super((cause && cause.message) || 'offline')
    this.cause = cause
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

// send makes one request and returns the Response when it is a success. A
// body that is not a Blob, FormData or string is sent as JSON; token, when
// given, is sent as the bearer. It throws HTTPError for an error answer and
// OfflineError when the server cannot be reached.
export async function send(method, path, { body, token, headers = {} } = {}) {
  const h = { Accept: 'application/json', 'Accept-Language': acceptLanguage(), ...headers }
  let b = body
  if (typeof body === 'string') {
    h['Content-Type'] = 'application/json'
  } else if (body !== undefined && !(body instanceof Blob) && !(body instanceof FormData)) {
    b = JSON.stringify(body)
    h['Content-Type'] = 'application/json'
  }
  if (token) h.Authorization = 'Bearer ' + token
  let resp
  try {
    resp = await fetch(path, { method, headers: h, body: b, cache: 'no-store' })
  } catch (e) {
    throw new OfflineError(e)
  }
  if (resp.ok) return resp
  let problem = null
  try { problem = JSON.parse(await resp.text()) } catch { /* not a problem body */ }
  if (problem) problem.retryAfter = retryAfterSeconds(resp.headers, problem) || undefined
  throw new HTTPError(resp.status, problem, resp.headers)
}

// answer reads a Response's JSON (null when empty), or its text with raw.
export async function answer(resp, raw = false) {
  const text = await resp.text()
  return raw ? text : (text ? JSON.parse(text) : null)
}

// sendJSON is send returning the answer (see answer).
export async function sendJSON(method, path, { raw = false, ...opts } = {}) {
  return answer(await send(method, path, opts), raw)
}

const REFRESH_AHEAD_MS = 60_000

// expiresAt is when an access token that lives expiresIn seconds (at most
// the server's 10 minutes) expires, in milliseconds.
export function expiresAt(expiresIn) {
  const sec = expiresIn > 0 && expiresIn <= 600 ? expiresIn : 600
  return Date.now() + sec * 1000
}

// signedInClient sends requests as a sign-in whose tokens the caller keeps:
// tokens() returns them as { access, refresh, expires } (expires: from
// expiresAt), keep(answer) stores a refresh's answer, ended() is told when
// the sign-in has ended (expired, revoked, or its refresh token reused).
export function signedInClient({ tokens, keep, ended }) {
  let refreshing = null
  const fresh = (t) => t.access && Date.now() + REFRESH_AHEAD_MS < t.expires

  // refresh exchanges the refresh token for a new pair; unless force, not
  // when another request's refresh has just made the access token fresh.
  function refresh(force) {
    if (!refreshing) {
      refreshing = (async () => {
        if (!force && fresh(tokens())) return
        try {
          await keep(await sendJSON('POST', '/v1/auth/refresh', { body: { refresh_token: tokens().refresh } }))
        } catch (e) {
          if (e instanceof HTTPError && e.status === 401) await ended()
          throw e
        }
      })().finally(() => { refreshing = null })
    }
    return refreshing
  }

  // token is a fresh access token.
  async function token() {
    if (!tokens().refresh) throw new HTTPError(401, { code: 'unauthorized', message: 'sign in' })
    if (!fresh(tokens())) await refresh(false)
    return tokens().access
  }

  // call sends a request with the access token and returns the Response;
  // on a 401 it refreshes once and tries again.
  async function call(method, path, opts = {}) {
    try {
      return await send(method, path, { ...opts, token: await token() })
    } catch (e) {
      if (!(e instanceof HTTPError) || e.status !== 401 || !tokens().refresh) throw e
      await refresh(true)
      return send(method, path, { ...opts, token: tokens().access })
    }
  }

  return { call, token }
}
