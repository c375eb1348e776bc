package pairing

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// Issue scenarios (testdata/issues/*.txt) script an issue's event log, one
// command a line; '#' starts a comment (outside quotes). Values with spaces
// are quoted: reason="no such permit".
//
//	rules due_after=48h sign_within=2h
//	    the IssueRules (default: the package defaults)
//	event e3 dispatched role=admin by=a1 at=03-01T10:00 handler=u7 due=03-04T18:00
//	    an event, built as an issue_events record and read back with
//	    IssueEventFromRecord. Keys: role (required), by (default: the role),
//	    at, received (received_at), issue (default i1), hlc (wall ms; default
//	    one more than the previous event's), logical, replica (default
//	    "r-"+by), counter (default: the event's number in the file), reason,
//	    handler, handler_name, due, resolution, note, response, code,
//	    evidence (comma-separated hashes; "h1" stands for a valid hash).
//	    Times are RFC 3339 or the short form MM-DDTHH:MM (2026, UTC).
//	expect status=closed bounces=0 signed_in_time=true ignored=e4,e7 why:e4="needs reason"
//	    DeriveIssue of every event so far must show these. Keys: status,
//	    issue, the times (raised_at accepted_at dispatched_at signed_at
//	    responded_at closed_at confirmed_at due; "-" is zero), handler,
//	    handler_name, resolution, response, the counters (dispatches bounces
//	    reopens disputes), the flags (signed_in_time responded_on_time
//	    overdue confirmed_solved), applied and ignored (comma-separated ids in
//	    order; empty for none) and why:ID (a substring of the ignored event's
//	    reason). Each expect also derives the events shuffled 20 times and
//	    with every event twice, and wants a deep-equal state.
func TestIssueScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "issues", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("got %d issue scenario files, want at least 10", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			runIssueScenario(t, f)
		})
	}
}

func runIssueScenario(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		rules   IssueRules
		events  []IssueEvent
		hlc     int64
		expects int
		rng     = rand.New(rand.NewPCG(1, uint64(len(path))))
	)
	lines := bufio.NewScanner(f)
	for n := 1; lines.Scan(); n++ {
		words, err := splitIssueLine(lines.Text())
		if err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		if len(words) == 0 {
			continue
		}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("line %d: %s", n, fmt.Sprintf(format, args...))
		}
		kv := map[string]string{}
		var order []string
		var positional []string
		for _, w := range words[1:] {
			k, v, ok := strings.Cut(w, "=")
			if !ok {
				positional = append(positional, w)
				continue
			}
			if _, dup := kv[k]; dup {
				fail("%s given twice", k)
			}
			kv[k] = v
			order = append(order, k)
		}
		switch words[0] {
		case "rules":
			for k, v := range kv {
				d, err := time.ParseDuration(v)
				if err != nil {
					fail("%s: %v", k, err)
				}
				switch k {
				case "due_after":
					rules.DueAfter = d
				case "sign_within":
					rules.SignWithin = d
				default:
					fail("unknown rule %s", k)
				}
			}
		case "event":
			if len(positional) != 2 {
				fail("want: event ID TYPE key=value…")
			}
			hlc++
			if v, ok := kv["hlc"]; ok {
				if hlc, err = strconv.ParseInt(v, 10, 64); err != nil {
					fail("hlc: %v", err)
				}
			}
			r, err := scenarioRecord(positional[0], positional[1], kv, hlc, len(events)+1)
			if err != nil {
				fail("%v", err)
			}
			e, err := IssueEventFromRecord(r)
			if err != nil {
				fail("IssueEventFromRecord: %v", err)
			}
			events = append(events, e)
		case "expect":
			expects++
			got := DeriveIssue(events, rules)
			for _, k := range order {
				if err := checkIssueKey(got, k, kv[k]); err != nil {
					fail("%v\nstate: %+v", err, got)
				}
			}
			checkOrderFree(t, events, rules, got, rng)
		default:
			fail("unknown command %q", words[0])
		}
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
	if expects == 0 {
		t.Fatalf("%s has no expect line", path)
	}
}

// checkOrderFree wants the same state from events shuffled and duplicated.
func checkOrderFree(t *testing.T, events []IssueEvent, rules IssueRules, want IssueState, rng *rand.Rand) {
	t.Helper()
	evs := slices.Clone(events)
	for i := 0; i < 20; i++ {
		rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
		if got := DeriveIssue(evs, rules); !reflect.DeepEqual(got, want) {
			t.Fatalf("shuffled %v: got %+v, want %+v", ids(evs), got, want)
		}
	}
	if got := DeriveIssue(append(slices.Clone(evs), events...), rules); !reflect.DeepEqual(got, want) {
		t.Fatalf("every event twice: got %+v, want %+v", got, want)
	}
}

