package server

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/syncproto"
)

// Words for people: the text the server sends follows the
// request's Accept-Language — Chinese when it prefers zh or says nothing
// (Chinese is the default of every screen), English when it prefers en.
// One table per kind of message: the wire codes (syncproto/errors.go) and
// the domain's refusal reasons (server/pairing/reasons.go), each saying
// what to do next. The apps keep the same table (mobile/web/src/errors.js)
// so that a refusal stored on a phone reads right in the language chosen
// later; a test there checks both cover every code and reason.

const (
	langZH = 0
	langEN = 1
)

// language picks zh or en from an Accept-Language header: the language
// range with the highest q among zh* and en* wins; ties go to the one listed
// first; a header naming neither (or none at all) gives zh.
func language(header string) int {
	best, bestQ := langZH, -1.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		l := -1
		switch {
		case tag == "zh" || strings.HasPrefix(tag, "zh-"):
			l = langZH
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			l = langEN
		}
		if l >= 0 && q > 0 && q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

// lang is the language of c's request.
func lang(c *fiber.Ctx) int { return language(c.Get(fiber.HeaderAcceptLanguage)) }

var codeMessages = map[string][2]string{
	"bad_request":        {"请求有误，请检查填写的内容后重试", "The request is malformed: check what you entered and try again"},
	"invalid_json":       {"提交的数据格式有误，请刷新页面后重试", "The data sent is not valid: reload the page and try again"},
	"too_large":          {"内容太大，请减少内容（如照片数量）后重试", "Too large: send less (fewer photos, shorter text) and try again"},
	"unauthorized":       {"用户名或密码不正确，或登录已失效：请重新登录", "Not signed in, or a wrong user name or password: sign in again"},
	"forbidden":          {"您没有权限进行此操作，如有需要请联系管理员", "You may not do this: ask an administrator if you need to"},
	"not_found":          {"找不到该内容，可能已被删除或您无权查看，请刷新后重试", "Not found: it may have been deleted or you may not see it; reload and try again"},
	"method_not_allowed": {"不支持此操作，请刷新页面后重试", "This action is not supported: reload the page and try again"},
	"conflict":           {"内容已被他人修改或已存在，请刷新后重试", "It was changed by someone else or already exists: reload and try again"},
	"rate_limited":       {"操作过于频繁，请在{wait}后再试", "Too many attempts: try again in {wait}"},
	"unavailable":        {"服务暂时不可用，请稍后重试，已填写的内容不会丢失", "The service is unavailable for a moment: try again shortly; nothing you entered is lost"},
	"shutting_down":      {"服务器正在重启，请稍后重试", "The server is restarting: try again in a moment"},
	"timeout":            {"服务器响应超时，请稍后重试", "The server took too long: try again shortly"},
	"unsupported_media":  {"不支持的文件类型，请改用 JPEG 或 PNG 图片", "Unsupported file type: use a JPEG or PNG picture"},
	"internal":           {"服务器出错了，请稍后重试；如仍有问题请联系管理员", "Something went wrong on the server: try again later, and tell an administrator if it persists"},
	"validation_failed":  {"填写的内容不符合要求，请修改后重新提交", "What you entered breaks a rule: correct it and submit again"},
	"device_revoked":     {"此设备已被管理员停用，请联系管理员", "This device was revoked by an administrator: contact them"},
	"resync_required":    {"本机数据过旧，正在重新下载，请保持联网", "Local data is too old: it is being downloaded again, stay online"},
	"out_of_scope":       {"此记录不属于您负责的结对，请联系管理员", "This record is not in a pairing of yours: contact an administrator"},
	"not_configured":     {"服务器尚未完成此项设置（如对外访问地址），请联系系统管理员", "The server is not set up for this yet (for example its public address): contact the system administrator"},
	"ambiguous_login":    {"此手机号对应多个账号，无法用手机号登录：请改用用户名登录（不知道用户名请询问管理员）", "This phone number belongs to more than one account, so it cannot sign in: sign in with your user name (ask your administrator if you do not know it)"},
	"too_many_devices":   {"您的账号登记的设备已达上限，请管理员在管理后台“设备”中停用不再使用的设备后再登录", "Your account has as many devices as it may: ask an administrator to revoke unused ones under Devices in the console, then sign in again"},
}

var reasonMessages = map[string][2]string{
	"unknown_collection":     {"不支持的记录类型，请更新应用后重试", "Unknown kind of record: update the app and try again"},
	"append_only":            {"办理记录、评价和留言提交后不能修改或删除，如需更正请新增一条", "Events, ratings and comments cannot be changed or deleted: add a new one to correct it"},
	"contact_no_delete":      {"联系人不能删除记录，如需删除请联系联络员", "Contacts cannot delete records: ask your liaison officer"},
	"unknown_operation":      {"不支持的操作，请更新应用后重试", "Unknown operation: update the app and try again"},
	"unknown_field":          {"不能填写“{field}”，请更新应用后重试", "“{field}” is not a field here: update the app and try again"},
	"server_only":            {"“{field}”由系统自动填写，请不要修改", "“{field}” is filled in by the system: leave it as it is"},
	"role_may_not_set":       {"您的角色（{role}）不能修改“{field}”，如需修改请联系管理员", "Your role ({role}) may not change “{field}”: ask an administrator"},
	"immutable":              {"“{field}”创建后不能修改，如填错请新建一条记录", "“{field}” cannot change once created: make a new record if it is wrong"},
	"required":               {"请填写“{field}”", "Fill in “{field}”"},
	"code_needed":            {"需要联系人的确认码：请联系人在其手机上获取确认码后填写", "The contact's confirmation code is needed: ask the contact for the code from their phone"},
	"not_yourself":           {"“{field}”只能是您本人，请重新登录后再提交", "“{field}” must be you: sign in again and resubmit"},
	"not_pairing_officer":    {"所选人员不是本结对的联络员，请重新选择", "Someone chosen is not an officer of this pairing: choose again"},
	"admin_returns_visit":    {"只有管理员可以退回走访记录", "Only an administrator returns a visit"},
	"return_needs_comment":   {"退回走访时请填写退回意见，说明需要修改什么", "Returning a visit needs a comment saying what to change"},
	"contact_own_issues":     {"联系人只能修改自己提出的诉求", "Contacts change only the issues they raised"},
	"not_counterparty":       {"“{field}”不是本结对的共建单位，请重新选择", "“{field}” is not a counterparty of this pairing: choose again"},
	"contact_own_party":      {"联系人只能为本单位提出诉求", "Contacts raise issues for their own organisation only"},
	"event_invalid":          {"办理记录不完整或有误（{field}），请重新填写", "The event is incomplete or wrong ({field}): fill it in again"},
	"event_not_allowed":      {"您的角色（{role}）不能进行“{type}”，请联系有权限的人员办理", "Your role ({role}) may not record “{type}”: ask someone who may"},
	"event_needs":            {"“{type}”需要填写“{field}”", "“{type}” needs “{field}”"},
	"accept_not_completed":   {"项目完成后才能验收（当前状态：{status}），请等待联络员标记完成", "A project is accepted once completed (it is {status}): wait for the officer to mark it completed"},
	"project_move":           {"实事项目不能从“{from}”改为“{to}”，请选择允许的状态", "A project cannot move from “{from}” to “{to}”: choose an allowed status"},
	"project_move_role":      {"您的角色（{role}）不能把项目从“{from}”改为“{to}”，请联系管理员", "Your role ({role}) may not move a project from “{from}” to “{to}”: ask an administrator"},
	"status_reason":          {"改为“{to}”时请填写理由", "Moving to “{to}” needs a reason: fill it in"},
	"verify_needs_accept":    {"项目须先经联系人验收，再由管理员审核验收", "A project is verified after the contact has accepted it, by an administrator"},
	"credit_code_missing":    {"企业需要填写统一社会信用代码（18位）", "An enterprise needs its unified social credit code (18 characters)"},
	"credit_code_length":     {"统一社会信用代码应为18位，请核对后重新填写", "The unified social credit code has 18 characters: check it and type it again"},
	"credit_code_char":       {"统一社会信用代码含有无效字符（只能是数字和除 I、O、S、V、Z 外的大写字母），请核对", "The unified social credit code holds an invalid character (digits and capitals except I, O, S, V, Z): check it"},
	"credit_code_division":   {"统一社会信用代码第3至8位（行政区划码）应为数字，请核对", "Characters 3 to 8 of the unified social credit code (the division code) are digits: check them"},
	"credit_code_check":      {"统一社会信用代码校验位不符，可能有字符输错，请逐位核对", "The unified social credit code's check character does not match: a character was mistyped, check each one"},
	"bad_value":              {"“{field}”的格式不正确，请修改", "“{field}” is not in the right form: correct it"},
	"not_a_choice":           {"“{field}”请从列表中选择", "Choose “{field}” from the list"},
	"too_long":               {"“{field}”最多{max}个字，请缩短", "“{field}” has at most {max} characters: shorten it"},
	"one_line":               {"“{field}”只能填写一行，请删除换行", "“{field}” is one line: remove the line breaks"},
	"too_many":               {"“{field}”最多{max}项，请删除一些", "“{field}” has at most {max} items: remove some"},
	"out_of_range":           {"“{field}”应在{min}到{max}之间", "“{field}” lies between {min} and {max}"},
	"bad_time":               {"“{field}”的时间格式不正确，请重新选择", "“{field}” is not a valid time: choose it again"},
	"time_too_early":         {"“{field}”早于2000年，请检查手机的日期时间", "“{field}” is before 2000: check the phone's date and time"},
	"time_in_future":         {"“{field}”晚于当前时间，请检查手机的日期时间", "“{field}” is in the future: check the phone's date and time"},
	"time_too_far":           {"“{field}”超过两年以后，请重新选择", "“{field}” is more than two years ahead: choose it again"},
	"bad_photo":              {"照片信息有误，请删除后重新拍照", "A photo's details are wrong: remove it and take it again"},
	"missing_parent":         {"“{field}”所指的记录尚未同步到服务器，请先同步后重试", "The record “{field}” names is not on the server yet: sync first and try again"},
	"confirm_needs_response": {"在联络员手机上确认时需选择所确认的答复并填写联系人的确认码", "A confirmation on an officer's phone names the response and carries the contact's code"},
	"return_comment":         {"请填写退回意见，说明联络员需要修改什么", "Say what the officer should change"},
	"no_such_user":           {"所选人员不存在，请重新选择", "The person chosen does not exist: choose again"},
	"wrong_role":             {"所选人员的角色是{role}，这里需要{want}，请重新选择", "The person chosen is a {role}, here it takes a {want}: choose again"},
	"no_such_org_unit":       {"所选单位不存在，请重新选择", "The org unit chosen does not exist: choose again"},
	"no_such_counterparty":   {"所选共建单位不存在，请重新选择", "The counterparty chosen does not exist: choose again"},
	"pairing_needs_parties":  {"结对至少需要一个机关支部和一个共建单位", "A pairing needs at least one branch and one counterparty"},
	"photo_type_mismatch":    {"照片文件与其类型不符，请重新拍照或另选一张照片", "The photo's bytes are not of the type it claims: take it again or choose another"},
	"photo_type_refused":     {"不支持此照片格式，请改用 JPEG 或 PNG 照片", "This photo format is not taken: use a JPEG or PNG photo"},
	"photo_too_large":        {"照片太大，请缩小后重新上传（应用会自动压缩）", "The photo is too large: make it smaller and upload it again (the app compresses it)"},
	"photo_unreadable":       {"照片已损坏无法读取，请重新拍照", "The photo cannot be read: take it again"},
	"photo_mismatch":         {"照片上传不完整，本机照片已保留，请联网后重新同步", "The photo arrived incomplete: it is kept on the phone; sync again when online"},
	"inflated_too_large":     {"上传的数据解压后超过{max}的上限，服务器未接收：请更新应用后重新同步；如仍不行请联系管理员", "The data sent is over {max} once uncompressed and was not taken: update the app and sync again; if it persists, contact an administrator"},
	"unsupported_encoding":   {"不支持此数据压缩方式（{encoding}），服务器未接收：请更新应用后重新同步", "This compression ({encoding}) is not taken: update the app and sync again"},
	"bad_compression":        {"上传的压缩数据已损坏，服务器未接收：请重新同步；如仍不行请更新应用", "The compressed data arrived damaged and was not taken: sync again; if it persists, update the app"},
	// References and figures (SECURITY.md 11 and 13).
	"unknown_reference": {"“{field}”所选的对象不存在或不在您的权限范围内，请重新选择", "“{field}” names something that does not exist or that you may not use here: choose again"},
	"not_ratable":       {"该事项尚未答复或完成，暂不能评价：请在答复或完成后再评价", "This cannot be rated yet: rate it once it has been answered or completed"},
	"code_used":         {"该确认码已使用过：请联系人在其手机上获取新的确认码", "This code has been used: ask the contact for the new code their app shows"},
	"due_in_past":       {"办理期限必须晚于交办时间，请重新选择期限", "The due date must be after the dispatch: choose a later one"},
	"before_pairing":    {"时间早于结对开始的时间，请检查手机的日期时间后重新填写", "The time is before the pairing began: check the phone's date and time, then fill it in again"},
	"future_time":       {"时间晚于当前时间，请检查日期时间后重新填写", "The time is later than now: check the date and time, then fill it in again"},
	"bidi_control":      {"“{field}”中含有不允许的特殊控制字符（常见于复制粘贴的文字），请删除后重新输入", "“{field}” holds special direction-control characters (often from pasted text): delete them and type it again"},
	"pairing_ended":     {"该结对已结束，不能再记录；如需继续请联系管理员", "This pairing has ended and takes no more records: contact an administrator to continue"},
	"not_applied":       {"该操作在诉求当前状态下不会生效，请刷新后按最新状态办理", "This step would not take effect in the issue's current state: refresh and act on its latest state"},
	"id_taken":          {"该记录的编号已被其他结对使用，请删除此记录后重新记录", "This record's id is used in another pairing: delete it and record it again"},

	// A credit code taken already: named only inside the caller's scope.
	"credit_code_taken":           {"该统一社会信用代码已登记为“{name}”，请在共建单位列表中直接选用，不要重复添加", "This unified social credit code is already registered as “{name}”: pick it from the counterparty list instead of adding it again"},
	"credit_code_taken_elsewhere": {"该统一社会信用代码已由您管理范围以外的单位登记，不能重复添加；如需与这家企业结对，请联系上级管理员办理", "This unified social credit code is already registered outside your scope and cannot be added again: to pair with this enterprise, ask an administrator above you"},
}

var roleLabels = map[string][2]string{
	"admin": {"管理员", "administrator"}, "viewer": {"领导", "viewer"}, "officer": {"联络员", "liaison officer"},
	"contact": {"联系人", "contact"}, "system": {"系统", "system"},
}

// label finds the words for one arg of a message: a field's label (in
// collection, else in any collection), a project status or event type, a
// role; anything else stays as it is.
func label(l int, collection, key, v string) string {
	pick := func(lb pairing.Label) string {
		if l == langEN {
			return lb.EN
		}
		return lb.ZH
	}
	switch key {
	case "field":
		if spec, ok := pairing.Spec(collection); ok {
			if f, ok := spec.Field(v); ok {
				return pick(f.Label)
			}
		}
		for _, spec := range pairing.Schema {
			if f, ok := spec.Field(v); ok {
				return pick(f.Label)
			}
		}
	case "from", "to", "status":
		if v == "" || v == "(new)" {
			return [2]string{"新建", "new"}[l]
		}
		for _, c := range pairing.ProjectStatuses {
			if c.Value == v {
				return pick(c.Label)
			}
		}
	case "type":
		for _, c := range pairing.EventTypeLabels {
			if c.Value == v {
				return pick(c.Label)
			}
		}
	case "role", "want":
		if r, ok := roleLabels[v]; ok {
			return r[l]
		}
	}
	return v
}

// msg returns the message for key (a reason, else a wire code) in language
// l with args filled in ({name}), or "" when the table has no such key.
func msg(l int, collection, key string, args map[string]string) string {
	m, ok := reasonMessages[key]
	if !ok {
		if m, ok = codeMessages[key]; !ok {
			return ""
		}
	}
	s := m[l]
	for k, v := range args {
		s = strings.ReplaceAll(s, "{"+k+"}", label(l, collection, k, v))
	}
	return s
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// localize rewrites e.Message for people in language l. In Chinese: a
// refusal with a reason gets the reason's message; one without, unless
// Chinese already, gets its code's message naming the field. In English the
// server's own (English) words stay, being the more precise, except for
// rate_limited, which says how long to wait. collection names the record's kind, when known, for field
// labels; retryAfter fills {wait} (and {seconds}) of rate_limited.
func localize(l int, collection string, e *syncproto.Error, retryAfter int) {
	if e == nil {
		return
	}
	args := map[string]string{"seconds": strconv.Itoa(max(retryAfter, 1)), "wait": waitWords(l, retryAfter)}
	for k, v := range e.Args {
		args[k] = v
	}
	if e.Field != "" && args["field"] == "" {
		args["field"] = e.Field
	}
	if e.Reason != "" && (l == langZH || e.Message == "") {
		if m := msg(l, collection, e.Reason, args); m != "" {
			e.Message = m
			return
		}
	}
	if l == langEN && e.Message != "" && e.Code != syncproto.CodeRateLimited {
		return // the server's own English words, the more precise
	}
	if l == langZH && hasHan(e.Message) {
		return
	}
	if m := msg(l, collection, string(e.Code), args); m != "" {
		if e.Field != "" && e.Code != syncproto.CodeRateLimited {
			if l == langEN {
				m += " (" + label(l, collection, "field", e.Field) + ")"
			} else {
				m += "（" + label(l, collection, "field", e.Field) + "）"
			}
		}
		e.Message = m
	}
}

// waitWords says how long to wait, as people say it: minutes (rounded up)
// from a minute on, seconds below.
func waitWords(l, seconds int) string {
	seconds = max(seconds, 1)
	if seconds >= 60 {
		m := (seconds + 59) / 60
		if l == langEN {
			if m == 1 {
				return "1 minute"
			}
			return strconv.Itoa(m) + " minutes"
		}
		return strconv.Itoa(m) + " 分钟"
	}
	if l == langEN {
		return strconv.Itoa(seconds) + " seconds"
	}
	return strconv.Itoa(seconds) + " 秒"
}
