// Notifications in words (issue 17), for the field app and the console:
// channels, events, delivery states and the reasons a notification waits
// or failed (the server's notify.Explain codes); the person's messages and
// channel settings, through the API function each app passes in.
import { ref } from 'vue'
import { addMessages, t, locale } from './i18n.js'

addMessages({
  n_messages: ['消息', 'Messages'],
  n_messagesEmpty: ['暂无消息。诉求交办给您、诉求有答复或走访被退回时，会在这里提醒您。', 'No messages yet. You are told here when an issue is dispatched to you, an issue is answered or a visit is returned.'],
  n_unreadN: ['{n} 条未读', '{n} unread'],
  n_read: ['已读', 'Read'],
  n_unread: ['未读', 'Unread'],
  n_more: ['加载更多', 'Load more'],
  n_open: ['查看', 'Open'],
  n_settings: ['通知设置', 'Notification settings'],
  n_settingsHint: ['选择接收通知的方式。站内消息始终保留，其他方式可随时关闭。', 'Choose how you are told. In-app messages are always kept; turn the others off at any time.'],
  n_quiet: ['免打扰时段：{q}（{z}）。此时段内短信和群机器人消息推迟到时段结束后发送，不会丢失。', 'Quiet hours: {q} ({z}). Text messages and group robot messages due then are sent when they end, never lost.'],
  n_quietOff: ['未设免打扰时段。', 'No quiet hours are set.'],
  n_hourly: ['同一方式每小时最多提醒您 {n} 次，其余顺延到下一小时。', 'At most {n} a hour on one channel; the rest waits for the next hour.'],
  n_saved: ['已保存', 'Saved'],
  n_save: ['保存', 'Save'],
  n_alwaysOn: ['始终开启', 'Always on'],
  n_noPhone: ['账号未登记手机号，无法接收短信。请联系管理员登记。', 'Your account has no phone number, so no text messages: ask your administrator to add one.'],
  n_noChannels: ['服务器未配置其他通知方式。', 'The server has no other channel configured.'],
  n_needsNetwork: ['需要联网才能查看和修改。', 'This needs the network.'],
  ch_inapp: ['站内消息', 'In-app messages'],
  ch_sms: ['短信', 'Text message (SMS)'],
  ch_wecom: ['企业微信群', 'WeCom group'],
  ch_dingtalk: ['钉钉群', 'DingTalk group'],
  ch_webhook: ['对接系统（Webhook）', 'Connected system (webhook)'],
  ev_issue_dispatched: ['诉求交办', 'Issue dispatched'],
  ev_issue_responded: ['诉求已答复', 'Issue answered'],
  ev_visit_returned: ['走访记录退回', 'Visit returned'],
  ev_activation: ['账号激活', 'Account activation'],
  ev_issue_due_soon: ['诉求即将超期', 'Issue due soon'],
  ev_issue_overdue: ['诉求已超期', 'Issue overdue'],
  ev_issue_disputed: ['诉求有异议', 'Issue disputed'],
  ev_issue_bounced: ['诉求再次退回', 'Issue bounced again'],
  ev_project_approved: ['实事项目已立项', 'Project approved'],
  ev_project_deferred: ['实事项目暂缓', 'Project deferred'],
  ev_project_cancelled: ['实事项目已取消', 'Project cancelled'],
  ev_project_completed: ['实事项目待验收', 'Project awaiting acceptance'],
  ev_digest: ['今日待办', "Today's to-do"],
  ev_other: ['提醒', 'Notice'],
  ns_pending: ['待发送', 'Waiting'],
  ns_sent: ['已发送', 'Sent'],
  ns_failed: ['发送失败', 'Failed'],
  nr_quiet_hours: ['免打扰时段，推迟发送', 'Quiet hours: deferred'],
  nr_hourly_limit: ['达到每小时上限，顺延到下一小时', 'Hourly limit reached: deferred to the next hour'],
  nr_robot_limit: ['群机器人每分钟限 20 条，稍后发送', 'The group robot takes 20 a minute: sent shortly'],
  nr_no_phone: ['收件人没有手机号：请在“用户”中登记后重发', 'The recipient has no phone number: add one under Users, then resend'],
  nr_no_answer: ['对方服务无应答：请检查通知地址或网络，系统会自动重试', 'The provider did not answer: check the address or the network; it is retried'],
  nr_refused: ['对方拒收（{a}）：请检查机器人密钥或签名设置', 'Refused by the provider ({a}): check the robot key or signing secret'],
  nr_http_error: ['对方服务出错（{a}），系统会自动重试', 'The provider answered an error ({a}); it is retried'],
  nr_not_configured: ['该通知方式已不在服务器配置中：配置后再重发', 'This channel is no longer configured: configure it, then resend'],
  nr_sent: ['已送达', 'Delivered'],
  nr_other: ['{a}', '{a}'],
})

// The words of a channel, an event, a state.
export const channelName = (c) => (t('ch_' + c) !== 'ch_' + c ? t('ch_' + c) : c)
export const eventName = (e) => (t('ev_' + e) !== 'ev_' + e ? t('ev_' + e) : t('ev_other'))
export const stateName = (s) => t('ns_' + s)

// reasonText puts a notification's last answer (view fields reason,
// answer) in words.
export function reasonText(n) {
  if (!n.reason) return ''
  const key = 'nr_' + n.reason
  const a = (n.answer || '').replace(/^(HTTP \d+).*$/s, '$1').slice(0, 60)
  return t(key) !== key ? t(key, { a }) : n.answer
}

// The unread count shown on badges (one per app, refreshed on demand).
export const unread = ref(0)
export const unreadText = (n) => (n > 99 ? '99+' : String(n))

// inbox binds the messages' and settings' routes to an app's API call
// (method, path, body) → JSON.
export function inbox(call) {
  return {
    async page(offset = 0, limit = 20) {
      const a = await call('GET', `/v1/me/messages?offset=${offset}&limit=${limit}`)
      unread.value = a.unread_more ? 100 : a.unread
      return a
    },
    async refreshUnread() {
      try { await this.page(0, 1) } catch { /* offline: keep the last count */ }
    },
    async read(id) {
      const m = await call('POST', `/v1/me/messages/${encodeURIComponent(id)}/read`)
      unread.value = Math.max(0, unread.value - 1)
      return m
    },
    settings: () => call('GET', '/v1/me/notify-settings'),
    save: (off) => call('PUT', '/v1/me/notify-settings', { off }),
  }
}

// settingsText: the quiet hours and the hourly limit in words.
export function quietText(s) {
  const z = s.time_zone === 'Asia/Shanghai' ? (locale.value === 'en' ? 'Beijing time' : '北京时间') : s.time_zone
  return (s.quiet_hours === 'off' ? t('n_quietOff') : t('n_quiet', { q: s.quiet_hours.replace('-', '–'), z })) +
    (s.hourly_limit ? ' ' + t('n_hourly', { n: s.hourly_limit }) : '')
}
