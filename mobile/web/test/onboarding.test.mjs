// The onboarding screens' rules that run before anything is sent: password
// checks counted as the server counts (code points), the code taken from a
// link or typed, and how long a 429 says to wait.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { newPasswordProblem, waitText, codeFromHash, rulesText } from '../src/onboarding.js'
import { retryAfterSeconds, cleanCode } from '../src/api.js'

const rules = { min_length: 8, max_length: 128 }

test('new password: length in characters as the server counts, both entries equal', () => {
  assert.match(newPasswordProblem('七个汉字的密码', '七个汉字的密码', rules), /至少需要 8 个字符（现在 7 个）/)
  assert.equal(newPasswordProblem('八个汉字组成的密码', '八个汉字组成的密码', rules), '')
  assert.equal(newPasswordProblem('😀😀😀😀😀😀😀😀', '😀😀😀😀😀😀😀😀', rules), '') // 8 characters, 16 UTF-16 units
  assert.match(newPasswordProblem('x'.repeat(129), 'x'.repeat(129), rules), /最多 128 个字符/)
  assert.match(newPasswordProblem('correct-horse', 'correct-horsE', rules), /两次输入的密码不一致/)
  assert.match(rulesText(rules), /8–128 个字符/)
})

test('429: the wait in minutes from Retry-After (seconds or a date) or retry_after', () => {
  const h = (v) => new Headers(v === undefined ? {} : { 'Retry-After': v })
  assert.equal(retryAfterSeconds(h('120'), null), 120)
  assert.equal(retryAfterSeconds(h(), { retry_after: 61 }), 61)
  const at = new Date(Date.now() + 300_000).toUTCString()
  assert.ok(Math.abs(retryAfterSeconds(h(at), null) - 300) <= 2)
  assert.equal(retryAfterSeconds(h(), null), 0)
  assert.equal(waitText({ retryAfter: 900 }), '尝试次数过多，请在 15 分钟后再试')
  assert.equal(waitText({ retryAfter: 61 }), '尝试次数过多，请在 2 分钟后再试')
  assert.equal(waitText({ retryAfter: 5 }), '尝试次数过多，请在 1 分钟后再试')
})

test('the code from a link or as typed', () => {
  assert.equal(codeFromHash('#code=ABCDEFGH2345'), 'ABCDEFGH2345')
  assert.equal(codeFromHash('#x=1&code=ABCD-EFGH-2345'), 'ABCD-EFGH-2345')
  assert.equal(codeFromHash(''), '')
  assert.equal(cleanCode(' abcd efgh·2345 '), 'ABCDEFGH2345')
})

test('after sign-in: back to the screen a link opened, never to another site', async () => {
  const { safeNext } = await import('../src/onboarding.js')
  assert.equal(safeNext('/issues/i-1'), '/issues/i-1')
  assert.equal(safeNext('/projects/p-1?tab=x'), '/projects/p-1?tab=x')
  for (const bad of [undefined, '', 'https://evil.example/', '//evil.example/x', '/\\evil.example', 'issues/1', ['/a']]) {
    assert.equal(safeNext(bad), '/', String(bad))
  }
})
