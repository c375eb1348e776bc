package pairing

import (
	"slices"
)

// The synced collections of a pairing's scope (DOMAIN.md's things).
const (
	CollVisits      = "visits"       // 走访
	CollIssues      = "issues"       // 诉求
	CollIssueEvents = "issue_events" // 诉求办理记录 (append-only)
	CollProjects    = "projects"     // 实事项目
	CollMilestones  = "milestones"   // 项目节点
	CollRatings     = "ratings"      // 评价 (append-only)
	CollComments    = "comments"     // 留言 (append-only)
)

// FieldType is the JSON shape a field's value must have.
type FieldType string

// The field types. Every optional field may also be null (cleared).
const (
	TypeString       FieldType = "string"       // one line of text
	TypeText         FieldType = "text"         // free text, newlines allowed
	TypeEnum         FieldType = "enum"         // one of Enum
	TypeInt          FieldType = "int"          // an integer within [Min, Max]
	TypeBool         FieldType = "bool"         // true or false
	TypeTime         FieldType = "time"         // RFC 3339 date-time
	TypeDate         FieldType = "date"         // YYYY-MM-DD
	TypeID           FieldType = "id"           // a record or user id: 1–128 of [A-Za-z0-9_-]
	TypeIDs          FieldType = "ids"          // an array of ids, no duplicates
	TypeSHA256s      FieldType = "sha256s"      // an array of photo hashes (64 lowercase hex)
	TypeLocation     FieldType = "location"     // {"lat","lng","accuracy_m"}
	TypePhotos       FieldType = "photos"       // a photo manifest: [{"sha256","size","type","width","height","taken_at","lat","lng"}]
	TypeParticipants FieldType = "participants" // [{"name","title","org"}]
	TypeOfficers     FieldType = "officers"     // [{"user_id","primary"}]
	TypeFormer       FieldType = "former"       // [{"user_id","removed_at"}]
	TypePersons      FieldType = "persons"      // [{"name","title"}]: names only, never phone numbers
)

// Label is a text in the two languages of every screen: Chinese first.
type Label struct {
	ZH string `json:"zh"`
	EN string `json:"en"`
}

// Choice is one allowed value of an enum field, with its label.
type Choice struct {
	Value string `json:"value"`
	Label Label  `json:"label"`
}

// FieldSpec describes one field of a collection.
type FieldSpec struct {
	Name  string    `json:"name"`
	Type  FieldType `json:"type"`
	Label Label     `json:"label"`
	// Required fields must be set when the record is created (in the write
	// that creates it) and may not be cleared.
	Required bool `json:"required,omitempty"`
	// MaxLen bounds strings (in characters) and arrays (in items).
	MaxLen int      `json:"max_len,omitempty"`
	Enum   []Choice `json:"enum,omitempty"`
	Min    *int64   `json:"min,omitempty"`
	Max    *int64   `json:"max,omitempty"`
	// Writers are the roles that may set the field (nil: every role that
	// may write the collection). "system" marks fields only the server
	// writes (receipt time).
	Writers []Role `json:"writers,omitempty"`
	// Immutable fields are set when the record is created and never again.
	Immutable bool `json:"immutable,omitempty"`
	// Past times say when something happened: at most a day ahead of the
	// server's clock (devices' clocks drift; days ahead is a wrong clock).
	Past bool `json:"past,omitempty"`
}

// CollectionSpec describes one synced collection.
type CollectionSpec struct {
	Name  string `json:"name"`
	Label Label  `json:"label"`
	// Scope is "pairing" for a pairing's records, or the directory.
	Scope string `json:"scope"`
	// Writers are the roles that may write records of the collection.
	Writers []Role `json:"writers"`
	// AppendOnly records are created once and never changed or deleted by
	// anyone but the server: what happened is appended, not overwritten.
	AppendOnly bool        `json:"append_only,omitempty"`
	Fields     []FieldSpec `json:"fields"`
}

// Field returns the spec of a field, if the collection has it.
func (c CollectionSpec) Field(name string) (FieldSpec, bool) {
	for _, f := range c.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return FieldSpec{}, false
}

// Limits on text, from what people write in the field.
const (
	MaxLine  = 200   // one line: a name, a title
	MaxNotes = 10000 // a visit's notes, an issue's description
	MaxShort = 2000  // a reason, a comment
	MaxItems = 50    // photos, participants, ids in one field
)

func ptr(n int64) *int64 { return &n }

