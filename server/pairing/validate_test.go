package pairing

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// checkCase builds the Write a device would send: stored (nil: new record)
// then a write of values by the principal.
func checkCase(t *testing.T, p Principal, collection string, stored, values map[string]any) Write {
	t.Helper()
	w := syncproto.Writer{Replica: "dev-1"}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var base syncproto.Record
	rec := syncproto.NewRecord(collection, "r1", "p1")
	if stored != nil {
		vals := map[string]json.RawMessage{}
		for k, v := range stored {
			vals[k], _ = json.Marshal(v)
		}
		next, _, err := w.Set(rec, vals, now)
		if err != nil {
			t.Fatal(err)
		}
		base, rec = next, next
	}
	vals := map[string]json.RawMessage{}
	for k, v := range values {
		if raw, ok := v.(json.RawMessage); ok {
			vals[k] = raw
			continue
		}
		vals[k], _ = json.Marshal(v)
	}
	merged, _, err := w.Set(rec, vals, now)
	if err != nil {
		t.Fatal(err)
	}
	pr := Pairing{ID: "p1", Status: StatusActive, Officers: []string{"u-off"}, Counterparties: []string{"cp1"}}
	return Write{Principal: p, Pairing: pr, Stored: base, Op: syncproto.OpSet, Values: vals, Merged: merged, Now: now}
}

// checkWriteCase is one write TestCheckWrite checks, and its verdict.
type checkWriteCase struct {
	name       string
	p          Principal
	collection string
	stored     map[string]any
	values     map[string]any
	want       string // "" = allowed; else "code field"
}

