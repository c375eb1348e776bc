// Showing field values to people.
import { choiceLabel, fieldSpec, showTime } from './domain.js'
import { state } from './engine.js'
import { t } from './i18n.js'

// userName names a person from their user id, never showing the id: the
// people of the user's pairings (engine refreshPeople), else "其他人员".
export function userName(id) {
  if (!id) return ''
  if (state.me && id === state.me.id) return t('me')
  const p = state.people.users[id]
  return p ? p.name : t('someone')
}

// personLabel is a person's name with their role: 张伟（联络员）.
export function personLabel(p) {
  if (!p || !p.name) return p && p.role === 'admin' ? t('consoleAdmin') : t('someone')
  return p.role ? `${p.name}（${t('role_' + p.role)}）` : p.name
}

export function showValue(collection, field, v) {
  if (v === null || v === undefined) return '—'
  const f = fieldSpec(collection, field)
  const type = f && f.type
  if (type === 'enum') return choiceLabel(collection, field, v)
  if (type === 'time') return showTime(v)
  if (type === 'participants' || type === 'persons') return v.map((p) => [p.name, p.title, p.org].filter(Boolean).join(' ')).join('；')
  if (type === 'location') return `${Number(v.lat).toFixed(5)}, ${Number(v.lng).toFixed(5)}` + (v.accuracy_m != null ? ` (±${Math.round(v.accuracy_m)} m)` : '')
  if (type === 'photos') return t('photosN', { n: v.length })
  if (type === 'ids') return v.map(userName).join('、')
  if (typeof v === 'object') return JSON.stringify(v)
  return String(v)
}