func choices(pairs ...string) []Choice {
	out := make([]Choice, 0, len(pairs)/3)
	for i := 0; i+2 < len(pairs); i += 3 {
		out = append(out, Choice{Value: pairs[i], Label: Label{ZH: pairs[i+1], EN: pairs[i+2]}})
	}
	return out
}

// Enumerations of the domain.
var (
	// VisitModes: how a visit was made.
	VisitModes = choices(
		"onsite", "实地走访", "On-site visit",
		"phone", "电话联系", "Phone call",
		"online", "线上交流", "Online meeting",
		"joint_activity", "联建活动", "Joint activity (e.g. 主题党日)",
	)
	// VisitStatuses: submitted by the officer, returned by an admin with a
	// comment (the officer then resubmits).
	VisitStatuses = choices(
		"submitted", "已提交", "Submitted",
		"returned", "已退回", "Returned",
	)
	// IssueCategories: what an issue is about. Each has a default number of
	// days to resolve (DefaultDueDays), overridable per org unit.
	IssueCategories = choices(
		"policy", "政策咨询", "Policy",
		"tax", "财税服务", "Tax and finance",
		"financing", "融资支持", "Financing",
		"technology", "科技创新", "Technology",
		"market", "市场拓展", "Markets",
		"talent", "人才用工", "Talent and labour",
		"land", "用地用房", "Land and premises",
		"approval", "审批办理", "Approvals",
		"livelihood", "民生服务", "Community services",
		"other", "其他", "Other",
	)
	// IssuePriorities.
	IssuePriorities = choices(
		"normal", "一般", "Normal",
		"urgent", "紧急", "Urgent",
	)
	// Resolutions: how a response resolved an issue.
	Resolutions = choices(
		"solved", "已解决", "Solved",
		"partly", "部分解决", "Partly solved",
		"explained", "已解释说明", "Explained",
		"cannot", "无法解决", "Cannot be solved",
	)
	// ProjectCategories: kinds of practical project (实事项目).
	ProjectCategories = choices(
		"party_building", "党建共建", "Party building",
		"industry", "产业发展", "Industry",
		"livelihood", "民生服务", "Livelihood",
		"governance", "基层治理", "Governance",
		"talent_tech", "人才科技", "Talent and technology",
		"other", "其他", "Other",
	)
	// ProjectStatuses: proposed → approved → in_progress → completed
	// (claimed) → verified (accepted by the contact and an admin) →
	// archived; deferred and cancelled need a reason.
	ProjectStatuses = choices(
		"proposed", "待立项", "Awaiting approval",
		"approved", "已立项", "Approved",
		"in_progress", "推进中", "In progress",
		"completed", "已完成(待验收)", "Completed (claimed)",
		"verified", "已验收", "Verified",
		"archived", "已归档", "Archived",
		"deferred", "已暂缓", "Deferred",
		"cancelled", "已取消", "Cancelled",
	)
	// ProjectActions name each project move for the button that makes it:
	// a person presses 立项 (approve), not "已立项" (the target state). One
	// label per target status, published with the moves (GET /v1/schema
	// project_actions) so the phone and the console show the same words.
	ProjectActions = choices(
		"proposed", "提出", "Propose",
		"approved", "立项", "Approve",
		"in_progress", "开始推进", "Start",
		"completed", "申报完成", "Claim completion",
		"verified", "审核验收", "Verify",
		"archived", "归档", "Archive",
		"deferred", "暂缓", "Defer",
		"cancelled", "取消项目", "Cancel the project",
	)
	// RatingLevels: 5 非常满意 … 1 非常不满意.
	RatingLevels = choices(
		"5", "非常满意", "Very satisfied",
		"4", "满意", "Satisfied",
		"3", "基本满意", "Neutral",
		"2", "不满意", "Dissatisfied",
		"1", "非常不满意", "Very dissatisfied",
	)
	// RatingTargets and CommentTargets: what a rating or comment is about.
	RatingTargets  = choices("issue", "诉求", "Issue", "project", "实事项目", "Practical project")
	CommentTargets = choices("visit", "走访", "Visit", "issue", "诉求", "Issue", "project", "实事项目", "Practical project", "milestone", "项目节点", "Milestone")
	// CounterpartyKinds: an enterprise (keyed by its 统一社会信用代码) or a
	// community.
	CounterpartyKinds = choices("enterprise", "企业", "Enterprise", "community", "社区", "Community")
	// PairingStatuses: draft → active → ended.
	PairingStatuses = choices(StatusDraft, "草稿", "Draft", StatusActive, "进行中", "Active", StatusEnded, "已结束", "Ended")
	// EventTypes: the issue events, for labels (the rules are in issue.go).
	EventTypeLabels = choices(
		"raised", "提出", "Raised",
		"accepted", "受理", "Accepted",
		"not_accepted", "不予受理", "Not accepted",
		"dispatched", "交办", "Dispatched",
		"signed", "签收", "Signed",
		"bounced", "退回", "Bounced",
		"responded", "答复", "Responded",
		"confirmed", "确认解决", "Confirmed",
		"disputed", "有异议", "Disputed",
		"reopened", "重新办理", "Reopened",
		"closed", "办结", "Closed",
		"closed_unconfirmed", "逾期未确认办结", "Closed unconfirmed",
		"overdue", "超期", "Overdue",
	)
)

