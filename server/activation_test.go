package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/auth"
)

// newContactWithCode creates, as adminA, a contact of a new community with
// a phone number, and returns the answer (user and activation code) and
// the community's id.
func newContactWithCode(t *testing.T, e *idEnv) (createdUser, string) {
	t.Helper()
	admin := e.login("adminA").AccessToken
	r := e.call("POST", "/v1/counterparties", admin, map[string]any{"fields": map[string]any{"kind": "community", "name": "幸福里社区", "org_unit": "unitA"}})
	var cp writeAnswer
	r.json(t, &cp)
	if r.status != 201 && r.status != 200 || cp.Record.ID == "" {
		t.Fatalf("create counterparty: got %d %s", r.status, r.body)
	}
	r = e.call("POST", "/v1/users", admin, map[string]any{"username": "chen.jl", "name": "陈经理", "role": "contact",
		"org_unit": "unitA", "counterparty": cp.Record.ID, "phone": "13912345678"})
	if r.status != 201 {
		t.Fatalf("create user: got %d %s", r.status, r.body)
	}
	var cu createdUser
	r.json(t, &cu)
	return cu, cp.Record.ID
}

func (e *idEnv) activationInfo(code string, hdr ...string) result {
	e.t.Helper()
	return e.call("POST", "/v1/auth/activation-info", "", map[string]string{"code": code}, hdr...)
}

// TestActivationInfo: the activation page learns whom a code is for (name,
// user name, role, unit and counterparty names) without an id or a phone
// number and without using the code; a wrong, malformed, used, replaced or
// expired code gets one and the same answer.
func TestActivationInfo(t *testing.T) {
	e := newDomainEnv(t)
	cu, cpID := newContactWithCode(t, e)

	for i := range 2 { // twice: looking does not use the code
		r := e.activationInfo(strings.ToLower(cu.Activation.Code)) // typed by hand
		if r.status != 200 {
			t.Fatalf("info #%d: got %d %s, want 200", i+1, r.status, r.body)
		}
		var info activationInfo
		r.json(t, &info)
		want := activationInfo{Name: "陈经理", Username: "chen.jl", Role: "contact", OrgUnitName: "单位 A", CounterpartyName: "幸福里社区",
			ExpiresAt: cu.Activation.ExpiresAt}
		if d := info.ExpiresAt.Sub(want.ExpiresAt); d > -time.Millisecond && d < time.Millisecond { // stored in ms
			info.ExpiresAt = want.ExpiresAt
		}
		if info != want {
			t.Fatalf("info: got %+v, want %+v", info, want)
		}
		for _, secret := range []string{"13912345678", cu.User.ID, cpID, "unitA", "u-"} {
			if strings.Contains(string(r.body), secret) {
				t.Fatalf("info %s reveals %q (an id or a phone number)", r.body, secret)
			}
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("info: got Cache-Control %q, want no-store", cc)
		}
	}
	// The code still works after being looked at.
	if r := e.call("POST", "/v1/auth/activate", "", map[string]string{"code": cu.Activation.Code, "password": "我的新密码-2026"}); r.status != 200 {
		t.Fatalf("activate after looking: got %d %s, want 200", r.status, r.body)
	}
	used := e.activationInfo(cu.Activation.Code)

	// A replaced code, then an expired one.
	admin := e.login("adminA").AccessToken
	var first, second createdUser
	e.call("POST", "/v1/users/"+cu.User.ID+"/activation", admin, nil).json(t, &first)
	e.call("POST", "/v1/users/"+cu.User.ID+"/activation", admin, nil).json(t, &second)
	replaced := e.activationInfo(first.Activation.Code)
	if r := e.activationInfo(second.Activation.Code); r.status != 200 {
		t.Fatalf("info of the newest code: got %d %s, want 200", r.status, r.body)
	}
	e.advance(activationTTL + time.Minute)
	expired := e.activationInfo(second.Activation.Code)
	wrong := e.activationInfo("ABCD-EFGH-JKMN")
	malformed := e.activationInfo("not a code!")

	want := withoutRequestID(wrong.body)
	for name, r := range map[string]result{"used": used, "replaced": replaced, "expired": expired, "wrong": wrong, "malformed": malformed} {
		if r.status != 400 || string(withoutRequestID(r.body)) != string(want) {
			t.Errorf("%s code: got %d %s, want 400 %s (the same answer for every bad code)", name, r.status, r.body, want)
		}
	}
	if !strings.Contains(string(want), `"field":"code"`) {
		t.Errorf("bad code answer %s: want it to name the field code", want)
	}
}