func ids(evs []IssueEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// splitIssueLine splits a scenario line into words, keeping quoted values
// whole (key="a b" is one word, unquoted) and dropping comments.
func splitIssueLine(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '#':
			i = len(line)
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '"':
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(line) {
				return nil, errors.New("unterminated quote")
			}
			s, err := strconv.Unquote(line[i : j+1])
			if err != nil {
				return nil, err
			}
			cur.WriteString(s)
			inWord = true
			i = j
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// scenarioTime reads an RFC 3339 time or the short form MM-DDTHH:MM (2026,
// UTC); "-" and "" are the zero time.
func scenarioTime(s string) (time.Time, error) {
	if s == "-" || s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02T15:04", "2026-"+s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339 or MM-DDTHH:MM", s)
	}
	return t, nil
}

// hashOf stands a valid SHA-256 hex string for a short name.
func hashOf(name string) string {
	return fmt.Sprintf("%064x", name)[:64]
}

// scenarioRecord builds the issue_events record of a scenario event: every
// field written by one write (the event's dot and HLC), received_at by a
// later write of the server.
func scenarioRecord(id, typ string, kv map[string]string, hlc int64, n int) (syncproto.Record, error) {
	role, ok := kv["role"]
	if !ok {
		return syncproto.Record{}, errors.New("event needs role=")
	}
	by := cmpOr(kv["by"], role)
	replica := syncproto.ReplicaID(cmpOr(kv["replica"], "r-"+by))
	counter := uint64(n)
	if v, ok := kv["counter"]; ok {
		c, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return syncproto.Record{}, fmt.Errorf("counter: %v", err)
		}
		counter = c
	}
	var logical uint32
	if v, ok := kv["logical"]; ok {
		l, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return syncproto.Record{}, fmt.Errorf("logical: %v", err)
		}
		logical = uint32(l)
	}
	values := map[string]any{"issue": cmpOr(kv["issue"], "i1"), "type": typ, "role": role, "by": by}
	for _, k := range []string{"reason", "handler", "handler_name", "resolution", "note", "response", "code"} {
		if v, ok := kv[k]; ok {
			values[k] = v
		}
	}
	for _, k := range [][2]string{{"at", "at"}, {"due", "due"}, {"received", "received_at"}} {
		if v, ok := kv[k[0]]; ok {
			tm, err := scenarioTime(v)
			if err != nil {
				return syncproto.Record{}, fmt.Errorf("%s: %v", k[0], err)
			}
			values[k[1]] = tm.Format(time.RFC3339)
		}
	}
	if v, ok := kv["evidence"]; ok {
		var hs []string
		for _, h := range strings.Split(v, ",") {
			hs = append(hs, hashOf(h))
		}
		values["evidence"] = hs
	}
	dot := syncproto.Dot{Replica: replica, Counter: counter}
	clock := syncproto.HLC{Wall: hlc, Logical: logical}
	r := syncproto.NewRecord(CollIssueEvents, id, "p1")
	r.Fields = map[string]syncproto.Field{}
	r.VV = syncproto.Vector{replica: counter}
	for k, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			return syncproto.Record{}, err
		}
		f := syncproto.Field{Value: b, Dot: dot, HLC: clock}
		if k == "received_at" {
			f.Dot = syncproto.Dot{Replica: "server", Counter: uint64(n)}
			f.HLC = syncproto.HLC{Wall: hlc, Logical: logical + 1}
			r.VV["server"] = uint64(n)
		}
		r.Fields[k] = f
	}
	return r, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkIssueKey checks one key of an expect line.
