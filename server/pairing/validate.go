package pairing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pairsync/pairsync/syncproto"
)

// Write is one write of a record to check against the domain rules: who
// writes, in which pairing, what was stored before, and what the write did.
type Write struct {
	Principal Principal
	Pairing   Pairing
	// Stored is the server's version before the write (zero: none).
	Stored syncproto.Record
	// Op and Values are what the write did (syncproto.Change.Written).
	Op     syncproto.Op
	Values map[string]json.RawMessage
	// Merged is the version the write would leave: Stored merged with it.
	Merged syncproto.Record
	Now    time.Time
	// Pushed is set for a change a device pushed (Admit step 1).
	Pushed bool
}

// Times outside [earliest, now + 2 years] are refused everywhere; Past
// fields may not lie more than pastSkew ahead of the server's clock.
var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	pastSkew   = 24 * time.Hour
	futureSpan = 2 * 365 * 24 * time.Hour
)

func invalid(field, format string, args ...any) *syncproto.Error {
	return &syncproto.Error{Code: syncproto.CodeValidation, Field: field, Message: fmt.Sprintf(format, args...)}
}

func forbidden(field, format string, args ...any) *syncproto.Error {
	return &syncproto.Error{Code: syncproto.CodeForbidden, Field: field, Message: fmt.Sprintf(format, args...)}
}

// CheckWrite applies the domain rules that need nothing but the write and
// its pairing: known fields of the right type and size, who may set which
// field, immutable and append-only records, required fields, the writer's
// identity in by/role fields, and the transitions of visits and projects.
// Rules that need other records (an issue event's issue, the handler, a
// contact's code) are checked by the caller. It returns nil or a
// validation_failed / forbidden error naming the field.
func CheckWrite(w Write) *syncproto.Error {
	spec, ok := Spec(w.Merged.Collection)
	if !ok {
		return why(invalid("collection", "unknown collection %q", w.Merged.Collection), ReasonUnknownCollection)
	}
	role := w.Principal.Role
	creating := w.Stored.IsZero() || w.Stored.Deleted() && len(w.Stored.Fields) == 0
	if spec.AppendOnly && !w.Stored.IsZero() {
		return why(forbidden("record", "%s are append-only: append a new record instead of changing %s", spec.Name, w.Merged.ID), ReasonAppendOnly)
	}
	switch w.Op {
	case syncproto.OpDelete, syncproto.OpKeep:
		if spec.AppendOnly {
			return why(forbidden("record", "%s are append-only and cannot be deleted", spec.Name), ReasonAppendOnly)
		}
		if role == Contact {
			return why(forbidden("record", "contacts may not delete %s", spec.Name), ReasonContactNoDelete)
		}
		return nil
	case syncproto.OpSet:
	default:
		return why(invalid("record", "unknown operation %q", w.Op), ReasonUnknownOperation)
	}
	var buf [24]string // room for a record's fields without allocating
	names := buf[:0]
	for name := range w.Values {
		names = append(names, name)
	}
	slices.Sort(names) // the first bad field named is always the same one
	for _, name := range names {
		f, ok := spec.Field(name)
		if !ok {
			return why(invalid(name, "%s has no field %q", spec.Name, name), ReasonUnknownField, "field", name)
		}
		v := w.Values[name]
		if f.Writers != nil && !slices.Contains(f.Writers, role) {
			if slices.Contains(f.Writers, RoleSystem) && len(f.Writers) == 1 {
				return why(forbidden(name, "%s is set by the server only", name), ReasonServerOnly, "field", name)
			}
			return why(forbidden(name, "your role (%s) may not set %s of %s", role, name, spec.Name), ReasonRoleMayNotSet, "field", name, "role", string(role))
		}
		if f.Immutable && !creating {
			if old := w.Stored.Value(name); old != nil && !bytes.Equal(old, v) {
				return why(forbidden(name, "%s is set when the record is created and cannot change", name), ReasonImmutable, "field", name)
			}
		}
		if isNull(v) {
			if f.Required {
				return why(invalid(name, "%s is required and cannot be cleared", name), ReasonRequired, "field", name)
			}
			continue
		}
		if e := checkValue(f, v, w.Now); e != nil {
			return e
		}
		if e := checkSince(w, f, v); e != nil {
			return e
		}
	}
	if w.Merged.Deleted() {
		return nil
	}
	if creating {
		for _, f := range spec.Fields {
			if f.Required && isNull(w.Merged.Value(f.Name)) {
				return why(invalid(f.Name, "%s is required: create the record with it", f.Name), ReasonRequired, "field", f.Name)
			}
		}
	}
	if e := checkIdentity(w, spec, creating); e != nil {
		return e
	}
	switch spec.Name {
	case CollVisits:
		return checkVisit(w)
	case CollIssues:
		return checkIssue(w)
	case CollIssueEvents:
		return checkIssueEvent(w)
	case CollProjects:
		return checkProject(w)
	case CollRatings:
		if role == Officer && str(w.Merged, "code") == "" {
			return why(forbidden("code", "a rating recorded on an officer's phone needs the contact's confirmation code"), ReasonCodeNeeded)
		}
	case CollCounterparties:
		return checkCounterparty(w.Merged)
	}
	return nil
}