// TestActivationInfoThrottled: looking codes up is throttled per address
// with the same budget as using them, so it gives no extra guesses.
func TestActivationInfoThrottled(t *testing.T) {
	e := newDomainEnv(t)
	cu, _ := newContactWithCode(t, e)
	for i := 1; i <= 10; i++ {
		if r := e.activationInfo(fmt.Sprintf("ABCD-EFGH-%04d", i)); r.status != 400 {
			t.Fatalf("wrong code %d: got %d %s, want 400", i, r.status, r.body)
		}
	}
	r := e.activationInfo(cu.Activation.Code)
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("right code after 10 wrong ones: got %d (Retry-After %q) %s, want 429 with Retry-After", r.status, r.header.Get("Retry-After"), r.body)
	}
	if r := e.call("POST", "/v1/auth/activate", "", map[string]string{"code": cu.Activation.Code, "password": "我的新密码-2026"}); r.status != 429 {
		t.Fatalf("activate after 10 wrong look-ups: got %d %s, want 429 (one budget)", r.status, r.body)
	}
	e.advance(throttleWindow + time.Second)
	if r := e.activationInfo(cu.Activation.Code); r.status != 200 {
		t.Fatalf("after the window: got %d %s, want 200", r.status, r.body)
	}
}

// TestPasswordRules: the rules shown before a password is typed are the
// ones auth.CheckPassword applies.
func TestPasswordRules(t *testing.T) {
	e := newIDEnv(t)
	var got auth.PasswordRules
	r := e.call("GET", "/v1/auth/password-rules", "", nil)
	r.json(t, &got)
	if r.status != 200 || got.MinLength != auth.MinPasswordLen || got.MaxLength != auth.MaxPasswordLen {
		t.Fatalf("password rules: got %d %+v, want 200 {%d %d}", r.status, got, auth.MinPasswordLen, auth.MaxPasswordLen)
	}
	short, long := strings.Repeat("密", got.MinLength-1), strings.Repeat("密", got.MaxLength+1)
	for _, pw := range []string{short, long} {
		if auth.CheckPassword(pw) == nil {
			t.Fatalf("CheckPassword accepts %d characters, outside the rules %+v", len([]rune(pw)), got)
		}
	}
	// Within the lengths and not a common password (one character repeated
	// is one: auth's blocklist).
	varied := func(n int) string { return strings.Repeat("结对共建", n/4+1)[:len(strings.Repeat("结", n))] }
	if auth.CheckPassword(varied(got.MinLength)) != nil || auth.CheckPassword(varied(got.MaxLength)) != nil {
		t.Fatalf("CheckPassword refuses a password within the rules %+v", got)
	}
}

// TestMustChangePassword: a user whose password they did not choose (the
// first administrator) is told so at sign-in and in /v1/me until they
// change it; a reset clears it too (the person chooses on activation).
func TestMustChangePassword(t *testing.T) {
	e := newIDEnv(t)
	for _, key := range []string{"root", "officerB"} {
		u := e.users[key]
		u.MustChangePassword = true
		if _, err := e.db.UpdateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	tr := e.login("root")
	if !tr.User.MustChangePassword {
		t.Fatalf("login: got user %+v, want must_change_password", tr.User)
	}
	r := e.call("POST", "/v1/me/password", tr.AccessToken, map[string]string{"old_password": testPassword, "new_password": "a-password-of-mine"})
	var changed tokenResponse
	r.json(t, &changed)
	if r.status != 200 || changed.User.MustChangePassword {
		t.Fatalf("change password: got %d %s, want 200 without must_change_password", r.status, r.body)
	}
	var me userView
	e.call("GET", "/v1/me", changed.AccessToken, nil).json(t, &me)
	if me.MustChangePassword || me.Name != "root" {
		t.Fatalf("/v1/me after the change: got %+v, want must_change_password cleared", me)
	}

	var reset createdUser
	r = e.call("POST", "/v1/users/u-officerB/activation", changed.AccessToken, nil)
	r.json(t, &reset)
	if r.status != 201 || reset.User.MustChangePassword {
		t.Fatalf("reset: got %d %s, want 201 without must_change_password", r.status, r.body)
	}
}
