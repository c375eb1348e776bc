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