func checkIssueKey(st IssueState, key, want string) error {
	var got string
	times := map[string]time.Time{
		"raised_at": st.RaisedAt, "accepted_at": st.AcceptedAt, "dispatched_at": st.DispatchedAt,
		"signed_at": st.SignedAt, "responded_at": st.RespondedAt, "closed_at": st.ClosedAt,
		"confirmed_at": st.ConfirmedAt, "due": st.Due,
	}
	if tm, ok := times[key]; ok {
		w, err := scenarioTime(want)
		if err != nil {
			return err
		}
		if !tm.Equal(w) {
			return fmt.Errorf("%s: got %v, want %v", key, tm, w)
		}
		return nil
	}
	switch key {
	case "status":
		got = string(st.Status)
	case "issue":
		got = st.Issue
	case "handler":
		got = st.Handler
	case "handler_name":
		got = st.HandlerName
	case "resolution":
		got = st.Resolution
	case "response":
		got = st.Response
	case "dispatches":
		got = strconv.Itoa(st.Dispatches)
	case "bounces":
		got = strconv.Itoa(st.Bounces)
	case "reopens":
		got = strconv.Itoa(st.Reopens)
	case "disputes":
		got = strconv.Itoa(st.Disputes)
	case "signed_in_time":
		got = strconv.FormatBool(st.SignedInTime)
	case "responded_on_time":
		got = strconv.FormatBool(st.RespondedOnTime)
	case "overdue":
		got = strconv.FormatBool(st.Overdue)
	case "confirmed_solved":
		got = strconv.FormatBool(st.ConfirmedSolved)
	case "applied":
		got = strings.Join(st.Applied, ",")
	case "ignored":
		var ig []string
		for _, e := range st.Ignored {
			ig = append(ig, e.ID)
		}
		got = strings.Join(ig, ",")
	default:
		id, ok := strings.CutPrefix(key, "why:")
		if !ok {
			return fmt.Errorf("unknown expect key %q", key)
		}
		for _, e := range st.Ignored {
			if e.ID == id {
				if !strings.Contains(e.Why, want) {
					return fmt.Errorf("why %s: got %q, want it to contain %q", id, e.Why, want)
				}
				return nil
			}
		}
		return fmt.Errorf("why %s: %s was not ignored", id, id)
	}
	if got != want {
		return fmt.Errorf("%s: got %q, want %q", key, got, want)
	}
	return nil
}

// The lifecycle as DOMAIN.md and the issue brief state it, written out
// independently of issue.go's table.
var (
	wantFrom = map[EventType][]IssueStatus{
		EventRaised:            {""},
		EventAccepted:          {IssueRaised},
		EventNotAccepted:       {IssueRaised},
		EventDispatched:        {IssueRaised, IssueAccepted, IssueBounced, IssueArbitration, IssueReopened},
		EventSigned:            {IssueDispatched},
		EventBounced:           {IssueDispatched, IssueSigned},
		EventResponded:         {IssueDispatched, IssueSigned, IssueReopened},
		EventConfirmed:         {IssueResponded},
		EventDisputed:          {IssueResponded},
		EventReopened:          {IssueDisputed, IssueClosed, IssueClosedUnconfirmed},
		EventClosed:            {IssueResponded, IssueDisputed, IssueNotAccepted},
		EventClosedUnconfirmed: {IssueResponded},
		EventOverdue:           {IssueDispatched, IssueSigned, IssueReopened},
	}
	wantTo = map[EventType]IssueStatus{
		EventRaised: IssueRaised, EventAccepted: IssueAccepted, EventNotAccepted: IssueNotAccepted,
		EventDispatched: IssueDispatched, EventSigned: IssueSigned, EventResponded: IssueResponded,
		EventConfirmed: IssueClosed, EventDisputed: IssueDisputed, EventReopened: IssueReopened,
		EventClosed: IssueClosed, EventClosedUnconfirmed: IssueClosedUnconfirmed,
		// bounced: computed; overdue: unchanged
	}
	wantRoles = map[EventType][]Role{
		EventRaised:            {Officer, Contact, Admin},
		EventAccepted:          {Officer, Admin},
		EventNotAccepted:       {Officer, Admin},
		EventDispatched:        {Admin},
		EventSigned:            {Officer, Admin},
		EventBounced:           {Officer, Admin},
		EventResponded:         {Officer, Admin},
		EventConfirmed:         {Contact},
		EventDisputed:          {Contact},
		EventReopened:          {Admin, Officer},
		EventClosed:            {Admin},
		EventClosedUnconfirmed: {RoleSystem},
		EventOverdue:           {RoleSystem},
	}
	wantWithCode = map[EventType][]Role{EventConfirmed: {Officer}, EventDisputed: {Officer}}
	wantNeeds    = map[EventType][]string{
		EventNotAccepted: {"reason"}, EventDispatched: {"handler"}, EventBounced: {"reason"},
		EventResponded: {"resolution"}, EventDisputed: {"reason"}, EventReopened: {"reason"},
	}
	allStatuses = []IssueStatus{"", IssueRaised, IssueAccepted, IssueNotAccepted, IssueDispatched, IssueSigned,
		IssueBounced, IssueArbitration, IssueResponded, IssueDisputed, IssueReopened, IssueClosed, IssueClosedUnconfirmed}
	testRoles = []Role{Admin, Officer, Contact, Viewer, RoleSystem, ""}
)