// DefaultDueDays is the number of days to resolve an issue of a category
// after dispatch, unless an org unit overrides it (OrgUnit.SLADays). It is
// the one table of due periods: an issue of an unknown (or not yet known)
// category takes OtherCategory's (sla.go, DefaultDueAfter).
var DefaultDueDays = map[string]int{
	"policy": 5, "tax": 10, "financing": 15, "technology": 20, "market": 15,
	"talent": 10, "land": 30, "approval": 10, "livelihood": 7, OtherCategory: otherDueDays,
}

// OtherCategory is the issue category 其他, whose days count for an issue
// whose category is unknown.
const (
	OtherCategory = "other"
	otherDueDays  = 10
)

// SignDaysKey is the OrgUnit.SLADays key for the days allowed to sign for
// (签收) a dispatched issue; DefaultSignDays when not set.
const (
	SignDaysKey     = "_sign"
	DefaultSignDays = 1
	// ConfirmDays is how long a contact has to confirm a response before
	// the issue is closed unconfirmed (逾期未确认), unless overridden
	// under ConfirmDaysKey.
	ConfirmDaysKey     = "_confirm"
	DefaultConfirmDays = 7
)

var (
	officerAdmin        = []Role{Officer, Admin}
	officerContactAdmin = []Role{Officer, Contact, Admin}
	adminOnly           = []Role{Admin}
	systemOnly          = []Role{RoleSystem}
)

func text(name, zh, en string, max int, required bool) FieldSpec {
	t := TypeString
	if max > MaxLine {
		t = TypeText
	}
	return FieldSpec{Name: name, Type: t, Label: Label{zh, en}, MaxLen: max, Required: required}
}

func enum(name, zh, en string, values []Choice, required bool) FieldSpec {
	return FieldSpec{Name: name, Type: TypeEnum, Label: Label{zh, en}, Enum: values, Required: required}
}

func typed(name, zh, en string, t FieldType, required bool) FieldSpec {
	f := FieldSpec{Name: name, Type: t, Label: Label{zh, en}, Required: required}
	switch t {
	case TypeIDs, TypeSHA256s, TypePhotos, TypeParticipants, TypePersons, TypeOfficers, TypeFormer:
		f.MaxLen = MaxItems
	}
	return f
}

func (f FieldSpec) by(roles ...Role) FieldSpec { f.Writers = roles; return f }
func (f FieldSpec) once() FieldSpec            { f.Immutable = true; return f }
func (f FieldSpec) past() FieldSpec            { f.Past = true; return f }

// receivedAt is the server's receipt time of a record sent from a device:
// kept beside the device's own time (DOMAIN.md).
var receivedAt = typed("received_at", "服务器接收时间", "Received by the server", TypeTime, false).by(systemOnly...)

