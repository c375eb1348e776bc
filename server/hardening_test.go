package server

import (
	"strings"
	"testing"
)

// TestCommonPasswordsRefused: activation and password change refuse a
// common password (issue 18 hardening, ASVS 5 V6.2.4) with a 400 saying
// why, and set nothing.
func TestCommonPasswordsRefused(t *testing.T) {
	e := newIDEnv(t)
	admin := e.login("adminA").AccessToken
	r := e.call("POST", "/v1/users", admin, map[string]any{"username": "li.na", "name": "李娜", "role": "officer", "org_unit": "unitA"})
	if r.status != 201 {
		t.Fatalf("create: got %d %s", r.status, r.body)
	}
	var cu createdUser
	r.json(t, &cu)
	for _, pw := range []string{"12345678", "password", "          ", "Password1"} {
		r := e.call("POST", "/v1/auth/activate", "", map[string]string{"code": cu.Activation.Code, "password": pw})
		if r.status != 400 || !strings.Contains(string(r.body), "too common") {
			t.Errorf("activate with %q: got %d %s, want 400 too common", pw, r.status, r.body)
		}
	}
	if r := e.call("POST", "/v1/auth/activate", "", map[string]string{"code": cu.Activation.Code, "password": "li-na-的密码-7"}); r.status != 200 {
		t.Fatalf("activate with a good password after the refusals: got %d %s, want 200 (the code was not used up)", r.status, r.body)
	}
	tok := e.login("officerA").AccessToken
	for _, pw := range []string{"12345678", "password", "qwertyuiop"} {
		r := e.call("POST", "/v1/me/password", tok, map[string]string{"old_password": testPassword, "new_password": pw})
		if r.status != 400 || !strings.Contains(string(r.body), "too common") {
			t.Errorf("change to %q: got %d %s, want 400 too common", pw, r.status, r.body)
		}
	}
	if r := e.call("POST", "/v1/auth/login", "", map[string]string{"username": "officerA", "password": testPassword}); r.status != 200 {
		t.Fatalf("the old password after refused changes: got %d, want 200", r.status)
	}
}

// TestLoginNamesUnambiguous is issue 18 L3: a user name can never equal a
// phone number (someone else's phone would otherwise sign in as the name's
// owner), and a refused creation answers alike whoever holds the number.
func TestLoginNamesUnambiguous(t *testing.T) {
	e := newIDEnv(t)
	adminA := e.login("adminA").AccessToken
	phoneB := e.users["officerB"].Phone // an officer of B, outside A's subtree
	for _, name := range []string{phoneB, "+8613912340000", "13912340000"} {
		r := e.call("POST", "/v1/users", adminA, map[string]any{"username": name, "name": "冒名者", "role": "officer", "org_unit": "unitA"})
		if r.status != 400 || !strings.Contains(string(r.body), `"field":"username"`) {
			t.Errorf("user name %s: got %d %s, want 400 on username", maskLogin(name), r.status, r.body)
		}
	}
	// The phone number still signs in its owner.
	if r := e.call("POST", "/v1/auth/login", "", map[string]string{"username": phoneB, "password": testPassword}); r.status != 200 {
		t.Fatalf("login by phone: got %d %s", r.status, r.body)
	}
	var me userView
	r := e.call("POST", "/v1/auth/login", "", map[string]string{"username": phoneB, "password": testPassword})
	var tr tokenResponse
	r.json(t, &tr)
	e.call("GET", "/v1/me", tr.AccessToken, nil).json(t, &me)
	if me.ID != "u-officerB" {
		t.Fatalf("login by officerB's phone signed in %s, want u-officerB", me.ID)
	}
	// Taken inside A's subtree or outside it: one answer.
	phoneA := e.users["officerA"].Phone
	in := e.call("POST", "/v1/users", adminA, map[string]any{"username": "new.a", "name": "新人", "role": "officer", "org_unit": "unitA", "phone": phoneA})
	out := e.call("POST", "/v1/users", adminA, map[string]any{"username": "new.b", "name": "新人", "role": "officer", "org_unit": "unitA", "phone": phoneB})
	if in.status != out.status || string(withoutRequestID(in.body)) != string(withoutRequestID(out.body)) {
		t.Fatalf("phone taken in the subtree: %d %s; outside it: %d %s; want one answer", in.status, in.body, out.status, out.body)
	}
}
