// What the onboarding screens share (activation, password change, sign-in
// refusals) in the field app and the console: the password rules as the
// server states them (GET /v1/auth/password-rules; the rule itself lives in
// server/auth), the check before submitting, and refusals in words that
// say what to do next.
import { t } from './i18n.js'
import { passwordRules, OfflineError } from './api.js'

let rules = null

// loadRules fetches the server's password rules once. Until they arrive
// (or offline) the screens show the server's documented defaults.
export async function loadRules() {
  if (!rules) {
    try { rules = await passwordRules() } catch { return { min_length: 8, max_length: 128, fallback: true } }
  }
  return rules
}

export const rulesText = (r) => t('pwRules', { min: r.min_length, max: r.max_length })

// newPasswordProblem says what is wrong with a new password before it is
// sent ('' when nothing): characters are counted as the server counts them
// (code points, so 汉字 count one each).
export function newPasswordProblem(pw, repeat, r) {
  const n = [...pw].length
  if (n < r.min_length) return t('pwTooShort', { min: r.min_length, n })
  if (n > r.max_length) return t('pwTooLong', { max: r.max_length })
  if (pw !== repeat) return t('pwMismatch')
  return ''
}

// waitText is the 429 message with how long to wait (Retry-After).
export function waitText(e) {
  const min = Math.max(1, Math.ceil((e.retryAfter || 0) / 60) || 15)
  return t('tooManyWait', { n: min })
}

// refusal turns an error of a sign-in, activation or password change into
// words: what happened and what to do next. where: 'login' | 'activate' |
// 'password'.
export function refusal(e, where) {
  if (e.i18n) return t(e.i18n)
  // The console's fetch fails with a TypeError when the server is out of reach.
  if (e instanceof OfflineError || e instanceof TypeError) return t('offlineTry')
  const status = e.status || 0
  if (status === 429) return waitText(e)
  if (status >= 500) return t('serverBusy')
  if (status === 400 && e.field === 'code') return t('codeBad')
  if (status === 400 && (e.field === 'password' || e.field === 'new_password')) return rulesText(rules || { min_length: 8, max_length: 128 })
  if (status === 400 && e.field === 'old_password') return t('oldPasswordWrong')
  if (status === 401) return where === 'activate' ? t('accountDisabled') : where === 'password' ? t('sessionEnded') : t('badPassword')
  return e.message
}

// showWhen shows a time as people read it: 2026-03-01 09:30 in China time.
export function showWhen(at) {
  const d = new Date(at)
  if (isNaN(d)) return ''
  return new Date(d.getTime() + 8 * 3600e3).toISOString().slice(0, 16).replace('T', ' ')
}

// codeFromHash reads the code an activation link carries in its fragment
// (/activate#code=…), so it never reaches a server log.
export function codeFromHash(hash) {
  const m = /(?:^#|&)code=([^&]+)/.exec(hash || '')
  return m ? decodeURIComponent(m[1]) : ''
}

// safeNext is where to go after signing in (the login screen's ?next=, set
// by the router when a link such as a notification's opened a screen while
// signed out): next when it is a path of this app ("/…", never "//host",
// "/\\host" or a URL elsewhere), else home.
export function safeNext(next) {
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/'
}