// Schema lists the synced collections with their fields: what GET /v1/schema
// publishes so that the app validates offline with the server's own rules,
// and what push validation checks.
var Schema = []CollectionSpec{
	{Name: CollVisits, Label: Label{"走访", "Visits"}, Scope: "pairing", Writers: officerAdmin, Fields: []FieldSpec{
		text("title", "主题", "Topic", MaxLine, false),
		typed("counterparty", "走访对象", "Counterparty visited", TypeID, false),
		typed("officers", "联络员", "Officers", TypeIDs, true),
		enum("mode", "走访方式", "Mode", VisitModes, true),
		typed("planned_at", "计划时间", "Planned for", TypeTime, false),
		typed("visited_at", "走访时间", "Visited at", TypeTime, true).past(),
		typed("recorded_at", "记录时间(设备)", "Recorded at (device clock)", TypeTime, false).once().past(),
		receivedAt,
		typed("location", "位置", "Location", TypeLocation, false),
		typed("participants", "参加人员", "Participants", TypeParticipants, false),
		text("notes", "走访记录", "Notes", MaxNotes, false),
		typed("photos", "照片", "Photos", TypePhotos, false),
		typed("issues", "收集的诉求", "Issues raised", TypeIDs, false),
		enum("status", "状态", "Status", VisitStatuses, false),
		text("return_comment", "退回意见", "Return comment", MaxShort, false).by(Admin),
		typed("returned_at", "退回时间", "Returned at", TypeTime, false).by(Admin).past(),
		typed("returned_by", "退回人", "Returned by", TypeID, false).by(Admin),
	}},
	{Name: CollIssues, Label: Label{"诉求", "Issues"}, Scope: "pairing", Writers: officerContactAdmin, Fields: []FieldSpec{
		text("title", "诉求标题", "Title", MaxLine, true),
		text("description", "诉求内容", "Description", MaxNotes, false),
		enum("category", "类别", "Category", IssueCategories, true),
		enum("priority", "紧急程度", "Priority", IssuePriorities, false),
		typed("counterparty", "提出单位", "Counterparty", TypeID, false),
		typed("visit", "来源走访", "From visit", TypeID, false).once(),
		typed("raised_by", "提出人", "Raised by", TypeID, true).once(),
		typed("raised_at", "提出时间", "Raised at", TypeTime, true).once().past(),
		receivedAt,
		typed("photos", "照片", "Photos", TypePhotos, false),
	}},
	{Name: CollIssueEvents, Label: Label{"诉求办理记录", "Issue events"}, Scope: "pairing", Writers: officerContactAdmin, AppendOnly: true, Fields: []FieldSpec{
		typed("issue", "诉求", "Issue", TypeID, true),
		enum("type", "环节", "Event", EventTypeLabels, true),
		typed("at", "时间", "At", TypeTime, true).past(),
		typed("by", "办理人", "By", TypeID, true),
		typed("role", "角色", "Role", TypeString, true),
		text("reason", "理由", "Reason", MaxShort, false),
		typed("handler", "承办人", "Handler", TypeID, false),
		text("handler_name", "承办人姓名", "Handler name", MaxLine, false),
		typed("due", "办理期限", "Due", TypeTime, false),
		enum("resolution", "办理结果", "Resolution", Resolutions, false),
		typed("evidence", "佐证照片", "Evidence photos", TypeSHA256s, false),
		text("note", "说明", "Note", MaxShort, false),
		typed("response", "针对的答复", "Answers response", TypeID, false),
		text("code", "联系人确认码", "Contact's confirmation code", 16, false),
		receivedAt,
	}},
	{Name: CollProjects, Label: Label{"实事项目", "Practical projects"}, Scope: "pairing", Writers: officerContactAdmin, Fields: []FieldSpec{
		text("title", "项目名称", "Title", MaxLine, true).by(Officer, Admin),
		enum("category", "项目类别", "Category", ProjectCategories, true).by(Officer, Admin),
		text("description", "项目内容", "Description", MaxNotes, false).by(Officer, Admin),
		typed("owner", "负责人", "Owner", TypeID, false).by(Officer, Admin),
		enum("status", "状态", "Status", ProjectStatuses, true).by(Officer, Admin),
		text("status_reason", "暂缓/取消理由", "Reason (deferred, cancelled)", MaxShort, false).by(Officer, Admin),
		// Who made the last status move (立项, 暂缓, 取消…) and when: the
		// writer's own id (checkProject), their name as shown to people on
		// phones that hold no user directory (like an issue event's
		// handler_name), and the time of the decision.
		typed("status_by", "决定人", "Decided by", TypeID, false).by(Officer, Admin),
		text("status_by_name", "决定人姓名", "Decided by (name)", MaxLine, false).by(Officer, Admin),
		typed("status_at", "决定时间", "Decided at", TypeTime, false).by(Officer, Admin).past(),
		typed("planned_start", "计划开始", "Planned start", TypeDate, false).by(Officer, Admin),
		typed("planned_end", "计划完成", "Planned end", TypeDate, false).by(Officer, Admin),
		typed("completed_at", "完成时间", "Completed at", TypeTime, false).by(Officer, Admin).past(),
		typed("contact_accepted_at", "联系人验收时间", "Accepted by the contact at", TypeTime, false).by(Contact, Officer).past(),
		typed("contact_accepted_by", "验收联系人", "Accepted by (contact)", TypeID, false).by(Contact, Officer),
		text("code", "联系人确认码", "Contact's confirmation code", 16, false).by(Officer),
		typed("verified_at", "审核验收时间", "Verified at", TypeTime, false).by(Admin).past(),
		typed("verified_by", "审核人", "Verified by", TypeID, false).by(Admin),
		typed("photos", "照片", "Photos", TypePhotos, false).by(Officer, Admin),
	}},
	{Name: CollMilestones, Label: Label{"项目节点", "Milestones"}, Scope: "pairing", Writers: officerAdmin, Fields: []FieldSpec{
		typed("project", "实事项目", "Project", TypeID, true).once(),
		text("title", "节点名称", "Title", MaxLine, true),
		{Name: "order", Type: TypeInt, Label: Label{"序号", "Order"}, Min: ptr(0), Max: ptr(1000)},
		typed("due", "计划完成日期", "Due", TypeDate, false),
		typed("done_at", "完成时间", "Done at", TypeTime, false).past(),
		typed("evidence", "佐证照片", "Evidence photos", TypePhotos, false),
		text("note", "说明", "Note", MaxShort, false),
	}},
	{Name: CollRatings, Label: Label{"满意度评价", "Ratings"}, Scope: "pairing", Writers: []Role{Contact, Officer}, AppendOnly: true, Fields: []FieldSpec{
		enum("target_kind", "评价对象", "Rated", RatingTargets, true),
		typed("target", "对象编号", "Rated record", TypeID, true),
		{Name: "level", Type: TypeInt, Label: Label{"评价", "Level"}, Required: true, Min: ptr(1), Max: ptr(5), Enum: RatingLevels},
		text("comment", "评价意见", "Comment", MaxShort, false),
		typed("by", "评价人", "By", TypeID, true),
		typed("at", "评价时间", "At", TypeTime, true).past(),
		text("code", "联系人确认码", "Contact's confirmation code", 16, false).by(Officer),
		receivedAt,
	}},
	{Name: CollComments, Label: Label{"留言", "Comments"}, Scope: "pairing", Writers: officerContactAdmin, AppendOnly: true, Fields: []FieldSpec{
		enum("target_kind", "对象", "On", CommentTargets, true),
		typed("target", "对象编号", "Record", TypeID, true),
		text("text", "内容", "Text", MaxShort, true),
		typed("by", "留言人", "By", TypeID, true),
		typed("at", "时间", "At", TypeTime, true).past(),
		receivedAt,
	}},
	{Name: CollCounterparties, Label: Label{"共建单位", "Counterparties"}, Scope: DirectoryScope, Writers: adminOnly, Fields: []FieldSpec{
		enum("kind", "类型", "Kind", CounterpartyKinds, true).once(),
		text("name", "名称", "Name", MaxLine, true),
		text("credit_code", "统一社会信用代码", "Unified social credit code", 18, false),
		typed("org_unit", "管理单位", "Managing org unit", TypeID, true),
		text("address", "地址", "Address", MaxLine, false),
		typed("location", "位置", "Location", TypeLocation, false),
		text("industry", "行业", "Industry", 64, false),
		typed("contacts", "联系人", "Contacts", TypePersons, false),
		text("note", "备注", "Note", MaxShort, false),
	}},
	{Name: CollPairings, Label: Label{"结对", "Pairings"}, Scope: DirectoryScope, Writers: adminOnly, Fields: []FieldSpec{
		text("name", "结对名称", "Name", MaxLine, true),
		enum("status", "状态", "Status", PairingStatuses, true),
		typed("branches", "机关支部", "Branches", TypeIDs, true),
		typed("counterparties", "共建单位", "Counterparties", TypeIDs, true),
		typed("officers", "联络员", "Officers", TypeOfficers, false),
		typed("contacts", "联系人账号", "Contact users", TypeIDs, false),
		typed("former_officers", "原联络员", "Former officers", TypeFormer, false),
		typed("starts_on", "开始日期", "Starts on", TypeDate, false),
		typed("ends_on", "结束日期", "Ends on", TypeDate, false),
		typed("ended_at", "结束时间", "Ended at", TypeTime, false).past(),
		text("description", "共建内容", "Description", MaxShort, false),
	}},
}

// Spec returns a collection's spec.
func Spec(collection string) (CollectionSpec, bool) {
	i := slices.IndexFunc(Schema, func(c CollectionSpec) bool { return c.Name == collection })
	if i < 0 {
		return CollectionSpec{}, false
	}
	return Schema[i], true
}

// LabelOf returns the label of an enum value ("" when unknown).
func LabelOf(values []Choice, v string) Label {
	for _, c := range values {
		if c.Value == v {
			return c.Label
		}
	}
	return Label{}
}
