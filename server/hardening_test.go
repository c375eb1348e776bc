package server

import (
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// TestCommonPasswordsRefused: activation and password change refuse a
// common password (ASVS 5 V6.2.4) with a 400 saying
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

// TestLoginNamesUnambiguous: a user name can never equal a
// phone number (someone else's phone would otherwise sign in as the name's
// owner).
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
	// A phone number held inside A's subtree or outside it: see
	// TestPhoneNotAnOracle (phones are not unique, so neither is refused).
}

// TestAnswerHeaders (SECURITY.md 15): nosniff on every
// answer; no-store on tokens and personal data (every /v1/ JSON answer);
// photos cached privately and briefly, never for a year; a CSP with
// connect-src 'self' and frame-ancestors 'none' on every HTML page, the
// placeholder shown when the web app is not built included.
func TestAnswerHeaders(t *testing.T) {
	e, pid, off := fieldWork(t)
	photo := testJPEG(t, 7, 10<<10)
	_, ans := off.push(off.set("visits", "v-h", pid, map[string]any{"mode": "onsite", "visited_at": time.Now().UTC().Format(time.RFC3339),
		"officers": []string{"u-officerA"}, "location": map[string]any{"lat": 32, "lng": 118.8}, "photos": manifestOf("image/jpeg", photo)}))
	wantResults(t, "visit with a photo", ans, "applied")
	if r := off.phoneUpload(photo, "image/jpeg", 0); r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	tok := e.login("officerA")
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		cache                     string // "" = not checked
	}{
		{"login", "POST", "/v1/auth/login", "", map[string]string{"username": "officerB", "password": testPassword}, "no-store"},
		{"refresh", "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken}, "no-store"},
		{"me", "GET", "/v1/me", tok.AccessToken, nil, "no-store"},
		{"users", "GET", "/v1/users", e.login("adminA").AccessToken, nil, "no-store"},
		{"a 401", "GET", "/v1/me", "", nil, "no-store"},
		{"a 404", "GET", "/v1/nowhere", "", nil, "no-store"},
		{"photo", "GET", "/v1/photos/" + sumOf(photo), off.token, nil, "private, max-age=300"},
		{"thumbnail", "GET", "/v1/photos/" + sumOf(photo) + "?thumb=1", off.token, nil, "private, max-age=300"},
		{"healthz", "GET", "/healthz", "", nil, ""},
		{"placeholder page", "GET", "/", "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(tc.method, tc.path, tc.token, tc.body)
			if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options: got %q, want nosniff (status %d)", got, r.status)
			}
			if tc.cache != "" && r.header.Get("Cache-Control") != tc.cache {
				t.Errorf("Cache-Control: got %q, want %q (status %d)", r.header.Get("Cache-Control"), tc.cache, r.status)
			}
			if strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
				csp := r.header.Get("Content-Security-Policy")
				for _, want := range []string{"connect-src 'self';", "frame-ancestors 'none'", "script-src 'self' 'wasm-unsafe-eval'"} {
					if !strings.Contains(csp, want) {
						t.Errorf("CSP %q lacks %q", csp, want)
					}
				}
			}
		})
	}
	if r := e.call("GET", "/", "", nil); !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("the placeholder page: Content-Type %q, want HTML", r.header.Get("Content-Type"))
	}
	// With photos on an object store, its origin joins connect-src and
	// img-src, and nothing else does.
	p := pagePolicy("https://photos.example.org")
	if !strings.Contains(p, "connect-src 'self' https://photos.example.org;") || !strings.Contains(p, "img-src 'self' blob: data: https://photos.example.org;") ||
		strings.Contains(p, "*") {
		t.Fatalf("policy with a photo store: %s", p)
	}
	if o := photoOrigin(originPhotos{e.s.photos, "https://photos.example.org"}); o != "https://photos.example.org" {
		t.Fatalf("photoOrigin: got %q", o)
	}
}

type originPhotos struct {
	storage.Photos
	origin string
}

func (o originPhotos) PublicOrigin() string { return o.origin }

// TestActivationLinksNeedPublicURL: without -public-url, a request whose
// Host is not loopback gets no activation link (a Host header is the
// client's to choose) and nothing is written; a loopback Host, or a
// configured public URL, gets one.
func TestActivationLinksNeedPublicURL(t *testing.T) {
	e := newIDEnv(t)
	admin := e.login("adminA").AccessToken
	body := func(name string) map[string]any {
		return map[string]any{"username": name, "name": "王芳", "role": "officer", "org_unit": "unitA"}
	}
	r := e.call("POST", "/v1/users", admin, body("wang.fang"), "Host", "evil.example.org")
	if r.status != 409 || !strings.Contains(string(r.body), `"code":"not_configured"`) || !strings.Contains(string(r.body), "-public-url") {
		t.Fatalf("create with a foreign Host: got %d %s, want 409 not_configured naming -public-url", r.status, r.body)
	}
	if _, err := e.db.UserByLogin(t.Context(), "wang.fang"); err == nil {
		t.Fatal("the refused creation stored the user")
	}
	if r := e.call("POST", "/v1/users/u-officerA/activation", admin, nil, "Host", "evil.example.org"); r.status != 409 {
		t.Fatalf("reset with a foreign Host: got %d %s, want 409", r.status, r.body)
	}
	if r := e.call("POST", "/v1/auth/login", "", map[string]string{"username": "officerA", "password": testPassword}); r.status != 200 {
		t.Fatalf("the refused reset changed the password: login got %d", r.status)
	}
	for _, host := range []string{"localhost:8080", "127.0.0.1", "[::1]:8080"} {
		r := e.call("POST", "/v1/users", admin, body("loop."+strings.NewReplacer(":", "", "[", "", "]", "").Replace(host)), "Host", host)
		var cu createdUser
		if r.status != 201 {
			t.Fatalf("create with Host %s: got %d %s, want 201", host, r.status, r.body)
		}
		r.json(t, &cu)
		if !strings.HasPrefix(cu.Activation.URL, "http://"+host+"/activate#code=") {
			t.Fatalf("Host %s: link %s", host, cu.Activation.URL)
		}
	}
	e.s.cfg.PublicURL = "https://pairsync.example.gov.cn/"
	r = e.call("POST", "/v1/users", admin, body("zhao.lei"), "Host", "evil.example.org")
	var cu createdUser
	r.json(t, &cu)
	if r.status != 201 || !strings.HasPrefix(cu.Activation.URL, "https://pairsync.example.gov.cn/activate#code=") {
		t.Fatalf("with a public URL: got %d, link %q; want 201 and a link on the public URL", r.status, cu.Activation.URL)
	}
}