func TestIssueTransitionsTable(t *testing.T) {
	table := IssueTransitions()
	if len(table) != len(wantFrom) {
		t.Fatalf("got %d transitions, want %d (one per event type)", len(table), len(wantFrom))
	}
	sorted := func(s []IssueStatus) []IssueStatus { return slices.Sorted(slices.Values(s)) }
	sortedRoles := func(s []Role) []Role { return slices.Sorted(slices.Values(s)) }
	for _, tr := range table {
		if !tr.Event.Valid() {
			t.Errorf("%s: not Valid", tr.Event)
		}
		if got, want := sorted(tr.From), sorted(wantFrom[tr.Event]); !slices.Equal(got, want) {
			t.Errorf("%s from: got %v, want %v", tr.Event, got, want)
		}
		if tr.To != wantTo[tr.Event] {
			t.Errorf("%s to: got %q, want %q", tr.Event, tr.To, wantTo[tr.Event])
		}
		if got, want := sortedRoles(tr.Roles), sortedRoles(wantRoles[tr.Event]); !slices.Equal(got, want) {
			t.Errorf("%s roles: got %v, want %v", tr.Event, got, want)
		}
		if got, want := tr.WithCode, wantWithCode[tr.Event]; !slices.Equal(got, want) {
			t.Errorf("%s with code: got %v, want %v", tr.Event, got, want)
		}
		if got, want := tr.Needs, wantNeeds[tr.Event]; !slices.Equal(got, want) {
			t.Errorf("%s needs: got %v, want %v", tr.Event, got, want)
		}
	}
	// The table handed out is a copy.
	table[0].Roles[0] = "root"
	if IssueTransitions()[0].Roles[0] == "root" {
		t.Error("IssueTransitions shares its slices with the package's table")
	}
	if !slices.Equal(EventTypes(), slices.Collect(func(yield func(EventType) bool) {
		for _, tr := range IssueTransitions() {
			if !yield(tr.Event) {
				return
			}
		}
	})) {
		t.Error("EventTypes does not list the table's events")
	}
	for _, bad := range []EventType{"", "Raised", "closed ", "deleted"} {
		if bad.Valid() {
			t.Errorf("%q: Valid, want not", bad)
		}
	}
	if RoleSystem.Valid() {
		t.Error("RoleSystem is a valid user role; only the server may write as system")
	}
	if b, err := json.Marshal(table[0]); err != nil || !strings.Contains(string(b), `"event":"raised"`) {
		t.Errorf("transition JSON: got %s, %v", b, err)
	}
}

// issueLog builds events in order: each gets the next HLC.
type issueLog struct {
	events []IssueEvent
	at     time.Time
}

func (l *issueLog) add(id string, typ EventType, role Role, edit ...func(*IssueEvent)) IssueEvent {
	n := len(l.events) + 1
	l.at = l.at.Add(time.Hour)
	e := IssueEvent{
		ID: id, Issue: "i1", Type: typ, Role: role, By: "u-" + string(role), At: l.at,
		Order: EventOrder{HLC: syncproto.HLC{Wall: int64(1000 * n)}, Replica: "r-" + syncproto.ReplicaID(role), Counter: uint64(n)},
	}
	for _, f := range edit {
		f(&e)
	}
	l.events = append(l.events, e)
	return e
}

// withNeeds fills every field an event may need.
func withNeeds(e *IssueEvent) {
	e.Reason, e.Handler, e.Resolution = "because", "u7", ResolutionSolved
}

