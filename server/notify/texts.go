package notify

import (
	"fmt"
	"strconv"
)

// Texts are the words of every notification, in Chinese ([0], the default)
// and English ([1]), in one table: each event's text per kind of
// recipient and the pieces some of them add (a reason, a comment, the
// digest's counts); each event's title (robots show it) is in Titles
// below, checked with these. Each entry is a fmt format; both languages
// take the same arguments (English may take them in another order, with
// %[n]s), which TestTextsInStep checks. This file is the only one of the
// package, and of the server's notification code, with Chinese in its
// strings (TestNoTextOutsideTable).
var Texts = map[string][2]string{
	// Issues. Arguments: the title (quoted), then as named.
	"issue_dispatched/handler":  {"【结对共建】诉求%s已交办给您，请及时签收办理。", "[Pairsync] The issue %s has been dispatched to you: please sign for it and handle it."},
	"issue_dispatched/officers": {"【结对共建】您结对的诉求%s已交办给%s，请关注办理进度。", "[Pairsync] The issue %s of your pairing has been dispatched to %s: please follow it."}, // handler
	"issue_responded":           {"【结对共建】您反映的诉求%s已有答复，请确认并评价。", "[Pairsync] Your issue %s has been answered: please confirm and rate it."},
	"issue_due_soon":            {"【结对共建】您承办的诉求%s将于 %s 到期，请及时答复。", "[Pairsync] The issue %s you handle is due at %s: please answer it in time."},             // due
	"issue_overdue/handler":     {"【结对共建】您承办的诉求%s已超过办理期限（%s），请尽快答复。", "[Pairsync] The issue %s you handle is past its due date (%s): please answer it now."}, // due
	// handler, title, due
	"issue_overdue/supervisors": {"【结对共建】%s承办的诉求%s已超过办理期限（%s），请督办。", "[Pairsync] The issue %[2]s handled by %[1]s is past its due date (%[3]s): please follow it up."},
	"issue_disputed":            {"【结对共建】诉求%s的答复未获联系人认可%s。请督办：重新交办或关闭。", "[Pairsync] The contact disputed the answer to the issue %s%s. Please follow it up: reopen it for the handler or close it."}, // reason
	"issue_bounced":             {"【结对共建】诉求%s已被第%s次退回%s。请裁决并重新交办。", "[Pairsync] The issue %s was bounced for the %s time%s. Please decide and dispatch it again."},                                    // nth, reason
	"handler":                   {"承办人", "its handler"},
	"reason":                    {"，理由：%s", ", saying: %s"},

	// Projects. decided: title, by, verb, reason, next.
	"project_decided":       {"【结对共建】%s实事项目%s已由%s%s%s。%s", "[Pairsync] %[1]s practical project %[2]s was %[4]s by %[3]s%[5]s. %[6]s"},
	"project/own":           {"您提出的", "Your"},
	"project/pairing":       {"您结对的", "Your pairing's"},
	"project_approved":      {"立项", "approved"},
	"project_approved/next": {"请按计划推进。", "Please carry it out as planned."},
	"project_deferred":      {"暂缓", "deferred"},
	"project_cancelled":     {"取消", "cancelled"},
	"project_completed":     {"【结对共建】实事项目%s已完成，请验收并评价。", "[Pairsync] The practical project %s is completed: please accept and rate it."},
	"administrator":         {"管理员", "an administrator"},

	// Visits: title, comment.
	"visit_returned":         {"【结对共建】您的走访记录%s被退回%s。请修改后重新提交。", "[Pairsync] Your visit %s was returned%s. Please correct it and submit it again."},
	"visit_returned/comment": {"，意见：%s", " with the comment: %s"},

	// Activation: user name, until, link.
	"activation": {"【结对共建】管理员为您开通了结对共建账号（用户名 %s），请在 %s 前打开链接设置密码：%s 链接仅供本人使用，请勿转发。", "[Pairsync] An administrator opened a Pairsync account for you (user name %s). Open this link before %s to choose your password: %s Do not forward it."},

	// The digest: how many, the counts (each "digest/count": kind, n,
	// joined by "digest/and").
	"digest":               {"【结对共建】早上好！您有 %d 项待办：%s。", "[Pairsync] Good morning! You have %d things to do: %s."},
	"digest/count":         {"%s %d 项", "%[2]d %[1]s"},
	"digest/and":           {"、", ", "},
	"todo/to_sign":         {"待签收", "to sign for"},
	"todo/to_respond":      {"待答复", "to answer"},
	"todo/returned_visits": {"被退回的走访", "returned visits"},
	"todo/due_soon":        {"即将超期", "due within 24 h"},
	"todo/to_confirm":      {"待确认", "to confirm"},
	"todo/to_rate":         {"待评价", "to rate"},
	"todo/to_accept":       {"待验收", "projects to accept"},
	"todo/to_dispatch":     {"待受理/待交办", "to accept or dispatch"},
	"todo/overdue":         {"已超期", "overdue"},
	"todo/to_approve":      {"待立项", "projects to approve"},
	"todo/to_verify":       {"待验收", "projects to verify"},

	"issue_due_soon/dispatcher":     {"【结对共建】您交办给%s的诉求%s将于 %s 到期，请关注办理进度。", "[Pairsync] The issue %[2]s you dispatched to %[1]s is due at %[3]s: please follow it."}, // handler, title, due
	"project_completed/supervisors": {"【结对共建】实事项目%s已完成，待联系人验收。", "[Pairsync] The practical project %s is completed: its contacts are to accept it."},

	// The hourly limit's fold: how many, the items joined by "folded/and".
	"folded":     {"【结对共建】另有 %d 条提醒：%s。请在“消息”中查看全文。", "[Pairsync] %d more reminders: %s. See them in full in your messages."},
	"folded/and": {"；", "; "},

	// Every text starts with the app's tag; greet names the recipient
	// after it.
	"tag":   {"【结对共建】", "[Pairsync] "},
	"greet": {"%s，", "%s: "},

	// Robots' link, and the title of an event without one in Titles.
	"open":  {"在结对共建中查看", "Open in Pairsync"},
	"title": {"结对共建提醒", "Pairsync"},
}