// checkWriteCases are TestCheckWrite's writes (checkvalue_diff_test.go
// reads their values too).
func checkWriteCases() []checkWriteCase {
	officer := Principal{UserID: "u-off", Role: Officer}
	contact := Principal{UserID: "u-con", Role: Contact, Counterparty: "cp1"}
	admin := Principal{UserID: "u-adm", Role: Admin}
	at := "2026-03-01T08:00:00Z"
	visit := map[string]any{"mode": "onsite", "visited_at": at, "officers": []string{"u-off"}}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for a, b := range m {
			out[a] = b
		}
		out[k] = v
		return out
	}
	photo := map[string]any{"sha256": strings.Repeat("ab", 32), "size": 1000, "type": "image/jpeg"}
	return []checkWriteCase{
		{"a good visit", officer, CollVisits, nil, with(visit, "photos", []any{photo}), ""},
		{"missing required mode", officer, CollVisits, nil, map[string]any{"visited_at": at, "officers": []string{"u-off"}}, "validation_failed mode"},
		{"unknown field", officer, CollVisits, nil, with(visit, "phone", "138"), "validation_failed phone"},
		{"wrong type", officer, CollVisits, nil, with(visit, "notes", 5), "validation_failed notes"},
		{"notes too long", officer, CollVisits, nil, with(visit, "notes", strings.Repeat("走", MaxNotes+1)), "validation_failed notes"},
		{"NUL in a title", officer, CollVisits, nil, with(visit, "title", "a\x00b"), "validation_failed title"},
		{"newline in a one-line field", officer, CollVisits, nil, with(visit, "title", "a\nb"), "validation_failed title"},
		{"mode not in the enum", officer, CollVisits, nil, with(visit, "mode", "$ne"), "validation_failed mode"},
		{"time days in the future", officer, CollVisits, nil, with(visit, "visited_at", "2026-03-05T08:00:00Z"), "validation_failed visited_at"},
		{"ancient time", officer, CollVisits, nil, with(visit, "visited_at", "1970-01-01T00:00:00Z"), "validation_failed visited_at"},
		{"not RFC 3339", officer, CollVisits, nil, with(visit, "visited_at", "2026/03/01"), "validation_failed visited_at"},
		{"officer not of the pairing", officer, CollVisits, nil, with(visit, "officers", []string{"u-other"}), "validation_failed officers"},
		{"counterparty not of the pairing", officer, CollVisits, nil, with(visit, "counterparty", "cp9"), "validation_failed counterparty"},
		{"location out of range", officer, CollVisits, nil, with(visit, "location", map[string]any{"lat": 91, "lng": 0}), "validation_failed location"},
		{"location with an unknown key", officer, CollVisits, nil, with(visit, "location", map[string]any{"lat": 1, "lng": 2, "alt": 1}), "validation_failed location"},
		{"photo with a bad hash", officer, CollVisits, nil, with(visit, "photos", []any{with(photo, "sha256", "xyz")}), "validation_failed photos"},
		{"photo of a refused type", officer, CollVisits, nil, with(visit, "photos", []any{with(photo, "type", "application/pdf")}), "validation_failed photos"},
		{"photo listed twice", officer, CollVisits, nil, with(visit, "photos", []any{photo, photo}), "validation_failed photos"},
		{"server-only field", officer, CollVisits, nil, with(visit, "received_at", at), "forbidden received_at"},
		{"officer returns a visit", officer, CollVisits, visit, map[string]any{"status": "returned", "return_comment": "x"}, "forbidden return_comment"},
		{"admin returns without comment", admin, CollVisits, visit, map[string]any{"status": "returned"}, "validation_failed return_comment"},
		{"clearing a required field", officer, CollVisits, visit, map[string]any{"mode": nil}, "validation_failed mode"},
		{"immutable field changed", officer, CollIssues, map[string]any{"title": "t", "category": "tax", "raised_by": "u-off", "raised_at": at}, map[string]any{"raised_at": "2026-02-01T08:00:00Z"}, "forbidden raised_at"},
		{"raise as someone else", officer, CollIssues, nil, map[string]any{"title": "t", "category": "tax", "raised_by": "u-con", "raised_at": at}, "forbidden raised_by"},
		{"contact raises for another counterparty", contact, CollIssues, nil, map[string]any{"title": "t", "category": "tax", "raised_by": "u-con", "raised_at": at, "counterparty": "cp2"}, "validation_failed counterparty"},
		{"event edited", officer, CollIssueEvents, map[string]any{"issue": "i1", "type": "signed", "at": at, "by": "u-off", "role": "officer"}, map[string]any{"note": "x"}, "forbidden record"},
		{"contact dispatches", contact, CollIssueEvents, nil, map[string]any{"issue": "i1", "type": "dispatched", "at": at, "by": "u-con", "role": "contact", "handler": "u-off"}, "forbidden type"},
		{"officer confirms without code", officer, CollIssueEvents, nil, map[string]any{"issue": "i1", "type": "confirmed", "at": at, "by": "u-off", "role": "officer"}, "forbidden code"},
		{"bounce without reason", officer, CollIssueEvents, nil, map[string]any{"issue": "i1", "type": "bounced", "at": at, "by": "u-off", "role": "officer"}, "validation_failed reason"},
		{"role forged", officer, CollIssueEvents, nil, map[string]any{"issue": "i1", "type": "accepted", "at": at, "by": "u-off", "role": "admin"}, "forbidden role"},
		{"rating level out of range", contact, CollRatings, nil, map[string]any{"target_kind": "issue", "target": "i1", "level": 0, "by": "u-con", "at": at}, "validation_failed level"},
		{"officer rates without code", officer, CollRatings, nil, map[string]any{"target_kind": "issue", "target": "i1", "level": 5, "by": "u-off", "at": at}, "forbidden code"},
		{"project skips approval", officer, CollProjects, map[string]any{"title": "t", "category": "other", "status": "proposed"}, map[string]any{"status": "in_progress"}, "validation_failed status"},
		{"officer approves", officer, CollProjects, map[string]any{"title": "t", "category": "other", "status": "proposed"}, map[string]any{"status": "approved"}, "forbidden status"},
		{"officer approves a deferred project", officer, CollProjects, map[string]any{"title": "t", "category": "other", "status": "deferred", "status_reason": "x"}, map[string]any{"status": "approved"}, "forbidden status"},
		{"officer resumes a deferred project", officer, CollProjects, map[string]any{"title": "t", "category": "other", "status": "deferred", "status_reason": "x"}, map[string]any{"status": "in_progress"}, "forbidden status"},
		{"admin resumes a deferred project", admin, CollProjects, map[string]any{"title": "t", "category": "other", "status": "deferred", "status_reason": "x"}, map[string]any{"status": "in_progress"}, ""},
		{"cancel without reason", officer, CollProjects, map[string]any{"title": "t", "category": "other", "status": "approved"}, map[string]any{"status": "cancelled"}, "validation_failed status_reason"},
		{"cancel with reason", officer, CollProjects, map[string]any{"title": "t", "category": "other", "status": "approved"}, map[string]any{"status": "cancelled", "status_reason": "企业搬迁"}, ""},
		{"cancel with a blank reason", officer, CollProjects, map[string]any{"title": "t", "category": "other", "status": "approved"}, map[string]any{"status": "cancelled", "status_reason": "  "}, "validation_failed status_reason"},
		{"admin approves, signed", admin, CollProjects, map[string]any{"title": "t", "category": "other", "status": "proposed"}, map[string]any{"status": "approved", "status_by": "u-adm", "status_by_name": "王管理", "status_at": at}, ""},
		{"decision signed by another", admin, CollProjects, map[string]any{"title": "t", "category": "other", "status": "proposed"}, map[string]any{"status": "deferred", "status_reason": "资金未到位", "status_by": "u-off", "status_at": at}, "forbidden status_by"},
		{"officer signs a decision for an admin", officer, CollProjects, map[string]any{"title": "t", "category": "other", "status": "proposed"}, map[string]any{"status": "deferred", "status_reason": "资金未到位", "status_by": "u-adm"}, "forbidden status_by"},
		{"contact accepts too early", contact, CollProjects, map[string]any{"title": "t", "category": "other", "status": "in_progress"}, map[string]any{"contact_accepted_at": at, "contact_accepted_by": "u-con"}, "forbidden contact_accepted_at"},
		{"contact accepts", contact, CollProjects, map[string]any{"title": "t", "category": "other", "status": "completed"}, map[string]any{"contact_accepted_at": at, "contact_accepted_by": "u-con"}, ""},
		{"enterprise with a bad code", admin, CollCounterparties, nil, map[string]any{"kind": "enterprise", "name": "某公司", "org_unit": "u1", "credit_code": "91320100MA1ABCDE10"}, "validation_failed credit_code"},
		{"community needs no code", admin, CollCounterparties, nil, map[string]any{"kind": "community", "name": "某社区", "org_unit": "u1"}, ""},
	}
}