// prefixFor returns a log that reaches status, every event applied.
func prefixFor(status IssueStatus) *issueLog {
	l := &issueLog{at: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	steps := map[IssueStatus][]EventType{
		"":                     {},
		IssueRaised:            {EventRaised},
		IssueAccepted:          {EventRaised, EventAccepted},
		IssueNotAccepted:       {EventRaised, EventNotAccepted},
		IssueDispatched:        {EventRaised, EventDispatched},
		IssueSigned:            {EventRaised, EventDispatched, EventSigned},
		IssueBounced:           {EventRaised, EventDispatched, EventBounced},
		IssueArbitration:       {EventRaised, EventDispatched, EventBounced, EventDispatched, EventSigned, EventBounced},
		IssueResponded:         {EventRaised, EventDispatched, EventSigned, EventResponded},
		IssueDisputed:          {EventRaised, EventDispatched, EventResponded, EventDisputed},
		IssueReopened:          {EventRaised, EventDispatched, EventResponded, EventDisputed, EventReopened},
		IssueClosed:            {EventRaised, EventDispatched, EventResponded, EventConfirmed},
		IssueClosedUnconfirmed: {EventRaised, EventDispatched, EventResponded, EventClosedUnconfirmed},
	}[status]
	for i, typ := range steps {
		l.add(fmt.Sprintf("p%d", i+1), typ, wantRoles[typ][0], withNeeds)
	}
	return l
}

// TestIssueTransitionMatrix appends every event type, by every role, with
// and without the contact's code, to a log in every status, and wants it
// applied exactly when the lifecycle allows it; an ignored event changes
// nothing but the ignored list.
func TestIssueTransitionMatrix(t *testing.T) {
	checked, applied := 0, 0
	for _, status := range allStatuses {
		base := prefixFor(status)
		before := DeriveIssue(base.events, IssueRules{})
		if before.Status != status || len(before.Ignored) != 0 {
			t.Fatalf("prefix for %q: got status %q, ignored %v", status, before.Status, before.Ignored)
		}
		for _, typ := range EventTypes() {
			for _, role := range testRoles {
				for _, withCode := range []bool{false, true} {
					checked++
					name := fmt.Sprintf("%s + %s by %q (code %v)", cmpOr(string(status), "(none)"), typ, role, withCode)
					mayByRole := slices.Contains(wantRoles[typ], role) || withCode && slices.Contains(wantWithCode[typ], role)
					if got := MayAppend(role, typ, withCode); got != mayByRole {
						t.Errorf("MayAppend(%q, %s, %v): got %v, want %v", role, typ, withCode, got, mayByRole)
					}
					want := mayByRole && slices.Contains(wantFrom[typ], status)

					l := &issueLog{events: slices.Clone(base.events), at: base.at}
					e := l.add("x", typ, role, withNeeds, func(e *IssueEvent) {
						if withCode {
							e.Code = "483920"
						}
					})
					got := DeriveIssue(l.events, IssueRules{})
					if isApplied := slices.Contains(got.Applied, "x"); isApplied != want {
						t.Errorf("%s: applied %v, want %v (ignored: %v)", name, isApplied, want, got.Ignored)
						continue
					}
					if !want {
						if len(got.Ignored) != 1 || got.Ignored[0] != (IgnoredEvent{ID: "x", Type: typ, Why: got.Ignored[0].Why}) || got.Ignored[0].Why == "" {
							t.Errorf("%s: ignored %v, want x with a reason", name, got.Ignored)
						}
						got.Ignored = nil
						before.Issue = "i1" // named by x when the log held nothing else
						if !reflect.DeepEqual(got, before) {
							t.Errorf("%s: an ignored event changed the state: got %+v, want %+v", name, got, before)
						}
						continue
					}
					applied++
					wantStatus, ok := wantTo[typ]
					switch {
					case typ == EventBounced && before.Bounces == 0:
						wantStatus = IssueBounced
					case typ == EventBounced:
						wantStatus = IssueArbitration
					case !ok:
						wantStatus = status
					}
					if got.Status != wantStatus {
						t.Errorf("%s: status %q, want %q", name, got.Status, wantStatus)
					}
					// Without each field it needs, the same event is ignored.
					for _, need := range wantNeeds[typ] {
						l2 := &issueLog{events: slices.Clone(base.events), at: base.at}
						l2.events = append(l2.events, e)
						last := &l2.events[len(l2.events)-1]
						switch need {
						case "reason":
							last.Reason = " "
						case "handler":
							last.Handler = ""
						case "resolution":
							last.Resolution = ""
						}
						got := DeriveIssue(l2.events, IssueRules{})
						if len(got.Ignored) != 1 || !strings.Contains(got.Ignored[0].Why, "needs "+need) {
							t.Errorf("%s without %s: ignored %v, want x because it needs %s", name, need, got.Ignored, need)
						}
					}
				}
			}
		}
	}
	t.Logf("%d (status, event, role, code) combinations, %d applied", checked, applied)
}

func TestIssueEventFromRecord(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	phone := &syncproto.Writer{Replica: "phone-7", Counter: 41}
	raw := func(v any) json.RawMessage {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	full := map[string]json.RawMessage{
		"issue": raw("iss-1"), "type": raw("responded"), "at": raw("2026-03-02T17:30:00+08:00"),
		"by": raw("u7"), "role": raw("officer"), "resolution": raw("solved"), "note": raw("refund paid"),
		"evidence": raw([]string{hashOf("a"), hashOf("b")}), "due": raw("2026-03-05T00:00:00Z"),
		"reason": json.RawMessage("null"),
	}
	rec, write, err := phone.Set(syncproto.NewRecord(CollIssueEvents, "ev-1", "p1"), full, now)
	if err != nil {
		t.Fatal(err)
	}
	// The server stamps its receipt time with a later write of its own.
	server := &syncproto.Writer{Replica: "srv-1", Counter: 9}
	stored, _, err := server.Set(rec, map[string]json.RawMessage{"received_at": raw("2026-03-02T09:31:00Z")}, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	e, err := IssueEventFromRecord(stored)
	if err != nil {
		t.Fatal(err)
	}
	want := IssueEvent{
		ID: "ev-1", Issue: "iss-1", Type: EventResponded,
		At:         time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC),
		ReceivedAt: time.Date(2026, 3, 2, 9, 31, 0, 0, time.UTC),
		By:         "u7", Role: Officer, Resolution: "solved", Note: "refund paid",
		Due:      time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC),
		Evidence: []string{hashOf("a"), hashOf("b")},
		Order:    EventOrder{HLC: write.HLC, Replica: "phone-7", Counter: 42},
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("got %+v, want %+v", e, want)
	}
	if write.Dot != (syncproto.Dot{Replica: "phone-7", Counter: 42}) {
		t.Errorf("write dot: got %v", write.Dot)
	}

	for _, tc := range []struct {
		name  string
		edit  map[string]json.RawMessage
		field string
		msg   string
	}{
		{"missing issue", map[string]json.RawMessage{"issue": nil}, "issue", "missing issue"},
		{"null issue", map[string]json.RawMessage{"issue": raw(nil)}, "issue", "missing issue"},
		{"missing type", map[string]json.RawMessage{"type": nil}, "type", "missing type"},
		{"unknown type", map[string]json.RawMessage{"type": raw("deleted")}, "type", `unknown type "deleted"`},
		{"type not a string", map[string]json.RawMessage{"type": raw(7)}, "type", "not a string"},
		{"bad at", map[string]json.RawMessage{"at": raw("2026-03-02 09:30")}, "at", "not an RFC 3339 time"},
		{"bad due", map[string]json.RawMessage{"due": raw("tomorrow")}, "due", "not an RFC 3339 time"},
		{"bad received_at", map[string]json.RawMessage{"received_at": raw(12)}, "received_at", "not a string"},
		{"evidence not hashes", map[string]json.RawMessage{"evidence": raw([]string{"ABC"})}, "evidence", "SHA-256"},
		{"evidence not an array", map[string]json.RawMessage{"evidence": raw("x")}, "evidence", "array"},
		{"reason not a string", map[string]json.RawMessage{"reason": raw(true)}, "reason", "not a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			values := map[string]json.RawMessage{}
			for k, v := range full {
				values[k] = v
			}
			for k, v := range tc.edit {
				if v == nil {
					delete(values, k)
				} else {
					values[k] = v
				}
			}
			w := &syncproto.Writer{Replica: "phone-7"}
			r, _, err := w.Set(syncproto.NewRecord(CollIssueEvents, "ev-2", "p1"), values, now)
			if err != nil {
				t.Fatal(err)
			}
			_, err = IssueEventFromRecord(r)
			var perr *syncproto.Error
			if !errors.As(err, &perr) {
				t.Fatalf("got %v, want a *syncproto.Error", err)
			}
			if perr.Code != syncproto.CodeValidation || perr.Field != tc.field || !strings.Contains(perr.Message, tc.msg) {
				t.Errorf("got %s %q field %q, want validation_failed %q field %q", perr.Code, perr.Message, perr.Field, tc.msg, tc.field)
			}
		})
	}

	t.Run("other collection", func(t *testing.T) {
		r := rec
		r.Collection = "issues"
		if _, err := IssueEventFromRecord(r); err == nil {
			t.Error("got no error for an issues record")
		}
	})
	t.Run("deleted", func(t *testing.T) {
		r, _, err := phone.Delete(rec, now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := IssueEventFromRecord(r); err == nil {
			t.Error("got no error for a deleted event")
		}
	})
}

func TestIssueEventWhen(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	hlc := syncproto.HLC{Wall: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()}
	for _, tc := range []struct {
		name string
		e    IssueEvent
		want time.Time
	}{
		{"at only", IssueEvent{At: at}, at},
		{"at before receipt", IssueEvent{At: at, ReceivedAt: at.Add(72 * time.Hour)}, at},
		{"at within 5 minutes ahead", IssueEvent{At: at.Add(4 * time.Minute), ReceivedAt: at}, at.Add(4 * time.Minute)},
		{"clock days ahead: receipt + 5 minutes", IssueEvent{At: at.Add(72 * time.Hour), ReceivedAt: at}, at.Add(5 * time.Minute)},
		{"no at: receipt", IssueEvent{ReceivedAt: at, Order: EventOrder{HLC: hlc}}, at},
		{"no at, no receipt: HLC", IssueEvent{Order: EventOrder{HLC: hlc}}, hlc.Time()},
		{"nothing", IssueEvent{}, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.e.When(); !got.Equal(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEventOrderCompare(t *testing.T) {
	o := func(wall int64, logical uint32, replica string, counter uint64) EventOrder {
		return EventOrder{HLC: syncproto.HLC{Wall: wall, Logical: logical}, Replica: syncproto.ReplicaID(replica), Counter: counter}
	}
	for _, tc := range []struct {
		a, b EventOrder
		want int
	}{
		{o(1, 0, "b", 9), o(2, 0, "a", 1), -1},
		{o(2, 0, "a", 1), o(2, 1, "a", 0), -1},
		{o(2, 1, "b", 1), o(2, 1, "a", 5), 1},
		{o(2, 1, "a", 2), o(2, 1, "a", 10), -1},
		{o(2, 1, "a", 2), o(2, 1, "a", 2), 0},
	} {
		if got := tc.a.Compare(tc.b); got != tc.want {
			t.Errorf("%v vs %v: got %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := tc.b.Compare(tc.a); got != -tc.want {
			t.Errorf("%v vs %v: got %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func TestIssueRulesDefaults(t *testing.T) {
	l := &issueLog{at: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	l.add("e1", EventRaised, Officer)
	d := l.add("e2", EventDispatched, Admin, withNeeds)
	l.add("e3", EventSigned, Officer, func(e *IssueEvent) { e.At = d.At.Add(20 * time.Hour) })
	for _, tc := range []struct {
		rules      IssueRules
		due        time.Time
		signedInTm bool
	}{
		{IssueRules{}, d.At.Add(DefaultDueAfter), true},
		{IssueRules{DueAfter: 48 * time.Hour, SignWithin: 2 * time.Hour}, d.At.Add(48 * time.Hour), false},
	} {
		st := DeriveIssue(l.events, tc.rules)
		if !st.Due.Equal(tc.due) || st.SignedInTime != tc.signedInTm {
			t.Errorf("rules %+v: got due %v, signed in time %v; want %v, %v", tc.rules, st.Due, st.SignedInTime, tc.due, tc.signedInTm)
		}
	}
}

func TestDeriveIssueDoesNotModifyInput(t *testing.T) {
	l := prefixFor(IssueReopened)
	l.events[0], l.events[3] = l.events[3], l.events[0]
	in := slices.Clone(l.events)
	DeriveIssue(l.events, IssueRules{})
	if !reflect.DeepEqual(in, l.events) {
		t.Error("DeriveIssue reordered or changed its input")
	}
}

// issueSim is a random history of one issue written on several replicas
// that sync now and then, each choosing mostly events its own view allows
// (so logs reach every status) and sometimes anything at all.
type issueSim struct {
	rng      *rand.Rand
	now      time.Time
	server   map[string]IssueEvent
	replicas []*simReplica
	n        int
}

type simReplica struct {
	id    syncproto.ReplicaID
	user  string
	role  Role
	skew  time.Duration // device clock error
	clock syncproto.HLC
	known map[string]IssueEvent
	wrote []IssueEvent // as written, before the server stamped them
	count uint64
}

func (s *issueSim) sync(r *simReplica) {
	for id, e := range r.known {
		if _, ok := s.server[id]; !ok {
			e.ReceivedAt = s.now // the server stamps its receipt
			s.server[id] = e
		}
	}
	for id, e := range s.server {
		r.known[id] = e
		r.clock = r.clock.Recv(e.Order.HLC, s.now.Add(r.skew))
	}
}

func (s *issueSim) write(r *simReplica) {
	view := DeriveIssue(slices.Collect(mapValues(r.known)), IssueRules{})
	var choices []EventType
	for _, tr := range IssueTransitions() {
		if slices.Contains(tr.From, view.Status) && (MayAppend(r.role, tr.Event, false) || MayAppend(r.role, tr.Event, true)) {
			choices = append(choices, tr.Event)
		}
	}
	typ := EventTypes()[s.rng.IntN(len(EventTypes()))]
	if len(choices) > 0 && s.rng.IntN(5) > 0 {
		typ = choices[s.rng.IntN(len(choices))]
	}
	r.count++
	s.n++
	r.clock = r.clock.Tick(s.now.Add(r.skew))
	e := IssueEvent{
		ID: fmt.Sprintf("e%d", s.n), Issue: "i1", Type: typ, By: r.user, Role: r.role,
		At:    s.now.Add(r.skew),
		Order: EventOrder{HLC: r.clock, Replica: r.id, Counter: r.count},
	}
	if s.rng.IntN(20) == 0 {
		e.Issue = "i2"
	}
	if s.rng.IntN(10) > 0 {
		e.Reason = "reason"
	}
	if s.rng.IntN(10) > 0 {
		e.Handler = []string{"u7", "u8", "u9"}[s.rng.IntN(3)]
		e.HandlerName = "handler " + e.Handler
	}
	if s.rng.IntN(3) == 0 {
		e.Due = s.now.Add(time.Duration(s.rng.IntN(200)) * time.Hour)
	}
	e.Resolution = []string{ResolutionSolved, ResolutionPartly, ResolutionExplained, ResolutionCannot, "", "fixed"}[s.rng.IntN(6)]
	if r.role == Officer && s.rng.IntN(2) == 0 {
		e.Code = "123456"
	}
	switch s.rng.IntN(3) {
	case 0:
		e.Response = view.Response
	case 1:
		var responses []string
		for _, x := range r.known {
			if x.Type == EventResponded {
				responses = append(responses, x.ID)
			}
		}
		if len(responses) > 0 {
			e.Response = responses[s.rng.IntN(len(responses))]
		}
	}
	r.known[e.ID] = e
	r.wrote = append(r.wrote, e)
}

func mapValues[K comparable, V any](m map[K]V) func(func(V) bool) {
	return func(yield func(V) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

func newIssueSim(seed uint64) *issueSim {
	rng := rand.New(rand.NewPCG(seed, 0x155e))
	skew := func() time.Duration { return time.Duration(rng.IntN(7*24)-3*24) * time.Hour }
	s := &issueSim{rng: rng, now: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), server: map[string]IssueEvent{}}
	for _, r := range []simReplica{
		{id: "officer-phone", user: "u7", role: Officer, skew: skew()},
		{id: "officer2-phone", user: "u8", role: Officer, skew: skew()},
		{id: "contact-phone", user: "c1", role: Contact, skew: skew()},
		{id: "admin-web", user: "a1", role: Admin},
		{id: "server", user: "system", role: RoleSystem},
	} {
		r.known = map[string]IssueEvent{}
		s.replicas = append(s.replicas, &r)
	}
	return s
}

// TestDeriveIssueOrderFree: for 1,000+ random histories, every order of the
// events (shuffled 20 times), with duplicates (some as the server's stamped
// copy), gives a deep-equal state; and the histories reach every status.
func TestDeriveIssueOrderFree(t *testing.T) {
	const logs = 1200
	reached := map[IssueStatus]int{}
	ignoredTotal, appliedTotal := 0, 0
	for seed := uint64(1); seed <= logs; seed++ {
		s := newIssueSim(seed)
		steps := 5 + s.rng.IntN(40)
		for i := 0; i < steps; i++ {
			s.now = s.now.Add(time.Duration(s.rng.IntN(48*60)) * time.Minute)
			r := s.replicas[s.rng.IntN(len(s.replicas))]
			if s.rng.IntN(3) == 0 {
				s.sync(r)
			} else {
				s.write(r)
			}
		}
		// Every copy held anywhere: the writers' own (no receipt time) and
		// the server's (stamped), so one id comes with different contents.
		var events []IssueEvent
		for _, r := range s.replicas {
			events = slices.AppendSeq(events, mapValues(r.known))
			events = append(events, r.wrote...)
		}
		events = slices.AppendSeq(events, mapValues(s.server))
		want := DeriveIssue(events, IssueRules{})
		for i := 0; i < 20; i++ {
			evs := slices.Clone(events)
			s.rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
			if i%2 == 1 {
				evs = evs[:len(evs)-s.rng.IntN(len(evs)/2+1)]
				evs = append(evs, events...) // the rest, after duplicates
			}
			if got := DeriveIssue(evs, IssueRules{}); !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d, shuffle %d: got %+v, want %+v", seed, i, got, want)
			}
		}
		// Every id of the issue is either applied or ignored, once.
		distinct := map[string]bool{}
		for _, e := range events {
			if e.Issue == want.Issue {
				distinct[e.ID] = true
			}
		}
		if n := len(want.Applied) + len(want.Ignored); n != len(distinct) {
			t.Fatalf("seed %d: %d applied + ignored, want %d distinct events", seed, n, len(distinct))
		}
		if (want.Status == "") != (len(want.Applied) == 0) {
			t.Fatalf("seed %d: status %q with %d applied", seed, want.Status, len(want.Applied))
		}
		reached[want.Status]++
		ignoredTotal += len(want.Ignored)
		appliedTotal += len(want.Applied)
	}
	for _, st := range allStatuses[1:] {
		if reached[st] == 0 {
			t.Errorf("no random history ended %s: the generator is too weak (reached %v)", st, reached)
		}
	}
	t.Logf("%d histories × 20 orders: final statuses %v; %d events applied, %d ignored", logs, reached, appliedTotal, ignoredTotal)
}
