// The audit log in words: each action code the server records
// (server: s.audit and auditChanges) has a Chinese and an English name;
// objects are named (a person, a pairing, a unit…), never shown as ids; the
// server's English details are put into words or left out of a Chinese
// screen.
import { locale, t } from '../i18n.js'
import { choiceLabel } from '../domain.js'
import { userName, unitName, cpName, pairingName } from './store.js'

export const auditActions = {
  login: ['登录', 'Signed in'],
  login_failed: ['登录失败', 'Sign-in failed'],
  login_throttled: ['登录受限（尝试过多）', 'Sign-in throttled'],
  logout: ['退出登录', 'Signed out'],
  refresh_reuse: ['登录凭证被重复使用（已全部注销）', 'Refresh token reused (sessions ended)'],
  activate: ['激活账号', 'Activated the account'],
  activate_failed: ['激活失败', 'Activation failed'],
  password_change: ['修改密码', 'Changed the password'],
  password_change_failed: ['修改密码失败', 'Password change failed'],
  denied: ['无权限的访问被拒绝', 'Access denied'],
  device_register: ['登记设备', 'Registered a device'],
  device_revoke: ['停用设备', 'Revoked a device'],
  keys_rotate: ['更换签名密钥', 'Rotated the signing key'],
  user_create: ['新建用户', 'Created a user'],
  user_update: ['修改用户', 'Changed a user'],
  user_reset: ['重置密码', 'Reset a password'],
  org_unit_create: ['新建单位', 'Created an org unit'],
  org_unit_update: ['修改单位', 'Changed an org unit'],
  'counterparty.create': ['新建共建单位', 'Created a counterparty'],
  'counterparty.update': ['修改共建单位', 'Changed a counterparty'],
  'pairing.create': ['新建结对', 'Created a pairing'],
  'pairing.update': ['修改结对', 'Changed a pairing'],
  'pairing.end': ['结束结对', 'Ended a pairing'],
  'project.create': ['新建实事项目', 'Created a project'],
  'project.update': ['修改实事项目', 'Changed a project'],
  'project.verify': ['审核验收实事项目', 'Verified a project'],
  'project.accepted': ['联系人验收实事项目', 'Contact accepted a project'],
  'visit.return': ['退回走访', 'Returned a visit'],
  'photos.gc': ['清理无用照片', 'Removed unused photos'],
  'directory.import': ['导入共建单位和结对', 'Imported counterparties and pairings'],
  'directory.import.dry_run': ['试导入（未保存）', 'Import checked (not saved)'],
  rating: ['满意度评价', 'Rated the service'],
}

const results = { ok: ['成功', 'ok'], denied: ['被拒绝', 'denied'], not_found: ['不存在', 'not found'], failed: ['失败', 'failed'] }
const kinds = {
  user: ['用户', 'user'], device: ['设备', 'device'], pairing: ['结对', 'pairing'], org_unit: ['单位', 'org unit'],
  counterparty: ['共建单位', 'counterparty'], issue: ['诉求', 'issue'], project: ['实事项目', 'project'], visit: ['走访', 'visit'],
  session: ['登录会话', 'session'], key: ['签名密钥', 'signing key'], import: ['导入', 'import'], photos: ['照片', 'photos'],
}
const en = () => (locale.value === 'en' ? 1 : 0)

// auditAction names an action code; issue.<event> takes the event's name.
export function auditAction(code) {
  if (auditActions[code]) return auditActions[code][en()]
  if (code && code.startsWith('issue.')) return [`诉求：${choiceLabel('issue_events', 'type', code.slice(6))}`, `Issue: ${choiceLabel('issue_events', 'type', code.slice(6))}`][en()]
  return t('c_otherAction')
}

// auditObject names "kind:id": the person, unit, pairing or counterparty by
// name; other kinds by their kind only.
export function auditObject(object) {
  if (!object) return ''
  const i = object.indexOf(':')
  const kind = i < 0 ? object : object.slice(0, i)
  const id = i < 0 ? '' : object.slice(i + 1)
  const k = kinds[kind] ? kinds[kind][en()] : ''
  const name = { user: userName, org_unit: unitName, counterparty: cpName, pairing: pairingName }[kind]
  if (name && id) return `${k} ${name(id)}`
  return k || t('c_otherObject')
}

export const auditResult = (r) => (results[r] ? results[r][en()] : r ? t('c_otherObject') : '')

const han = /\p{Script=Han}/u
// auditDetail puts the server's detail into words: text people typed (a
// reason, a note) as it is; the server's own English notes translated where
// known, else left out of a Chinese screen.
export function auditDetail(d) {
  if (!d) return ''
  if (en()) return d.replace(/pairing (\S+)/, (_, id) => 'pairing ' + pairingName(id))
  let m = /^pairing (\S+)(, recorded with the contact's code)?$/.exec(d)
  if (m) return `结对 ${pairingName(m[1])}${m[2] ? '，凭联系人确认码记录' : ''}`
  if ((m = /^role (\w+)$/.exec(d))) return `角色：${t('roles_' + m[1])}`
  if ((m = /^changed (.+)$/.exec(d))) return `修改了：${m[1].split(',').map((f) => ({ name: '姓名', phone: '手机号', role: '角色', org_unit: '单位', disabled: '停用' })[f] || '其他').join('、')}`
  if ((m = /^(\d+) photos, (\d+) bytes removed$/.exec(d))) return `删除照片 ${m[1]} 张，共 ${m[2]} 字节`
  if (/refresh token/.test(d)) return '旧的登录凭证被再次使用，已注销该账号的相关登录'
  return han.test(d) && !/[A-Za-z]{3,} [A-Za-z]{3,}/.test(d) ? d : ''
}
