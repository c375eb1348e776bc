package pairing

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// FuzzCheckWrite (issue 11): any values written to any collection by any
// role, creating a record or changing a stored one, are accepted or refused
// with validation_failed / forbidden naming a field and saying why; never a
// panic. An accepted creation holds every required field.
func FuzzCheckWrite(f *testing.F) {
	now := time.Now().UTC()
	at := now.Format(time.RFC3339)
	for _, s := range []struct {
		coll, role uint8
		op         string
		values     string
	}{
		{0, 0, "set", `{"mode":"onsite","visited_at":"` + at + `","officers":["u-off"]}`},
		{0, 0, "set", `{"mode":"onsite","visited_at":"2999-01-01T00:00:00Z","officers":["u-off"],"notes":"$where"}`},
		{1, 2, "set", `{"title":"诉求","category":"policy","raised_by":"u-con","raised_at":"` + at + `"}`},
		{2, 0, "set", `{"issue":"i1","type":"responded","at":"` + at + `","by":"u-off","role":"officer"}`},
		{3, 0, "set", `{"title":"项目","category":"other","status":"proposed","photos":[{"sha256":"` + string(make([]byte, 0)) + `","size":1,"type":"image/jpeg"}]}`},
		{5, 2, "set", `{"target_kind":"issue","target":"i1","level":5,"by":"u-con","at":"` + at + `"}`},
		{6, 1, "delete", `{}`},
		{7, 1, "set", `{"kind":"enterprise","name":"某公司","org_unit":"unitA","credit_code":"91320100MA1ABCDE1X"}`},
		{8, 1, "set", `{"name":"结对","status":"active","branches":["unitA"],"counterparties":["cp"],"officers":[{"user_id":"u-off","primary":true}]}`},
		{0, 3, "keep", `{"received_at":"` + at + `"}`},
	} {
		f.Add(s.coll, s.role, s.op, []byte(s.values), false)
		f.Add(s.coll, s.role, s.op, []byte(s.values), true)
	}
	roles := []Role{Officer, Admin, Contact, Viewer}
	users := map[Role]string{Officer: "u-off", Admin: "u-adm", Contact: "u-con", Viewer: "u-vw"}
	pr := Pairing{ID: "p1", Status: StatusActive, Branches: []string{"unitA"}, BranchPaths: []string{"/root/unitA/"},
		Counterparties: []string{"cp"}, Officers: []string{"u-off"}, Contacts: []string{"u-con"}}
	f.Fuzz(func(t *testing.T, coll, role uint8, op string, raw []byte, stored bool) {
		var values map[string]json.RawMessage
		if json.Unmarshal(raw, &values) != nil || len(values) > 64 {
			return
		}
		spec := Schema[int(coll)%len(Schema)]
		p := Principal{UserID: users[roles[int(role)%len(roles)]], Role: roles[int(role)%len(roles)], OrgPath: "/root/unitA/", Counterparty: "cp"}
		w := syncproto.Writer{Replica: "dev-1"}
		base := syncproto.NewRecord(spec.Name, "r1", "p1")
		var st syncproto.Record
		if stored {
			// A stored version written by another device first.
			sw := syncproto.Writer{Replica: "dev-0"}
			if r, _, err := sw.Set(base, map[string]json.RawMessage{"note": json.RawMessage(`"先前的版本"`)}, now); err == nil {
				st, base = r, r
			}
		}
		var merged syncproto.Record
		var err error
		switch syncproto.Op(op) {
		case syncproto.OpSet:
			merged, _, err = w.Set(base, values, now)
		case syncproto.OpDelete:
			merged, _, err = w.Delete(base, now)
		case syncproto.OpKeep:
			merged, _, err = w.Keep(base, now)
		default:
			merged, err = base, nil
		}
		if err != nil {
			return // the client's writer refuses it before it is ever sent
		}
		e := CheckWrite(Write{Principal: p, Pairing: pr, Stored: st, Op: syncproto.Op(op), Values: values, Merged: merged, Now: now})
		if e == nil {
			if syncproto.Op(op) == syncproto.OpSet && st.IsZero() && !merged.Deleted() {
				for _, fs := range spec.Fields {
					if fs.Required && (merged.Value(fs.Name) == nil || string(merged.Value(fs.Name)) == "null") {
						t.Fatalf("%s by %s: accepted a creation without required %s: %s", spec.Name, p.Role, fs.Name, raw)
					}
				}
			}
			return
		}
		if e.Code != syncproto.CodeValidation && e.Code != syncproto.CodeForbidden || e.Message == "" || e.Field == "" {
			t.Fatalf("%s by %s (%s %s): got %+v, want validation_failed or forbidden naming a field", spec.Name, p.Role, op, raw, e)
		}
	})
}
