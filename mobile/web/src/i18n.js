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
  // 待办 (web-todo)
  todo: ['待办', 'To do'],
  todo_toSign: ['待签收', 'To sign for'],
  todo_toRespond: ['待答复', 'To answer'],
  todo_returnedVisits: ['被退回的走访', 'Returned visits'],
  todo_dueSoon: ['即将超期', 'Due within 24 h'],
  todo_overdue: ['已超期', 'Overdue'],
  todo_toConfirm: ['待确认', 'To confirm'],
  todo_toRate: ['待评价', 'To rate'],
  todo_toAccept: ['待验收', 'Projects to accept'],
  todoNone: ['暂无待办', 'Nothing to do'],
  todoNoneOfficer: ['交办给您的诉求、被退回的走访会出现在这里。可以进入下方的结对记录走访。', 'Issues dispatched to you and returned visits appear here. Open a pairing below to record a visit.'],
  todoNoneContact: ['需要您确认、评价或验收的事项会出现在这里。可以进入下方的结对提出诉求。', 'What you need to confirm, rate or accept appears here. Open a pairing below to raise an issue.'],
  todoNoneOther: ['管理员和领导的待办在管理后台。', 'Administrators and viewers find theirs in the console.'],
  todoDue: ['期限 {d}', 'Due {d}'],
  home: ['首页', 'Home'],
  chooseLevel: ['请选择满意度', 'Choose a level'],
  rateOnly: ['评价本次办理', 'Rate how it was handled'],
  // onboarding: activation, password rules and change, the account screen,
  // sign-in details (web-onboard)
  useCode: ['使用激活码', 'Use an activation code'],
  useCodeHint: ['第一次使用？请用管理员给您的激活码设置密码', 'First time? Set your password with the code from your administrator'],
  tooManyWait: ['尝试次数过多，请在 {n} 分钟后再试', 'Too many attempts; try again in {n} min'],
  activateTitle: ['激活账号', 'Activate your account'],
  activationCode: ['激活码', 'Activation code'],
  codePlaceholder: ['12 位激活码，如 ABCD-EFGH-2345', '12 characters, e.g. ABCD-EFGH-2345'],
  checkCode: ['下一步', 'Next'],
  checkingCode: ['正在核对激活码…', 'Checking the code…'],
  activatingFor: ['您正在激活以下账号', 'You are activating this account'],
  personRole: ['角色', 'Role'],
  personUnit: ['所在单位', 'Unit'],
  personCounterparty: ['共建单位', 'Counterparty'],
  signInName: ['登录用户名', 'User name'],
  codeExpires: ['激活码有效期至 {t}', 'The code is valid until {t}'],
  notYou: ['不是您本人？请勿继续，并联系管理员。', 'Not you? Stop here and contact your administrator.'],
  newPassword: ['新密码', 'New password'],
  repeatPassword: ['再次输入', 'Repeat it'],
  repeatPasswordPh: ['再次输入新密码', 'The new password again'],
  pwRules: ['密码须为 {min}–{max} 个字符，汉字、字母、数字和符号均可；请勿使用与其他网站相同的密码。', 'A password has {min} to {max} characters (any letters, digits or symbols); do not reuse one from another site.'],
  pwTooShort: ['密码至少需要 {min} 个字符（现在 {n} 个）', 'At least {min} characters (now {n})'],
  pwTooLong: ['密码最多 {max} 个字符', 'At most {max} characters'],
  pwMismatch: ['两次输入的密码不一致，请重新输入', 'The two passwords differ; type them again'],
  activateSubmit: ['设置密码并登录', 'Set the password and sign in'],
  codeMissing: ['请输入激活码', 'Enter the activation code'],
  codeBad: ['激活码无效或已过期（激活码 72 小时内有效，只能使用一次）。请联系管理员为您重新生成激活码。', 'This code is not valid or has expired (a code lasts 72 hours and works once). Ask your administrator for a new one.'],
  accountDisabled: ['此账号已停用，请联系管理员', 'This account is disabled; contact your administrator'],
  offlineTry: ['无法连接服务器，请联网后再试', 'Cannot reach the server; connect and try again'],
  serverBusy: ['服务器暂时无法处理，请稍后再试', 'The server cannot answer now; try again shortly'],
  activatedSignIn: ['账号已激活，请用新密码登录', 'Your account is activated: sign in with the new password'],
  activatedOtherUser: ['账号已激活。此设备上还有其他账号未同步的记录：请先用原账号登录并同步、退出，再用新密码登录。', 'Your account is activated. This device holds another account’s unsynced changes: sign in with that account, sync and sign out, then sign in with your new password.'],
  account: ['我的', 'Me'],
  accountTitle: ['我的账号', 'My account'],
  changePassword: ['修改密码', 'Change password'],
  currentPassword: ['当前密码', 'Current password'],
  passwordChanged: ['密码已修改；其他设备上的登录已退出', 'Password changed; sign-ins on other devices have ended'],
  oldPasswordWrong: ['当前密码不正确，请重新输入', 'The current password is wrong; type it again'],
  samePassword: ['新密码不能与当前密码相同', 'The new password must differ from the current one'],
  mustChange: ['您正在使用初始密码，请修改为只有您本人知道的密码', 'You are using an initial password: change it to one only you know'],
  mustChangeAction: ['去修改', 'Change it'],
  needsNetwork: ['修改密码需要联网', 'Changing the password needs a network'],
  role_admin: ['管理员', 'Administrator'],
  role_viewer: ['领导（只读）', 'Viewer (read-only)'],
  role_officer: ['联络员', 'Liaison officer'],
  role_contact: ['企业/社区联系人', 'Contact'],
  // projects (实事项目: proposing, decisions, evidence, acceptance)
  newProject: ['新建实事项目', 'New practical project'],
  proposeProject: ['提交立项申请', 'Propose the project'],
  pickOne: ['请选择', 'Choose one'],
  tooLong: ['{f}最多 {n} 字', '{f} takes at most {n} characters'],
  decision: ['决定', 'Decision'],
  decidedBy: ['{who} · {at}', '{who} · {at}'],
  decisionReason: ['理由', 'Reason'],
  plannedEnd: ['计划完成', 'Planned completion'],
  addEvidence: ['添加佐证照片', 'Add evidence photos'],
  evidenceN: ['佐证照片 {n} 张', '{n} evidence photos'],
  projectActions: ['项目操作', 'Project actions'],
  reasonNeeded: ['请填写理由：{a}需要说明理由', 'Give a reason: {a} needs one'],
  acceptProject: ['验收与评价', 'Accept and rate'],
  pickLevel: ['请选择满意度', 'Choose how satisfied you are'],
  levelPicked: ['已选：{l}', 'Chosen: {l}'],
  projectRating: ['满意度评价：{l}', 'Rating: {l}'],
  waitingApproval: ['等待管理员立项', 'Waiting for an administrator to approve'],
  noMilestones: ['暂无项目节点，可在下方添加', 'No milestones yet: add one below'],
  // one issue rule, details (web-rule)
  dueBy: ['办理期限', 'Due by'],
  notApplied: ['未生效', 'Did not apply'],
  savedSyncing: ['已保存，正在同步', 'Saved; syncing now'],
  syncStarting: ['正在同步…', 'Syncing…'],
}

// The saved toast says what happens next: online, the sync starts now;
// offline, it waits for the network (the key stays 'saved' for every form).
Object.defineProperty(dict, 'saved', {
  enumerable: true,
  get: () => (typeof navigator === 'undefined' || navigator.onLine
    ? dict.savedSyncing
    : ['已保存，将在联网时同步', 'Saved; it syncs when online']),
})

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