// checkIdentity: the by/role/raised_by fields name the writer.
func checkIdentity(w Write, spec CollectionSpec, creating bool) *syncproto.Error {
	if !creating {
		return nil
	}
	p := w.Principal
	for _, name := range []string{"by", "raised_by"} {
		if _, ok := spec.Field(name); ok {
			if got := str(w.Merged, name); got != p.UserID {
				return why(forbidden(name, "%s must be your own user id (%s), not %q", name, p.UserID, got), ReasonNotYourself, "field", name)
			}
		}
	}
	if spec.Name == CollIssueEvents {
		if got := str(w.Merged, "role"); got != string(p.Role) {
			return why(forbidden("role", "role must be your own role (%s), not %q", p.Role, got), ReasonNotYourself, "field", "role")
		}
	}
	return nil
}

func checkVisit(w Write) *syncproto.Error {
	pr, role := w.Pairing, w.Principal.Role
	if v, ok := w.Values["officers"]; ok && !isNull(v) {
		// checkValue passed v: an array of strings (or null).
		var e *syncproto.Error
		if arr, _ := arrayOf(v); arr != nil {
			eachElement(arr, func(el []byte) bool {
				var id []byte
				if el[0] == '"' {
					id = unquote(el)
				}
				if !isOfficer(pr, id) {
					e = why(invalid("officers", "%s is not an officer of pairing %s", id, pr.ID), ReasonNotPairingOfficer, "field", "officers")
				}
				return e == nil
			})
		}
		if e != nil {
			return e
		}
	}
	if e := checkCounterpartyRef(w, "counterparty"); e != nil {
		return e
	}
	if v, ok := w.Values["status"]; ok && !isNull(v) {
		status, _ := jsonBytes(w.Merged.Value("status"))
		switch {
		case string(status) == "returned" && role != Admin:
			return why(forbidden("status", "only an administrator returns a visit"), ReasonAdminReturnsVisit)
		case string(status) == "returned" && str(w.Merged, "return_comment") == "":
			return why(invalid("return_comment", "a returned visit needs a comment saying what to change"), ReasonReturnNeedsComment, "field", "return_comment")
		}
	}
	return nil
}

// isOfficer reports whether id is an officer or a former officer of pr.
func isOfficer(pr Pairing, id []byte) bool {
	for _, o := range pr.Officers {
		if string(id) == o {
			return true
		}
	}
	_, former := pr.FormerOfficers[string(id)]
	return former
}

func checkIssue(w Write) *syncproto.Error {
	if e := checkCounterpartyRef(w, "counterparty"); e != nil {
		return e
	}
	if w.Principal.Role == Contact && !w.Stored.IsZero() && str(w.Stored, "raised_by") != w.Principal.UserID {
		return why(forbidden("record", "contacts edit only the issues they raised"), ReasonContactOwnIssues)
	}
	return nil
}

