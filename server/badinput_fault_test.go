package server

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// visitFor is a valid visit of officerA's pairing.
func visitFor(d *device, id, pid string) syncproto.Change {
	return d.set("visits", id, pid, map[string]any{"mode": "onsite", "visited_at": time.Now().UTC().Format(time.RFC3339), "officers": []string{"u-officerA"}})
}

// encodePush encodes changes as the device's push.
func encodePush(t testing.TB, device string, changes ...syncproto.Change) []byte {
	t.Helper()
	b, err := syncproto.Encode(&syncproto.PushRequest{V: 1, Device: syncproto.ReplicaID(device), Changes: changes})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPushForgedIdentity: changes that claim another device,
// another user's device, a counter out of order, a replayed counter with
// other content, or writes the server never accepted are refused with a
// clear code; a bad change in a batch is rejected alone.
func TestPushForgedIdentity(t *testing.T) {
	e := newDomainEnv(t)
	pid, _ := domainFixture(t, e)
	off, offB := e.device(t, "officerA"), e.device(t, "officerB")
	off.pull()
	userToken := e.login("officerA").AccessToken // signed in, no device

	other := syncproto.Writer{Replica: syncproto.ReplicaID(offB.id)}
	foreign, _, _ := other.Set(syncproto.NewRecord("visits", "v-foreign", pid), map[string]json.RawMessage{"notes": json.RawMessage(`"写在别人的设备上"`)}, time.Now())
	type whole struct {
		name, token string
		body        func() []byte
		status      int
		code        syncproto.Code
	}
	for _, tc := range []whole{
		{"a change made by another device", off.token, func() []byte {
			ch := visitFor(off, "v-x1", pid)
			body := encodePush(t, off.id, ch)
			return []byte(strings.Replace(string(body), `"dot":"`+off.id+`:`, `"dot":"`+offB.id+`:`, 1))
		}, 400, syncproto.CodeBadRequest},
		{"another user's device in the push", off.token, func() []byte { return encodePush(t, offB.id, visitFor(off, "v-x2", pid)) }, 400, syncproto.CodeBadRequest},
		{"another user's device in the push and its dots", off.token, func() []byte {
			return []byte(strings.ReplaceAll(string(encodePush(t, off.id, visitFor(off, "v-x2b", pid))), off.id, offB.id))
		}, 403, syncproto.CodeForbidden},
		{"a session without a device", userToken, func() []byte { return encodePush(t, off.id, visitFor(off, "v-x3", pid)) }, 403, syncproto.CodeForbidden},
		{"counter 0", off.token, func() []byte {
			ch := visitFor(off, "v-x4", pid)
			return []byte(strings.ReplaceAll(string(encodePush(t, off.id, ch)), fmt.Sprintf("%s:%d", off.id, ch.Dot.Counter), off.id+":0"))
		}, 400, syncproto.CodeBadRequest},
		{"counters out of order", off.token, func() []byte {
			a, b := visitFor(off, "v-x5", pid), visitFor(off, "v-x6", pid)
			return encodePush(t, off.id, b, a)
		}, 400, ""},
		{"counter past 2^53", off.token, func() []byte {
			ch := visitFor(off, "v-x7", pid)
			return []byte(strings.ReplaceAll(string(encodePush(t, off.id, ch)), fmt.Sprintf(`%d`, ch.Dot.Counter), fmt.Sprint(uint64(math.MaxUint64))))
		}, 400, syncproto.CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call("POST", "/v1/sync/push", tc.token, tc.body())
			var p problem
			json.Unmarshal(r.body, &p)
			if r.status != tc.status || tc.code != "" && p.Code != string(tc.code) || p.Message == "" {
				t.Fatalf("got %d %s %q, want %d %s with a message", r.status, p.Code, p.Message, tc.status, tc.code)
			}
		})
	}

	// Per change: the rest of the batch lands.
	ok1 := visitFor(off, "v-ok1", pid)
	w := off.w
	next, wr, err := w.Set(foreign, map[string]json.RawMessage{"mode": json.RawMessage(`"onsite"`)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	off.w = w
	onForeign := syncproto.Change{Dot: wr.Dot, HLC: wr.HLC, Record: next}
	ok2 := visitFor(off, "v-ok2", pid)
	_, ans := off.push(ok1, onForeign, ok2)
	wantResults(t, "a change building on a write the server never accepted", ans, "applied", "rejected validation_failed record.vv", "applied")

	// A replayed counter with other content gets the stored answer and
	// changes nothing.
	replay := visitFor(off, "v-replay", pid)
	replay.Dot.Counter = ok1.Dot.Counter
	replay.Record.VV = syncproto.Vector{replay.Dot.Replica: ok1.Dot.Counter}
	for n, f := range replay.Record.Fields {
		f.Dot = replay.Dot
		replay.Record.Fields[n] = f
	}
	body := encodePush(t, off.id, replay)
	r := e.call("POST", "/v1/sync/push", off.token, body)
	a, err := syncproto.DecodePushAnswer(r.body, syncproto.Limits{})
	if r.status != 200 || err != nil || len(a.Results) != 1 || a.Results[0].Status != syncproto.StatusApplied || a.Results[0].Seq != ans.Results[0].Seq {
		t.Fatalf("replayed counter with other content: %d %s, want the first answer (applied at %d)", r.status, r.body, ans.Results[0].Seq)
	}
	if _, err := e.db.Get(t.Context(), storage.Key{Collection: "visits", ID: "v-replay"}); err == nil {
		t.Fatal("the content of a replayed counter was stored")
	}
}

// TestPushTimestamps: every time field of every collection,
// ancient (1970), far in the future (2999), and — for the fields that say
// when something happened — a day and an hour ahead of the server: each is
// rejected naming the field, and the valid change beside it lands. A
// change whose hybrid clock is a century ahead is rejected or, if taken,
// does not drag the server's own clock along.
func TestPushTimestamps(t *testing.T) {
	e := newDomainEnv(t)
	pid, _ := domainFixture(t, e)
	devs := map[pairing.Role]*device{pairing.Officer: e.device(t, "officerA"), pairing.Admin: e.device(t, "adminA"), pairing.Contact: e.device(t, "contactA")}
	for _, d := range devs {
		d.pull()
	}
	good := devs[pairing.Officer]
	checked, skipped := 0, []string{}
	n := 0
	for _, spec := range pairing.Schema {
		for _, f := range spec.Fields {
			if f.Type != pairing.TypeTime {
				continue
			}
			role, ok := writerOf(spec, f)
			if !ok || slices.Contains(f.Writers, pairing.Role("system")) {
				skipped = append(skipped, spec.Name+"."+f.Name+" (server only)")
				continue
			}
			scope := pid
			if spec.Scope == pairing.DirectoryScope {
				scope = pairing.DirectoryScope
			}
			values := []string{"1970-01-01T00:00:00Z", "2999-01-01T00:00:00Z"}
			if f.Past {
				values = append(values, time.Now().Add(25*time.Hour+time.Hour).UTC().Format(time.RFC3339))
			}
			for _, v := range values {
				n++
				checked++
				if spec.Scope == pairing.DirectoryScope {
					// Directory records are written through REST.
					r := e.call("PATCH", "/v1/"+spec.Name+"/"+pid, e.login("adminA").AccessToken, map[string]any{"fields": map[string]any{f.Name: v}})
					var p syncproto.Error
					json.Unmarshal(r.body, &p)
					if spec.Name != pairing.CollPairings || r.status != 400 || p.Field != f.Name {
						t.Errorf("PATCH %s.%s = %s: got %d %s, want 400 naming %s", spec.Name, f.Name, v, r.status, r.body, f.Name)
					}
					continue
				}
				d := devs[role]
				bad := d.set(spec.Name, fmt.Sprintf("t-%d", n), scope, map[string]any{f.Name: v})
				_, ans := d.push(bad)
				if len(ans.Results) != 1 || ans.Results[0].Status != syncproto.StatusRejected || ans.Results[0].Error.Field != f.Name {
					t.Errorf("%s.%s = %s by %s: got %+v, want rejected naming %s", spec.Name, f.Name, v, role, ans.Results, f.Name)
				}
			}
		}
	}
	_, ans := good.push(visitFor(good, "v-after", pid))
	wantResults(t, "a valid visit afterwards", ans, "applied")

	// The hybrid clock a century ahead: answered, the batch after it lands,
	// and the server's own clock does not follow it (syncproto's
	// MaxClockAhead): its received_at stamps stay near the real time.
	w := good.w
	next, wr, err := w.Set(syncproto.NewRecord("visits", "v-hlc", pid), map[string]json.RawMessage{
		"mode": json.RawMessage(`"onsite"`), "visited_at": json.RawMessage(`"` + time.Now().UTC().Format(time.RFC3339) + `"`),
		"officers": json.RawMessage(`["u-officerA"]`)}, time.Now().AddDate(100, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	good.w = w
	r, ans := good.push(syncproto.Change{Dot: wr.Dot, HLC: wr.HLC, Record: next}, visitFor(good, "v-after-hlc", pid))
	if r.status != 200 || len(ans.Results) != 2 || ans.Results[1].Status != syncproto.StatusApplied {
		t.Fatalf("a change with its clock 100 years ahead, then a valid one: %d %s", r.status, r.body)
	}
	_, ans = good.push(visitFor(good, "v-after-hlc2", pid))
	wantResults(t, "a visit after the clock-ahead change", ans, "applied")
	rec, err := e.db.Get(t.Context(), storage.Key{Collection: "visits", ID: "v-after-hlc2"})
	if err != nil {
		t.Fatal(err)
	}
	later, _ := syncproto.DecodeRecord(rec.Data, syncproto.Limits{})
	if stamp := later.Fields["received_at"].HLC.Time(); stamp.After(time.Now().Add(time.Hour)) {
		t.Errorf("after a change with its clock 100 years ahead, the server's received_at stamp on a later visit carries the clock %v: the server followed it",
			stamp.Format(time.RFC3339))
	}
	sort.Strings(skipped)
	t.Logf("%d time values refused (every time field of every collection), skipped %v", checked, skipped)
}

// writerOf picks the role of the fixture that may write the field.
func writerOf(spec pairing.CollectionSpec, f pairing.FieldSpec) (pairing.Role, bool) {
	for _, r := range []pairing.Role{pairing.Officer, pairing.Admin, pairing.Contact} {
		if slices.Contains(spec.Writers, r) && (f.Writers == nil || slices.Contains(f.Writers, r)) {
			return r, true
		}
	}
	return "", false
}

// fill is a plausible value of a field, for the required fields around
// the one under test.
func fill(f pairing.FieldSpec, role pairing.Role, user string) any {
	now := time.Now().UTC()
	switch {
	case f.Name == "by" || f.Name == "raised_by":
		return user
	case f.Name == "role":
		return string(role)
	case f.Name == "officers" && f.Type == pairing.TypeIDs:
		return []string{"u-officerA"}
	}
	switch f.Type {
	case pairing.TypeEnum:
		return f.Enum[0].Value
	case pairing.TypeID:
		return "x1"
	case pairing.TypeIDs:
		return []string{"x1"}
	case pairing.TypeTime:
		return now.Format(time.RFC3339)
	case pairing.TypeDate:
		return now.Format("2006-01-02")
	case pairing.TypeInt:
		if f.Min != nil && *f.Min > 0 {
			return *f.Min
		}
		return 1
	case pairing.TypeBool:
		return false
	}
	return "测试"
}

// injections are strings that mean something to a query language or a
// template: stored verbatim as text, or refused where the field's type
// forbids them; never interpreted.
var injections = []string{"$where", "$ne", `{"$gt":""}`, "a.b.c", "$$ROOT", "'; db.dropDatabase(); //", "{{7*7}}", "\u0000$x"}

// TestOperatorKeysInEveryField (SECURITY.md 8), on bolt and on
// MongoDB: every string, text, enum and id field of every synced
// collection (pairing.Schema) gets each injection, beside a valid change in
// the same push. The push is answered 200; the injected change is applied
// with its value stored byte for byte, or rejected with a code naming the
// field; the valid change is applied. An operator object as a value
// refuses the whole push (400) and changes nothing. Directory records get
// the same strings through REST.
func TestOperatorKeysInEveryField(t *testing.T) {
	for _, ad := range adapters() {
		t.Run(ad.name, func(t *testing.T) {
			e := newFaultEnv(t, Config{}, ad.open(t), true)
			pid, cp := domainFixture(t, e)
			users := map[pairing.Role]string{pairing.Officer: "officerA", pairing.Admin: "adminA", pairing.Contact: "contactA"}
			devs := map[pairing.Role]*device{}
			for role, u := range users {
				devs[role] = e.device(t, u)
				devs[role].pull()
			}
			goodFor := func(role pairing.Role, n int) syncproto.Change {
				d := devs[role]
				if role == pairing.Contact {
					return d.set("issues", fmt.Sprintf("i-good-%d", n), pid, map[string]any{"title": "正常的诉求", "category": pairing.IssueCategories[0].Value,
						"raised_by": "u-contactA", "raised_at": time.Now().UTC().Format(time.RFC3339)})
				}
				return visitFor(d, fmt.Sprintf("v-good-%d", n), pid)
			}
			outcomes := map[string]int{}
			n := 0
			for _, spec := range pairing.Schema {
				for _, f := range spec.Fields {
					switch f.Type {
					case pairing.TypeString, pairing.TypeText, pairing.TypeEnum, pairing.TypeID, pairing.TypeIDs:
					default:
						continue
					}
					role, ok := writerOf(spec, f)
					if !ok {
						continue
					}
					vals := injections
					if ad.name == "mongo" {
						// On MongoDB what matters is text stored verbatim (ids
						// and enums are refused by the same rules on both
						// adapters), and FerretDB is slow: the operator
						// strings into string and text fields, two of them
						// under the race detector.
						if f.Type != pairing.TypeString && f.Type != pairing.TypeText {
							continue
						}
						vals = injections[:4]
						if simRaceEnabled() {
							vals = injections[:2]
						}
					}
					for _, inj := range vals {
						n++
						var v any = inj
						if f.Type == pairing.TypeIDs {
							v = []string{inj}
						}
						if spec.Scope == pairing.DirectoryScope {
							id := pid
							if spec.Name == pairing.CollCounterparties {
								id = cp
							}
							r := e.call("PATCH", "/v1/"+spec.Name+"/"+id, e.login("adminA").AccessToken, map[string]any{"fields": map[string]any{f.Name: v}})
							var p syncproto.Error
							json.Unmarshal(r.body, &p)
							switch {
							case r.status == 200:
								outcomes["REST 200"]++
								stored, err := e.s.store.Get(t.Context(), storage.Key{Collection: spec.Name, ID: id})
								rec, _ := syncproto.DecodeRecord(stored.Data, syncproto.Limits{})
								want, _ := json.Marshal(v)
								if err != nil || string(rec.Value(f.Name)) != string(want) {
									t.Errorf("PATCH %s.%s = %q: stored %s, want %s", spec.Name, f.Name, inj, rec.Value(f.Name), want)
								}
							case r.status >= 400 && r.status < 500 && p.Code != "" && p.Message != "":
								outcomes[fmt.Sprintf("REST %d %s", r.status, p.Code)]++
							default:
								t.Errorf("PATCH %s.%s = %q: got %d %s", spec.Name, f.Name, inj, r.status, r.body)
							}
							continue
						}
						d := devs[role]
						fields := map[string]any{}
						for _, g := range spec.Fields {
							if g.Required {
								fields[g.Name] = fill(g, role, d.e.users[users[role]].ID)
							}
						}
						fields[f.Name] = v
						id := fmt.Sprintf("inj-%d", n)
						bad := d.set(spec.Name, id, pid, fields)
						r, ans := d.push(bad, goodFor(role, n))
						if r.status != 200 || len(ans.Results) != 2 {
							t.Errorf("%s.%s = %q by %s: got %d %s, want 200", spec.Name, f.Name, inj, role, r.status, r.body)
							continue
						}
						if ans.Results[1].Status != syncproto.StatusApplied {
							t.Errorf("%s.%s = %q: the valid change beside it: %+v", spec.Name, f.Name, inj, ans.Results[1])
						}
						switch res := ans.Results[0]; {
						case res.Status == syncproto.StatusApplied:
							outcomes["applied"]++
							stored, err := e.s.store.Get(t.Context(), storage.Key{Collection: spec.Name, ID: id})
							rec, _ := syncproto.DecodeRecord(stored.Data, syncproto.Limits{})
							want, _ := json.Marshal(v)
							if err != nil || string(rec.Value(f.Name)) != string(want) {
								t.Errorf("%s.%s = %q: stored %s (%v), want %s verbatim", spec.Name, f.Name, inj, rec.Value(f.Name), err, want)
							}
						case res.Status == syncproto.StatusRejected && res.Error != nil && res.Error.Field != "" && res.Error.Message != "":
							outcomes["rejected "+string(res.Error.Code)]++
						default:
							t.Errorf("%s.%s = %q: got %+v, want applied or rejected naming a field", spec.Name, f.Name, inj, res)
						}
					}
				}
				// An operator object as a value: the whole push is refused.
				if spec.Scope == pairing.DirectoryScope {
					continue
				}
				head, _ := e.s.store.Head(t.Context(), pid)
				d := devs[pairing.Officer]
				ch := goodFor(pairing.Officer, 100000+n)
				body := strings.Replace(string(encodePush(t, d.id, ch)), `"value":"onsite"`, `"value":{"$ne":1}`, 1)
				r := e.call("POST", "/v1/sync/push", d.token, []byte(body))
				var p syncproto.Error
				json.Unmarshal(r.body, &p)
				if r.status != 400 || p.Code == "" {
					t.Errorf("an operator object as a value: got %d %s, want 400", r.status, r.body)
				}
				outcomes["operator object: push 400 "+string(p.Code)]++
				if after, _ := e.s.store.Head(t.Context(), pid); after != head {
					t.Errorf("a refused push moved the head from %d to %d", head, after)
				}
				d.w.Counter-- // never sent
			}
			t.Logf("%s: %d injected values; outcomes %v", ad.name, n, outcomes)
		})
	}
}
