package server

import (
	"strings"
	"testing"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// TestSessionsEndAtOnce is SECURITY.md item 12: disabling a
// user, revoking a device or logging out ends the session at once, while
// its access token is still within its lifetime — on every authenticated
// route, token-minting ones, pushes and pulls included.
func TestSessionsEndAtOnce(t *testing.T) {
	e := newIDEnv(t)
	pairingsFixture(t, e)
	unauthorized := string(withoutRequestID(e.call("GET", "/v1/me", "", nil).body))

	t.Run("disabled user", func(t *testing.T) {
		d := e.device(t, "officerA")
		if r, ans := d.push(d.set("visits", "v-dis-1", "p1", map[string]any{"notes": "停用前"})); r.status != 200 || ans.Results[0].Status != syncproto.StatusApplied {
			t.Fatalf("control push: got %d %s, want 200 applied", r.status, r.body)
		}
		admin := e.login("adminA").AccessToken
		if r := e.call("PATCH", "/v1/users/u-officerA", admin, map[string]any{"disabled": true}); r.status != 200 {
			t.Fatalf("disable: got %d %s", r.status, r.body)
		}
		for _, tc := range []struct {
			name, method, path string
			body               any
		}{
			{"GET /v1/me", "GET", "/v1/me", nil},
			{"POST /v1/me/password", "POST", "/v1/me/password", map[string]string{"old_password": testPassword, "new_password": "another-horse-10"}},
			{"POST /v1/devices", "POST", "/v1/devices", map[string]string{"name": "第二部手机"}},
			{"pull", "POST", "/v1/sync/pull", []byte(`{"v":1,"cursor":{}}`)},
		} {
			r := e.call(tc.method, tc.path, d.token, tc.body)
			if r.status != 401 || string(withoutRequestID(r.body)) != unauthorized {
				t.Errorf("%s with a disabled user's live token: got %d %s, want 401 %s", tc.name, r.status, r.body, unauthorized)
			}
		}
		if r, _ := d.push(d.set("visits", "v-dis-2", "p1", map[string]any{"notes": "停用后"})); r.status != 401 {
			t.Errorf("push with a disabled user's live token: got %d %s, want 401", r.status, r.body)
		}
		// Enabled again: a fresh sign-in works (the refusal was the state,
		// not a broken token cache).
		if r := e.call("PATCH", "/v1/users/u-officerA", admin, map[string]any{"disabled": false}); r.status != 200 {
			t.Fatalf("enable: got %d %s", r.status, r.body)
		}
		if r := e.call("GET", "/v1/me", e.login("officerA").AccessToken, nil); r.status != 200 {
			t.Fatalf("after enabling, a new sign-in: got %d %s, want 200", r.status, r.body)
		}
	})

	t.Run("revoked device", func(t *testing.T) {
		d := e.device(t, "officerB")
		if r, _ := d.push(d.set("visits", "v-rev-1", "p2", map[string]any{"notes": "吊销前"})); r.status != 200 {
			t.Fatalf("control push: got %d %s, want 200", r.status, r.body)
		}
		admin := e.login("adminB").AccessToken
		if r := e.call("POST", "/v1/devices/"+d.id+"/revoke", admin, nil); r.status != 200 {
			t.Fatalf("revoke: got %d %s", r.status, r.body)
		}
		r, _ := d.push(d.set("visits", "v-rev-2", "p2", map[string]any{"notes": "吊销后"}))
		if r.status != 403 || !strings.Contains(string(r.body), string(syncproto.CodeDeviceRevoked)) {
			t.Errorf("push from a revoked device: got %d %s, want 403 device_revoked", r.status, r.body)
		}
		if _, err := e.db.Get(t.Context(), storage.Key{Collection: "visits", ID: "v-rev-2"}); err == nil {
			t.Errorf("the revoked device's push was stored")
		}
		for _, path := range []string{"/v1/me", "/v1/devices"} {
			if r := e.call("GET", path, d.token, nil); r.status != 403 || !strings.Contains(string(r.body), string(syncproto.CodeDeviceRevoked)) {
				t.Errorf("GET %s from a revoked device: got %d %s, want 403 device_revoked", path, r.status, r.body)
			}
		}
		if r := e.call("POST", "/v1/me/password", d.token, map[string]string{"old_password": testPassword, "new_password": "another-horse-10"}); r.status != 403 {
			t.Errorf("password change from a revoked device: got %d %s, want 403", r.status, r.body)
		}
	})

	t.Run("logout", func(t *testing.T) {
		s := e.login("viewerA")
		if r := e.call("GET", "/v1/me", s.AccessToken, nil); r.status != 200 {
			t.Fatalf("control: got %d %s", r.status, r.body)
		}
		if r := e.call("POST", "/v1/auth/logout", "", map[string]string{"refresh_token": s.RefreshToken}); r.status != 204 {
			t.Fatalf("logout: got %d %s", r.status, r.body)
		}
		r := e.call("GET", "/v1/me", s.AccessToken, nil)
		if r.status != 401 || string(withoutRequestID(r.body)) != unauthorized {
			t.Errorf("access token of a logged-out session: got %d %s, want 401 %s", r.status, r.body, unauthorized)
		}
		// Another sign-in of the same user is not touched.
		other := e.login("viewerA")
		if r := e.call("GET", "/v1/me", other.AccessToken, nil); r.status != 200 {
			t.Errorf("another session of the user: got %d %s, want 200", r.status, r.body)
		}
	})

	t.Run("password change ends the other sessions", func(t *testing.T) {
		a, b := e.login("contactA"), e.login("contactA")
		r := e.call("POST", "/v1/me/password", a.AccessToken, map[string]string{"old_password": testPassword, "new_password": "another-horse-10"})
		if r.status != 200 {
			t.Fatalf("password change: got %d %s", r.status, r.body)
		}
		if r := e.call("GET", "/v1/me", b.AccessToken, nil); r.status != 401 {
			t.Errorf("another session after a password change: got %d %s, want 401", r.status, r.body)
		}
		if r := e.call("GET", "/v1/me", a.AccessToken, nil); r.status != 401 {
			t.Errorf("the old token of the changing session: got %d %s, want 401 (the answer carries a new one)", r.status, r.body)
		}
		var tr tokenResponse
		r.json(t, &tr)
		if r := e.call("GET", "/v1/me", tr.AccessToken, nil); r.status != 200 {
			t.Errorf("the new token: got %d %s, want 200", r.status, r.body)
		}
	})
}