// Titles are the events in words, as a robot's title shows them (an
// unknown event: Texts["title"]).
var Titles = map[string][2]string{
	EventIssueDispatched: {"诉求交办", "Issue dispatched"},
	EventIssueResponded:  {"诉求已答复", "Issue answered"},
	EventVisitReturned:   {"走访记录退回", "Visit returned"},
	EventActivation:      {"账号激活", "Account activation"},
	EventIssueDueSoon:    {"诉求即将超期", "Issue due soon"},
	EventIssueOverdue:    {"诉求已超期", "Issue overdue"},
	EventIssueDisputed:   {"诉求有异议", "Issue disputed"},
	EventIssueBounced:    {"诉求再次退回", "Issue bounced again"},
	EventProjectApproved: {"实事项目已立项", "Project approved"},
	EventProjectDeferred: {"实事项目暂缓", "Project deferred"},
	EventProjectCanceled: {"实事项目已取消", "Project cancelled"},
	EventProjectDone:     {"实事项目待验收", "Project awaiting acceptance"},
	EventDigest:          {"今日待办", "Today's to-do"},
	EventFolded:          {"提醒汇总", "Reminders"},
}

// DefaultSMSSignature is the 短信签名 SMS carry unless the operator sets
// theirs (-notify-sms-signature): the app's name as carriers register it,
// one and Chinese whatever the person's language.
const DefaultSMSSignature = "结对共建"

// both is an argument said differently in each language (a quoted title,
// an ordinal, a piece of Texts).
type both [2]string

// say is Texts[key] in lang with args; a both argument is taken in lang.
// An unknown key is a programming error (TestTextsInStep walks the
// planner's keys), shown as the key rather than a crash of the commit.
func say(lang, key string, args ...any) string {
	t, ok := Texts[key]
	if !ok {
		return key
	}
	i := 0
	if lang == "en" {
		i = 1
	}
	if len(args) == 0 {
		return t[i]
	}
	in := make([]any, len(args))
	for j, a := range args {
		if b, ok := a.(both); ok {
			in[j] = b[i]
		} else {
			in[j] = a
		}
	}
	return fmt.Sprintf(t[i], in...)
}

// piece is Texts[key] in both languages with args, as an argument of say.
func piece(key string, args ...any) both {
	return both{say("zh", key, args...), say("en", key, args...)}
}

// optional is piece(key, s), or nothing when s is empty (a reason or a
// comment that was not given).
func optional(key, s string) both {
	if s == "" {
		return both{}
	}
	return piece(key, s)
}

// quoted is a title as each language quotes it.
func quoted(title string) both { return both{quote(title, "zh"), quote(title, "en")} }

// orPiece is s, or the piece key when s is empty (a default name).
func orPiece(s, key string) both {
	if s != "" {
		return both{s, s}
	}
	return piece(key)
}

// nthTime is a count as each language says which time it is: 第2次, the second.
func nthTime(n int) both { return both{strconv.Itoa(n), ordinal(n)} }
