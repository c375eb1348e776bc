// A kept conflict on a project's status, or a refused move: the app says in
// words why a value cannot be chosen now and which it may choose
// (src/moves.js, with the server's table as GET /v1/schema publishes it:
// here a copy of server/pairing's projectMoves, in the schema's shape).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { moveRefusal, movesFrom } from '../src/moves.js'
import { errorText, setErrorSchema } from '../src/errors.js'
import { locale } from '../src/i18n.js'

const schema = {
  project_moves: {
    '': { proposed: ['officer', 'admin'], approved: ['admin'] },
    proposed: { approved: ['admin'], cancelled: ['officer', 'admin'], deferred: ['officer', 'admin'] },
    approved: { in_progress: ['officer', 'admin'], cancelled: ['officer', 'admin'], deferred: ['officer', 'admin'] },
    deferred: { approved: ['admin'], in_progress: ['admin'], cancelled: ['officer', 'admin'] },
    cancelled: {},
  },
  // The labels the app has from the same schema (the server's words).
  collections: [{
    name: 'projects',
    fields: [{
      name: 'status', label: { zh: '状态', en: 'Status' },
      enum: [['proposed', '待立项', 'Proposed'], ['approved', '已立项', 'Approved'], ['in_progress', '推进中', 'In progress'],
        ['deferred', '已暂缓', 'Deferred'], ['cancelled', '已取消', 'Cancelled']].map(([value, zh, en]) => ({ value, label: { zh, en } })),
    }],
  }],
}
setErrorSchema(schema)

test('a cancelled project cannot be moved back: refused in words, no valid choice', () => {
  locale.value = 'zh'
  const why = moveRefusal(schema, 'officer', 'cancelled', 'in_progress')
  assert.deepEqual(why, { code: 'validation_failed', reason: 'project_move', args: { from: 'cancelled', to: 'in_progress', role: 'officer' } })
  const words = errorText(why, 'projects')
  assert.match(words, /实事项目不能从/)
  assert.doesNotMatch(words, /cancelled|in_progress|\{/, `no codes or placeholders left: ${words}`)
  assert.deepEqual(movesFrom(schema, 'officer', 'cancelled'), [])
})

test('a move the role may not make names the role; the valid choices are the role\'s', () => {
  locale.value = 'zh'
  const why = moveRefusal(schema, 'officer', 'deferred', 'approved')
  assert.equal(why.reason, 'project_move_role')
  assert.match(errorText(why, 'projects'), /联络员/)
  assert.deepEqual(movesFrom(schema, 'officer', 'deferred'), ['cancelled'])
  assert.deepEqual(movesFrom(schema, 'admin', 'deferred').sort(), ['approved', 'cancelled', 'in_progress'])
})

test('an allowed move or the current value is no refusal', () => {
  assert.equal(moveRefusal(schema, 'admin', 'proposed', 'approved'), null)
  assert.equal(moveRefusal(schema, 'officer', 'approved', 'approved'), null)
  locale.value = 'en'
  assert.match(errorText(moveRefusal(schema, 'officer', 'cancelled', 'approved'), 'projects'), /project/i)
  locale.value = 'zh'
})