// checkCounterpartyRef: a field naming a counterparty names one of the
// pairing's; a contact names their own.
func checkCounterpartyRef(w Write, field string) *syncproto.Error {
	v, ok := w.Values[field]
	if !ok || isNull(v) {
		return nil
	}
	id, _ := jsonBytes(w.Merged.Value(field)) // read in place: no copy per pushed change
	if !slices.ContainsFunc(w.Pairing.Counterparties, func(c string) bool { return c == string(id) }) {
		return why(invalid(field, "%s is not a counterparty of pairing %s", id, w.Pairing.ID), ReasonNotCounterparty, "field", field)
	}
	if w.Principal.Role == Contact && w.Principal.Counterparty != "" && string(id) != w.Principal.Counterparty {
		return why(forbidden(field, "contacts raise issues for their own counterparty only"), ReasonContactOwnParty)
	}
	return nil
}

func checkIssueEvent(w Write) *syncproto.Error {
	ev, err := IssueEventFromRecord(w.Merged)
	if err != nil {
		return why(invalid("record", "%v", err), ReasonEventInvalid)
	}
	if !MayAppend(w.Principal.Role, ev.Type, ev.Code != "") {
		if (ev.Type == EventConfirmed || ev.Type == EventDisputed) && w.Principal.Role == Officer {
			return why(forbidden("code", "an officer records a %s only with the contact's confirmation code", ev.Type), ReasonCodeNeeded)
		}
		return why(forbidden("type", "your role (%s) may not append %q events", w.Principal.Role, ev.Type), ReasonEventNotAllowed, "type", string(ev.Type), "role", string(w.Principal.Role))
	}
	if ev.Type == EventDispatched && !ev.Due.IsZero() && !ev.Due.After(ev.At) {
		return &syncproto.Error{Code: syncproto.CodeValidation, Field: "due", Reason: ReasonDueInPast,
			Message: fmt.Sprintf("due %s is not after the dispatch: set a due date in the future", ev.Due.Format(time.RFC3339))}
	}
	for _, t := range IssueTransitions() {
		if t.Event != ev.Type {
			continue
		}
		for _, need := range t.Needs {
			if isNull(w.Merged.Value(need)) || str(w.Merged, need) == "" && bytes.HasPrefix(w.Merged.Value(need), []byte(`"`)) {
				return why(invalid(need, "a %q event needs %s", ev.Type, need), ReasonEventNeeds, "type", string(ev.Type), "field", need)
			}
		}
		break
	}
	return nil
}

// projectMoves lists, per project status, the statuses it may move to and
// who may move it (DOMAIN.md: proposed → approved → in progress →
// completed (claimed) → verified → archived; deferred and cancelled with a
// reason).
var projectMoves = map[string]map[string][]Role{
	"":            {"proposed": {Officer, Admin}, "approved": {Admin}},
	"proposed":    {"approved": {Admin}, "cancelled": {Officer, Admin}, "deferred": {Officer, Admin}},
	"approved":    {"in_progress": {Officer, Admin}, "cancelled": {Officer, Admin}, "deferred": {Officer, Admin}},
	"in_progress": {"completed": {Officer, Admin}, "cancelled": {Officer, Admin}, "deferred": {Officer, Admin}},
	"completed":   {"verified": {Admin}, "in_progress": {Officer, Admin}},
	"verified":    {"archived": {Admin}},
	// Resuming a deferred project is a decision like 立项: an officer could
	// otherwise defer a proposed project and approve it themselves.
	"deferred":  {"approved": {Admin}, "in_progress": {Admin}, "cancelled": {Officer, Admin}},
	"cancelled": {},
	"archived":  {},
}

// projectMoveNeeds lists, per target status, the fields a move there must
// carry (DOMAIN.md: deferred/cancelled need a reason).
var projectMoveNeeds = map[string][]string{
	"deferred":  {"status_reason"},
	"cancelled": {"status_reason"},
}