func TestCheckWrite(t *testing.T) {
	for _, tc := range checkWriteCases() {
		t.Run(tc.name, func(t *testing.T) {
			e := CheckWrite(checkCase(t, tc.p, tc.collection, tc.stored, tc.values))
			got := ""
			if e != nil {
				got = string(e.Code) + " " + e.Field
			}
			if got != tc.want {
				msg := ""
				if e != nil {
					msg = e.Message
				}
				t.Fatalf("got %q (%s), want %q", got, msg, tc.want)
			}
		})
	}
}

// TestProjectMovesNamed: every move the rule allows has an action name in
// both languages (the buttons show it), and every field a move needs is a
// field of projects.
func TestProjectMovesNamed(t *testing.T) {
	spec, _ := Spec(CollProjects)
	for from, tos := range ProjectMoves() {
		for to := range tos {
			if l := LabelOf(ProjectActions, to); l.ZH == "" || l.EN == "" {
				t.Errorf("move %q → %q: no action name, want one in Chinese and English", from, to)
			}
			if l := LabelOf(ProjectStatuses, to); l.ZH == LabelOf(ProjectActions, to).ZH {
				t.Errorf("move to %q: the action is named %q like the state; name it for the action", to, l.ZH)
			}
		}
	}
	for to, fields := range ProjectMoveNeeds() {
		for _, f := range fields {
			if _, ok := spec.Field(f); !ok {
				t.Errorf("a move to %q needs %q: projects have no such field", to, f)
			}
		}
	}
}
