package server

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pairsync/pairsync/storage"
)

// answerShape lists the keys of a JSON object, and of the objects it holds,
// as "outer.inner" paths, sorted: the shape of an answer.
func answerShape(t *testing.T, b []byte) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	var out []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			out = append(out, prefix+k)
			if inner, ok := v.(map[string]any); ok {
				walk(prefix+k+".", inner)
			}
		}
	}
	walk("", m)
	slices.Sort(out)
	return out
}

// TestPhoneNotAnOracle guards against a phone-number oracle: creating a
// user, or giving one a phone number, answers the same whether the number is free,
// held by someone in the caller's subtree or held by someone anywhere else
// in the province. Phone numbers are not unique, so nothing is refused and
// nothing hints.
func TestPhoneNotAnOracle(t *testing.T) {
	e := newIDEnv(t)
	adminA := e.login("adminA").AccessToken
	phones := []struct{ name, phone string }{
		{"free", "13912345678"},
		{"held in the subtree", e.users["officerA"].Phone},
		{"held outside the subtree", e.users["officerB"].Phone},
	}
	var shapes [][]string
	for i, p := range phones {
		r := e.call("POST", "/v1/users", adminA, map[string]any{"username": "new." + string(rune('a'+i)), "name": "新人",
			"role": "officer", "org_unit": "unitA", "phone": p.phone})
		if r.status != 201 {
			t.Fatalf("create with a phone %s: got %d %s, want 201 (as for a free number)", p.name, r.status, r.body)
		}
		var cu createdUser
		r.json(t, &cu)
		if cu.User.Phone != p.phone {
			t.Fatalf("create with a phone %s: got phone %q, want %q", p.name, maskLogin(cu.User.Phone), maskLogin(p.phone))
		}
		shapes = append(shapes, answerShape(t, r.body))
	}
	for i := range shapes {
		if !slices.Equal(shapes[i], shapes[0]) {
			t.Fatalf("answer keys with a phone %s: %v; free: %v; want the same", phones[i].name, shapes[i], shapes[0])
		}
	}

	// Giving an existing user the number: the same again.
	shapes = shapes[:0]
	for _, p := range append(phones, struct{ name, phone string }{"held outside the subtree (again)", e.users["officerB"].Phone}) {
		u := mustUserOf(t, e, "u-officerA")
		r := e.call("PATCH", "/v1/users/u-officerA", adminA, map[string]any{"phone": p.phone, "rev": u.Rev})
		if r.status != 200 {
			t.Fatalf("patch to a phone %s: got %d %s, want 200 (as for a free number)", p.name, r.status, r.body)
		}
		shapes = append(shapes, answerShape(t, r.body))
	}
	for i := range shapes {
		if !slices.Equal(shapes[i], shapes[0]) {
			t.Fatalf("patch answer keys %d: %v; free: %v; want the same", i, shapes[i], shapes[0])
		}
	}
	// The holder outside the subtree keeps their number.
	if got := mustUserOf(t, e, "u-officerB").Phone; got != e.users["officerB"].Phone {
		t.Fatalf("officerB's phone after others took the same number: got %q", maskLogin(got))
	}

	// What is still refused is a taken user name, and the answer names only
	// the user name.
	r := e.call("POST", "/v1/users", adminA, map[string]any{"username": "officerB", "name": "重名", "role": "officer", "org_unit": "unitA"})
	if r.status != 400 || !strings.Contains(string(r.body), `"field":"username"`) || strings.Contains(strings.ToLower(string(r.body)), "phone") {
		t.Fatalf("create with a taken user name: got %d %s, want 400 on username, not mentioning phones", r.status, r.body)
	}
}

func mustUserOf(t *testing.T, e *idEnv, id string) storage.User {
	t.Helper()
	u, err := e.db.User(t.Context(), id)
	if err != nil {
		t.Fatalf("user %s: %v", id, err)
	}
	return u
}

