// A tiny i18n: Chinese by default (DOMAIN.md: the default language of every
// screen), English switchable; the choice is kept in localStorage. Labels of
// the domain's fields and choices come from GET /v1/schema ({zh, en}).
import { ref } from 'vue'

const saved = typeof localStorage !== 'undefined' ? localStorage.getItem('pairsync.locale') : null
export const locale = ref(saved === 'en' ? 'en' : 'zh')

export function setLocale(l) {
  locale.value = l
  localStorage.setItem('pairsync.locale', l)
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en'
}

const dict = {
  app: ['结对共建', 'Pairing work'],
  signIn: ['登录', 'Sign in'],
  signOut: ['退出登录', 'Sign out'],
  username: ['用户名或手机号', 'User name or phone'],
  password: ['密码', 'Password'],
  signInHint: ['首次登录需要联网；之后离线也可记录。', 'The first sign-in needs a network; after that you can record offline.'],
  badPassword: ['用户名或密码不正确', 'Wrong user name or password'],
  tooMany: ['尝试次数过多，请稍后再试', 'Too many attempts; try again later'],
  otherUser: ['此设备上还有其他账号未同步的记录', 'Another account on this device has changes not yet synced'],
  offlineSignIn: ['无法连接服务器，请联网后登录', 'Cannot reach the server; connect to sign in'],
  sessionEnded: ['登录已过期，请重新登录（本机数据已保留）', 'Your sign-in ended; sign in again (local data is kept)'],
  myPairings: ['我的结对', 'My pairings'],
  noPairings: ['暂无结对，请联网同步', 'No pairings yet: sync when online'],
  pendingN: ['待同步 {n}', '{n} pending'],
  offline: ['离线', 'Offline'],
  syncing: ['同步中 {x}/{y}', 'Syncing {x} of {y}'],
  caughtUp: ['已同步', 'Caught up'],
  notSynced: ['尚未同步', 'Not synced yet'],
  syncFailed: ['同步失败：{m}', 'Sync failed: {m}'],
  syncNow: ['立即同步', 'Sync now'],
  photosPending: ['照片待上传 {n}', '{n} photos to upload'],
  visits: ['走访', 'Visits'],
  issues: ['诉求', 'Issues'],
  projects: ['实事项目', 'Projects'],
  newVisit: ['新建走访', 'New visit'],
  editVisit: ['编辑走访', 'Edit visit'],
  newIssue: ['提出诉求', 'Raise an issue'],
  noVisits: ['暂无走访记录', 'No visits yet'],
  noIssues: ['暂无诉求', 'No issues'],
  noProjects: ['暂无实事项目', 'No projects'],
  save: ['保存', 'Save'],
  saved: ['已保存，将在联网时同步', 'Saved; it syncs when online'],
  cancel: ['取消', 'Cancel'],
  locate: ['获取位置', 'Get location'],
  locating: ['定位中…', 'Locating…'],
  accuracy: ['精度 {n} 米', 'accuracy {n} m'],
  noLocation: ['无法获取位置', 'Location unavailable'],
  addParticipant: ['添加参加人员', 'Add participant'],
  name: ['姓名', 'Name'],
  title: ['职务', 'Title'],
  org: ['单位', 'Organisation'],
  addPhotos: ['拍照 / 选择照片', 'Take or choose photos'],
  compressing: ['正在压缩照片…', 'Compressing photos…'],
  issuesRaised: ['走访中收集的诉求', 'Issues raised in this visit'],
  addIssue: ['添加诉求', 'Add an issue'],
  remove: ['删除', 'Remove'],
  required: ['请填写{f}', '{f} is required'],
  pendingTag: ['待同步', 'Pending'],
  conflictTag: ['有冲突', 'Conflict'],
  photosN: ['{n} 张照片', '{n} photos'],
  status: ['状态', 'Status'],
  history: ['办理记录', 'History'],
  sign: ['签收', 'Sign for it'],
  respond: ['答复', 'Respond'],
  resolution: ['办理结果', 'Resolution'],
  note: ['说明', 'Note'],
  confirm: ['确认解决', 'Confirm resolved'],
  dispute: ['有异议', 'Dispute'],
  reason: ['理由', 'Reason'],
  rate: ['满意度评价', 'Rate the service'],
  comment: ['评价意见', 'Comment'],
  submit: ['提交', 'Submit'],
  ratedAs: ['评价：{l}', 'Rated: {l}'],
  handler: ['承办人', 'Handler'],
  due: ['办理期限', 'Due'],
  overdue: ['已超期', 'Overdue'],
  me: ['我', 'me'],
  milestones: ['项目节点', 'Milestones'],
  addMilestone: ['添加节点', 'Add a milestone'],
  markDone: ['标记完成', 'Mark done'],
  done: ['已完成', 'Done'],
  accept: ['验收通过', 'Accept the project'],
  accepted: ['联系人已验收', 'Accepted by the contact'],
  moveTo: ['推进到：', 'Move to:'],
  review: ['待处理', 'To review'],
  conflicts: ['冲突', 'Conflicts'],
  rejected: ['被拒绝的修改', 'Rejected changes'],
  nothingToReview: ['没有需要处理的冲突或被拒绝的修改', 'No conflicts or rejected changes'],
  keepThis: ['采用此值', 'Keep this'],
  current: ['当前值', 'Current'],
  otherValue: ['另一设备的值', 'Other device\'s value'],
  editDelete: ['此记录在一台设备上被删除、在另一台设备上被修改', 'Deleted on one device and edited on another'],
  keepRecord: ['保留记录', 'Keep the record'],
  deleteRecord: ['删除记录', 'Delete it'],
  dismiss: ['忽略', 'Dismiss'],
  editAgain: ['重新编辑', 'Edit again'],
  language: ['English', '中文'],
  device: ['本机', 'This device'],
  mustSignCode: ['', ''],
  raisedBy: ['提出人', 'Raised by'],
  visitedAt: ['走访时间', 'Visited at'],
  back: ['返回', 'Back'],
  returnedNote: ['被退回：{m}', 'Returned: {m}'],
  missingPhotos: ['照片未上传', 'Photos not uploaded'],
  console: ['管理后台', 'Console'],
  // words (web-words): people, conflicts, errors
  someone: ['其他人员', 'someone else'],
  consoleAdmin: ['管理员（管理后台）', 'an administrator (console)'],
  role_officer: ['联络员', 'officer'],
  role_contact: ['联系人', 'contact'],
  role_admin: ['管理员', 'administrator'],
  role_viewer: ['领导', 'viewer'],
  mine: ['我的', 'yours'],
  writtenBy: ['{who} · {when}', '{who} · {when}'],
  conflictHint: ['两人同时修改了同一项内容，请选择保留哪一个', 'Two people changed the same thing at once: choose which to keep'],
  notAllowedNow: ['不能选择此值：{why}', 'This value cannot be chosen: {why}'],
  validChoices: ['可以选择：', 'You may choose:'],
  op_set: ['修改', 'change'],
  op_delete: ['删除', 'delete'],
  op_keep: ['保留', 'keep'],
  chosen: ['已选择，将在同步后生效', 'Chosen; it takes effect once synced'],
}

// addMessages adds entries ({key: [zh, en]}) to the dictionary: the
// administrators' console brings its own (console/messages.js).
export function addMessages(more) { Object.assign(dict, more) }

// t returns the text of key in the current language, {name} filled from args.
export function t(key, args) {
  const e = dict[key]
  let s = e ? e[locale.value === 'en' ? 1 : 0] : key
  if (args) for (const [k, v] of Object.entries(args)) s = s.replaceAll('{' + k + '}', String(v))
  return s
}

// L picks the current language from a schema label {zh, en}.
export function L(label) {
  if (!label) return ''
  return (locale.value === 'en' ? label.en : label.zh) || label.zh || label.en || ''
}