// TestDeviceCap: a user has at most maxLiveDevices live devices; the next
// registration is refused saying to revoke an old one, and revoking one
// makes room.
func TestDeviceCap(t *testing.T) {
	e := newIDEnv(t)
	tok := e.login("officerA").AccessToken
	var first string
	maxLiveDevices := e.s.cfg.MaxDevicesPerUser
	if maxLiveDevices != 10 {
		t.Fatalf("default MaxDevicesPerUser %d, want 10", maxLiveDevices)
	}
	for i := range maxLiveDevices {
		r := e.call("POST", "/v1/devices", tok, map[string]string{"name": "手机 " + strings.Repeat("I", i+1)})
		if r.status != 201 {
			t.Fatalf("device %d: got %d %s, want 201", i+1, r.status, r.body)
		}
		if i == 0 {
			var reg registeredDevice
			r.json(t, &reg)
			first = reg.Device.ID
		}
	}
	r := e.call("POST", "/v1/devices", tok, map[string]string{"name": "第十一部手机"})
	if r.status != 409 || !strings.Contains(string(r.body), `"code":"too_many_devices"`) || !strings.Contains(string(r.body), "revoke") {
		t.Fatalf("device %d: got %d %s, want 409 too_many_devices saying to revoke one", maxLiveDevices+1, r.status, r.body)
	}
	if r := e.call("POST", "/v1/devices/"+first+"/revoke", e.login("adminA").AccessToken, nil); r.status != 200 {
		t.Fatalf("revoke: got %d %s", r.status, r.body)
	}
	tok = e.login("officerA").AccessToken
	if r := e.call("POST", "/v1/devices", tok, map[string]string{"name": "第十一部手机"}); r.status != 201 {
		t.Fatalf("after revoking one: got %d %s, want 201", r.status, r.body)
	}
}

// TestProbeAuditBounded: a flood of refused requests from one client
// writes at most probeAuditMax entries and one summary to the audit log per
// window; another client's refusals are still recorded.
func TestProbeAuditBounded(t *testing.T) {
	e := newEnvConfig(t, false, nil, nil, Config{TrustedProxies: []string{"127.0.0.1"}}, Deps{})
	tok := e.login("contactA").AccessToken
	count := func(ip string) (probes, summaries int) {
		t.Helper()
		events, _, err := e.db.AuditLog(t.Context(), storage.AuditQuery{Limit: 10_000})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events {
			switch {
			case ev.IP != ip:
			case ev.Action == "probes_suppressed":
				summaries++
			case probeResults[ev.Result]:
				probes++
			}
		}
		return probes, summaries
	}
	for i := range 150 {
		path := "/v1/users/u-adminB"
		if i%2 == 1 {
			path = "/v1/users/no-such-user"
		}
		if r := e.call("GET", path, tok, nil, "X-Forwarded-For", "10.9.9.9"); r.status != 404 {
			t.Fatalf("probe %d: got %d, want 404", i, r.status)
		}
	}
	for i := range 5 {
		e.call("POST", "/v1/auth/login", "", map[string]string{"username": "nobody" + strings.Repeat("x", i), "password": "wrong-password"}, "X-Forwarded-For", "10.9.9.9")
	}
	if probes, summaries := count("10.9.9.9"); probes != probeAuditMax || summaries != 1 {
		t.Fatalf("155 refused requests from one client: %d recorded and %d summaries, want %d and 1", probes, summaries, probeAuditMax)
	}
	if r := e.call("GET", "/v1/users/u-adminB", tok, nil, "X-Forwarded-For", "10.8.8.8"); r.status != 404 {
		t.Fatalf("another client: got %d", r.status)
	}
	if probes, _ := count("10.8.8.8"); probes != 1 {
		t.Fatalf("another client's refusal: %d recorded, want 1", probes)
	}
	if body := scrape(t, e.s); !strings.Contains(body, "pairsync_audit_probes_suppressed_total 135") {
		t.Fatalf("metrics lack 135 suppressed probes")
	}
}

// reset forgets every client's window (tests that count audit lines of
// many refusals from one address).
func (l *probeLimiter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clients = nil
}