// TestPhoneSignInAmbiguous: a phone number signs in when exactly one
// account that can sign in (enabled, activated) has it. When several do, the
// sign-in is refused with ambiguous_login, in Chinese by default, saying to
// use the user name; the attempt costs one hash and one throttle slot, as a
// wrong password does. Disabling one of them, or a holder that has not
// activated yet, leaves the other signing in by the number.
func TestPhoneSignInAmbiguous(t *testing.T) {
	e := newIDEnv(t)
	ctx := t.Context()
	phone := e.users["officerA"].Phone
	twin := e.users["officerA"]
	twin.ID, twin.Username, twin.Name = "u-officerA2", "officerA2", "officerA2"
	if _, err := e.db.CreateUser(ctx, twin); err != nil {
		t.Fatalf("a second account with officerA's phone: got error %v, want none (phones are not unique)", err)
	}
	// A pending account (no password yet) on officerB's number does not
	// take officerB's sign-in away.
	if _, err := e.db.CreateUser(ctx, storage.User{ID: "u-pending", Username: "pending.b", Phone: e.users["officerB"].Phone,
		Role: "officer", OrgUnit: "unitA"}); err != nil {
		t.Fatalf("a pending account with officerB's phone: got error %v, want none", err)
	}
	if tr := e.login(e.users["officerB"].Phone); tr.User.ID != "u-officerB" {
		t.Fatalf("officerB's phone beside a pending account signed in %s, want u-officerB", tr.User.ID)
	}

	login := func(hdr ...string) result {
		return e.call("POST", "/v1/auth/login", "", map[string]string{"username": phone, "password": testPassword}, hdr...)
	}
	hashes := e.s.hasher.Hashes()
	r := login("Accept-Language", "zh-CN,zh;q=0.9")
	if r.status != 409 || !strings.Contains(string(r.body), `"code":"ambiguous_login"`) || !strings.Contains(string(r.body), "用户名") {
		t.Fatalf("phone of two accounts (Chinese): got %d %s, want 409 ambiguous_login saying to use the user name (用户名)", r.status, r.body)
	}
	if got := e.s.hasher.Hashes() - hashes; got != 1 {
		t.Fatalf("hashes for an ambiguous sign-in: got %d, want 1 (as for a wrong password)", got)
	}
	r = login()
	if r.status != 409 || !strings.Contains(string(r.body), "user name") {
		t.Fatalf("phone of two accounts (English): got %d %s, want 409 saying to use the user name", r.status, r.body)
	}
	if r := login(); r.status != 409 {
		t.Fatalf("third ambiguous attempt: got %d %s, want 409", r.status, r.body)
	}
	// Counted like wrong passwords: the 4th from one client waits.
	if r := login(); r.status != 429 {
		t.Fatalf("fourth ambiguous attempt from one client: got %d %s, want 429 as for a 4th wrong password", r.status, r.body)
	}
	// Each account signs in by its user name.
	for _, name := range []string{"officerA", "officerA2"} {
		if tr := e.login(name); tr.User.Username != name {
			t.Fatalf("login %s: signed in %s", name, tr.User.Username)
		}
	}
	// Disabling one leaves the number to the other.
	adminA := e.login("adminA").AccessToken
	u := mustUserOf(t, e, "u-officerA2")
	if r := e.call("PATCH", "/v1/users/u-officerA2", adminA, map[string]any{"disabled": true, "rev": u.Rev}); r.status != 200 {
		t.Fatalf("disable officerA2: got %d %s", r.status, r.body)
	}
	r = login()
	if r.status != 200 {
		t.Fatalf("phone of one enabled account and one disabled: got %d %s, want 200", r.status, r.body)
	}
	var tr tokenResponse
	r.json(t, &tr)
	if tr.User.ID != "u-officerA" {
		t.Fatalf("phone sign-in after disabling the twin signed in %s, want u-officerA", tr.User.ID)
	}
}