// ProjectMoves publishes the project transitions for the schema route.
func ProjectMoves() map[string]map[string][]Role { return projectMoves }

// ProjectMoveNeeds publishes, per target status, the fields a project move
// there needs (the schema route), so screens ask for them before writing.
func ProjectMoveNeeds() map[string][]string { return projectMoveNeeds }

func checkProject(w Write) *syncproto.Error {
	role := w.Principal.Role
	before, after := str(w.Stored, "status"), str(w.Merged, "status")
	if w.Stored.Deleted() {
		before = ""
	}
	if role == Contact {
		// A contact accepts a completed project, and does nothing else.
		if before != "completed" {
			return why(forbidden("contact_accepted_at", "a contact accepts a project once it is completed (it is %s)", before), ReasonAcceptNotCompleted, "status", before)
		}
		if str(w.Merged, "contact_accepted_by") != w.Principal.UserID {
			return why(forbidden("contact_accepted_by", "contact_accepted_by must be your own user id"), ReasonNotYourself, "field", "contact_accepted_by")
		}
	}
	if _, ok := w.Values["contact_accepted_at"]; ok && role == Officer && str(w.Merged, "code") == "" {
		return why(forbidden("code", "an officer records the contact's acceptance only with the contact's confirmation code"), ReasonCodeNeeded)
	}
	if v, ok := w.Values["status_by"]; ok && !isNull(v) && str(w.Merged, "status_by") != w.Principal.UserID {
		return why(forbidden("status_by", "status_by must be your own user id (%s), not %q", w.Principal.UserID, str(w.Merged, "status_by")), ReasonNotYourself, "field", "status_by")
	}
	if before != after {
		roles, ok := projectMoves[before][after]
		if !ok {
			return why(invalid("status", "a project cannot move from %s to %s", orNone(before), after), ReasonProjectMove, "from", before, "to", after)
		}
		if !slices.Contains(roles, role) {
			return why(forbidden("status", "your role (%s) may not move a project from %s to %s", role, orNone(before), after), ReasonProjectMoveRole, "from", before, "to", after, "role", string(role))
		}
		for _, need := range projectMoveNeeds[after] {
			if strings.TrimSpace(str(w.Merged, need)) == "" {
				return why(invalid(need, "a %s project needs a reason", after), ReasonStatusReason, "to", after)
			}
		}
		if after == "verified" && (str(w.Merged, "contact_accepted_at") == "" || str(w.Merged, "verified_at") == "") {
			return why(invalid("status", "a project is verified once the contact has accepted it and an administrator verifies it (verified_at)"), ReasonVerifyNeedsAccept)
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(new)"
	}
	return s
}

func checkCounterparty(r syncproto.Record) *syncproto.Error {
	if str(r, "kind") != "enterprise" {
		return nil
	}
	code := str(r, "credit_code")
	if code == "" {
		return why(invalid("credit_code", "an enterprise needs its 统一社会信用代码 (unified social credit code)"), ReasonCreditCodeMissing, "field", "credit_code")
	}
	if err := ValidateCreditCode(code); err != nil {
		return why(invalid("credit_code", "%v", err), CreditCodeReason(err), "field", "credit_code")
	}
	return nil
}

var (
	idPattern     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
	datePattern   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// PhotoTypes are the image types a photo manifest may name: those the
// server can decode (HEIC cannot be, in pure Go: phones send JPEG).
var PhotoTypes = []string{"image/jpeg", "image/png", "image/webp"}

// MaxPhotoBytes bounds a photo's declared size (the photo channel enforces
// its own, smaller, policy).
const MaxPhotoBytes = 64 << 20

// checkValue checks one non-null value against its field's spec: a scan
// of the bytes says whether the usual value passes (valuescan.go), and
// checkValueScan decides the rest (valueread.go). Neither calls
// encoding/json, but for a pairing's former officers (checkFormer).
func checkValue(f FieldSpec, v json.RawMessage, now time.Time) *syncproto.Error {
	if valuePasses(f, v, now) {
		return nil
	}
	return checkValueScan(f, v, now)
}

// checkFormer checks a pairing's former officers (set by the
// administrators' routes, never pushed) by way of encoding/json, which
// matches the keys of formerRef without regard to case.
func checkFormer(f FieldSpec, v []byte) *syncproto.Error {
	var items []formerRef
	if json.Unmarshal(v, &items) != nil || len(items) > 10*MaxItems {
		return why(invalid(f.Name, "%s: want an array of {\"user_id\", \"removed_at\"}", f.Name), ReasonBadValue, "field", f.Name)
	}
	return nil
}

func enumValues(cs []Choice) string {
	vs := make([]string, len(cs))
	for i, c := range cs {
		vs[i] = c.Value
	}
	return strings.Join(vs, ", ")
}

func checkText(f FieldSpec, s string) *syncproto.Error {
	if !utf8.ValidString(s) {
		return why(invalid(f.Name, "%s: not valid UTF-8", f.Name), ReasonBadValue, "field", f.Name)
	}
	if n := utf8.RuneCountInString(s); f.MaxLen > 0 && n > f.MaxLen {
		return why(invalid(f.Name, "%s: at most %d characters (got %d)", f.Name, f.MaxLen, n), ReasonTooLong, "field", f.Name, "max", strconv.Itoa(f.MaxLen))
	}
	if strings.ContainsRune(s, 0) {
		return why(invalid(f.Name, "%s: NUL characters are not allowed", f.Name), ReasonBadValue, "field", f.Name)
	}
	if HasBidiControl(s) {
		return BidiRefusal(f.Name)
	}
	if f.Type == TypeString && strings.ContainsAny(s, "\n\r") {
		return why(invalid(f.Name, "%s: one line only", f.Name), ReasonOneLine, "field", f.Name)
	}
	if f.Required && strings.TrimSpace(s) == "" {
		return why(invalid(f.Name, "%s is required and cannot be blank", f.Name), ReasonRequired, "field", f.Name)
	}
	return nil
}

// HasBidiControl reports whether s holds a bidirectional control
// character (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069): invisible,
// they reorder what people read (a name or a reason shown reversed, a file
// name that hides its type), so text fields refuse them.
//
// All of them are three bytes in UTF-8 starting with 0xE2 (E2 80 8E–8F,
// E2 80 AA–AE, E2 81 A6–A9), so a search for that byte finds them without
// decoding the text (CJK text has none: its characters start E3–E9).
func HasBidiControl(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		j := strings.IndexByte(s[i:], 0xE2)
		if j < 0 {
			return false
		}
		i += j
		if i+2 >= len(s) {
			return false
		}
		switch b1, b2 := s[i+1], s[i+2]; {
		case b1 == 0x80 && (b2 == 0x8E || b2 == 0x8F || 0xAA <= b2 && b2 <= 0xAE), b1 == 0x81 && 0xA6 <= b2 && b2 <= 0xA9:
			return true
		}
	}
	return false
}

// BidiRefusal is the refusal of a text field holding bidirectional
// control characters.
func BidiRefusal(field string) *syncproto.Error {
	return &syncproto.Error{Code: syncproto.CodeValidation, Field: field, Reason: ReasonBidi,
		Message: fmt.Sprintf("%s: remove the invisible direction-control characters (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069)", field)}
}

func checkTime(f FieldSpec, t, now time.Time) *syncproto.Error {
	if t.Before(earliest) {
		return why(invalid(f.Name, "%s: %s is before 2000; check the device's clock", f.Name, t.Format(time.RFC3339)), ReasonTimeTooEarly, "field", f.Name)
	}
	if !now.IsZero() && f.Past && t.After(now.Add(pastSkew)) {
		return why(invalid(f.Name, "%s: %s is in the future; check the device's clock", f.Name, t.Format(time.RFC3339)), ReasonTimeInFuture, "field", f.Name)
	}
	if !now.IsZero() && t.After(now.Add(futureSpan)) {
		return why(invalid(f.Name, "%s: %s is more than two years ahead", f.Name, t.Format(time.RFC3339)), ReasonTimeTooFar, "field", f.Name)
	}
	return nil
}

// checkSince refuses a device time (a Past time: when something happened)
// dated more than pastSkew before the pairing began: nothing is
// recorded in a pairing before it existed, and a clock set back cannot
// push a record into months already reported.
func checkSince(w Write, f FieldSpec, v json.RawMessage) *syncproto.Error {
	if !f.Past || f.Type != TypeTime || w.Pairing.Since.IsZero() {
		return nil
	}
	t, e := parseTime(f, v)
	if e != nil || !t.Before(w.Pairing.Since.Add(-pastSkew)) {
		return e
	}
	return &syncproto.Error{Code: syncproto.CodeValidation, Field: f.Name, Reason: ReasonBeforeStart,
		Message: fmt.Sprintf("%s: %s is before pairing %s began (%s); check the device's clock", f.Name, t.Format(time.RFC3339), w.Pairing.ID, w.Pairing.Since.Format(time.DateOnly))}
}

// Photo is one entry of a photo manifest: a photo cited by its content.
type Photo struct {
	SHA256  string     `json:"sha256"`
	Size    int64      `json:"size"`
	Type    string     `json:"type"`
	Width   int        `json:"width,omitempty"`
	Height  int        `json:"height,omitempty"`
	TakenAt *time.Time `json:"taken_at,omitempty"`
	Lat     *float64   `json:"lat,omitempty"`
	Lng     *float64   `json:"lng,omitempty"`
}

var photoKeys = []string{"sha256", "size", "type", "width", "height", "taken_at", "lat", "lng"}

// Photos reads a record's photo manifest field (nil when absent or bad).
func Photos(r syncproto.Record, field string) []Photo {
	var ps []Photo
	_ = json.Unmarshal(r.Value(field), &ps)
	return ps
}

func isNull(v json.RawMessage) bool {
	return len(v) == 0 || string(v) == "null"
}

// str reads a string field of a record ("" when absent or not a string).
func str(r syncproto.Record, field string) string {
	s, _ := jsonString(r.Value(field))
	return s
}

// jsonString decodes a JSON string value as json.Unmarshal into a string
// would, reporting false for anything else. The common value (no escapes,
// valid UTF-8, no surrounding space) is read in place; any other is
// checked and unescaped by valueread.go's jsonValid and unquote (pushed
// values are checked per change, and encoding/json cost more than the rest
// of the checks together). jsonstring_test.go compares it with
// json.Unmarshal.
func jsonString(v []byte) (string, bool) {
	b, ok := jsonBytes(v)
	return string(b), ok
}

// jsonBytes is jsonString without the copy: the string's bytes, within v
// when they need no unescaping.
func jsonBytes(v []byte) ([]byte, bool) {
	if n := len(v); n >= 2 && v[0] == '"' && v[n-1] == '"' {
		body := v[1 : n-1]
		plain := true
		for _, c := range body {
			if c < 0x20 || c == '"' || c == '\\' {
				plain = false
				break
			}
		}
		if plain && utf8.Valid(body) {
			return body, true
		}
	}
	if !jsonValid(v) {
		return nil, false
	}
	switch t := trimmed(v); t[0] {
	case '"':
		return unquote(t), true
	case 'n':
		return nil, true
	}
	return nil, false
}

// Str reads a string field of a record ("" when absent or not a string).
func Str(r syncproto.Record, field string) string { return str(r, field) }

// TimeField reads a time field of a record (RFC 3339, in UTC; the zero
// time when absent, not a string or not a time).
func TimeField(r syncproto.Record, name string) time.Time {
	var s string
	if json.Unmarshal(r.Value(name), &s) != nil || s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
