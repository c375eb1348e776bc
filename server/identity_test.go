package server

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/servertest"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
)

// fastPasswords keeps the many sign-ins of these tests quick; the
// production parameters are checked in server/auth.
var fastPasswords = servertest.FastPasswords

const testPassword = servertest.Password

// idEnv is a server on a real bolt file, served on 127.0.0.1, with the
// servertest world EveryRole: an org tree root → {A, B} and one user of
// every role in each of A and B.
type idEnv struct {
	t     testing.TB
	s     *Server
	db    *bolt.DB
	base  string
	clock *servertest.Clock
	units map[string]storage.OrgUnit // "root", "A", "B"
	users map[string]storage.User    // by user name
}

func (e *idEnv) now() time.Time { return e.clock.Now() }
func (e *idEnv) advance(d time.Duration) {
	e.clock.Advance(d)
}

// newIDEnv is the environment of the identity and sync protocol tests:
// pushes skip the domain's field rules (Deps.ProtocolOnly) so those tests
// can push free-form records.
func newIDEnv(t testing.TB) *idEnv {
	t.Helper()
	return startEnv(t, servertest.Options{}, Config{}, Deps{ProtocolOnly: true})
}

// newDomainEnv is newIDEnv with the domain's rules on, as pairsyncd runs.
func newDomainEnv(t testing.TB) *idEnv {
	t.Helper()
	return startEnv(t, servertest.Options{}, Config{}, Deps{})
}

// newEnvWith is a server (the domain's rules with domainRules) on the given photo store (nil: a local folder).
func newEnvWith(t testing.TB, domainRules bool, photoStore storage.Photos) *idEnv {
	t.Helper()
	return startEnv(t, servertest.Options{Photos: photoStore}, Config{}, Deps{ProtocolOnly: !domainRules})
}

// newEnvLogged is newEnvWith with the server logging to logger (nil:
// nowhere).
func newEnvLogged(t testing.TB, domainRules bool, photoStore storage.Photos, logger *slog.Logger) *idEnv {
	t.Helper()
	return startEnv(t, servertest.Options{Photos: photoStore}, Config{}, Deps{ProtocolOnly: !domainRules, Logger: logger})
}

// newEnvConfig is newEnvLogged with the server's Config and, for the fields
// set in extra, its Deps (HashesInFlight, PasswordParams).
func newEnvConfig(t testing.TB, domainRules bool, photoStore storage.Photos, logger *slog.Logger, cfg Config, extra Deps) *idEnv {
	t.Helper()
	return startEnv(t, servertest.Options{Photos: photoStore, PasswordParams: extra.PasswordParams}, cfg,
		Deps{ProtocolOnly: !domainRules, Logger: logger, HashesInFlight: extra.HashesInFlight})
}

// startEnv opens the servertest world of o with the EveryRole fixture
// (fsync on, as pairsyncd runs) and serves New(cfg, deps) on it; deps gets
// the world's stores, clock and password parameters.
func startEnv(t testing.TB, o servertest.Options, cfg Config, deps Deps) *idEnv {
	t.Helper()
	o.Fixture, o.Fsync = servertest.EveryRole(), true
	w := servertest.New(t, o)
	deps.Store, deps.Photos, deps.Now, deps.PasswordParams = w.Store, w.Photos, w.Clock.Now, w.PasswordParams
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return &idEnv{t: t, s: s, db: w.DB, base: w.Serve(s), clock: w.Clock,
		units: map[string]storage.OrgUnit{"root": w.Units["root"], "A": w.Units["unitA"], "B": w.Units["unitB"]}, users: w.Users}
}

type result struct {
	status int
	body   []byte
	header http.Header
}

func (r result) json(t testing.TB, v any) {
	t.Helper()
	servertest.Response{Body: r.body}.JSON(t, v)
}

// call makes a real HTTP request; token "" sends no Authorization. The
// tests read the server's English messages unless they ask for another
// language in hdr (Chinese is the default for people: messages.go).
func (e *idEnv) call(method, path, token string, body any, hdr ...string) result {
	e.t.Helper()
	r := servertest.Client{TB: e.t, URL: e.base, Language: "en"}.Call(method, path, token, body, hdr...)
	return result{status: r.Status, body: r.Body, header: r.Header}
}

// create POSTs {"fields": fields} to path as token, fails the test unless
// the record is created (201), and returns its id.
func (e *idEnv) create(t testing.TB, path, token string, fields map[string]any) string {
	t.Helper()
	r := e.call("POST", path, token, map[string]any{"fields": fields})
	if r.status != 201 {
		t.Fatalf("POST %s: got %d %s, want 201", path, r.status, r.body)
	}
	var a writeAnswer
	r.json(t, &a)
	return a.Record.ID
}

func (e *idEnv) login(user string) tokenResponse {
	e.t.Helper()
	var tr tokenResponse
	servertest.Client{TB: e.t, URL: e.base, Language: "en"}.Login(user, &tr)
	return tr
}

// TestJWTNegativeMatrix is SECURITY.md item 1: every forged, expired,
// misdirected or misplaced token gets 401 with one and the same body.
func TestJWTNegativeMatrix(t *testing.T) {
	e := newIDEnv(t)
	good := e.login("officerA")
	if r := e.call("GET", "/v1/me", good.AccessToken, nil); r.status != 200 {
		t.Fatalf("control: a valid token got %d %s, want 200", r.status, r.body)
	}

	keys, err := e.db.SigningKeys(t.Context())
	if err != nil || len(keys) != 1 {
		t.Fatalf("signing keys: %v %d", err, len(keys))
	}
	realKID, realKey := keys[0].ID, ed25519.NewKeyFromSeed(keys[0].Private)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	now := e.now()
	// The hand-signed tokens name the live sign-in of good (a token must
	// name a live one: liveness.go), so they fail only for their own reason.
	goodClaims, err := e.s.tokens.Parse(t.Context(), good.AccessToken)
	if err != nil || goodClaims.Family == "" {
		t.Fatalf("the control token's claims: %+v %v", goodClaims, err)
	}
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": tokenIssuer, "aud": tokenAudience, "sub": "u-officerA", "typ": "access", "role": "officer",
			"ou": e.units["A"].Path, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "sid": goodClaims.Family}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims, hdr map[string]any) string {
		tok := jwt.NewWithClaims(m, c)
		tok.Header["kid"] = realKID
		tok.Header["typ"] = "at+jwt"
		for k, v := range hdr {
			if v == nil {
				delete(tok.Header, k)
			} else {
				tok.Header[k] = v
			}
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// A control signed by the test with the real key must pass, so the
	// cases below fail for the reason they name.
	if r := e.call("GET", "/v1/me", sign(jwt.SigningMethodEdDSA, realKey, claims(nil), nil), nil); r.status != 200 {
		t.Fatalf("control: hand-signed valid token got %d %s, want 200", r.status, r.body)
	}
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil))
		tok.Header["kid"] = realKID
		s, _ := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}()
	pub := realKey.Public().(ed25519.PublicKey)
	jwk := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(otherKey.Public().(ed25519.PublicKey)), "kid": "evil"}

	cases := []struct {
		name, token string
		query       bool
	}{
		{"no token", "", false},
		{"garbage", "not.a.jwt", false},
		{"alg none", none, false},
		{"HS256 keyed with the public key", sign(jwt.SigningMethodHS256, []byte(pub), claims(nil), nil), false},
		{"ES256 with a foreign key", sign(jwt.SigningMethodES256, ecKey, claims(nil), nil), false},
		{"EdDSA with the wrong key", sign(jwt.SigningMethodEdDSA, otherKey, claims(nil), nil), false},
		{"expired", sign(jwt.SigningMethodEdDSA, realKey, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }), nil), false},
		{"no exp", sign(jwt.SigningMethodEdDSA, realKey, claims(func(c jwt.MapClaims) { delete(c, "exp") }), nil), false},
		{"iat in the future", sign(jwt.SigningMethodEdDSA, realKey, claims(func(c jwt.MapClaims) { c["iat"] = now.Add(5 * time.Minute).Unix() }), nil), false},
		{"wrong audience", sign(jwt.SigningMethodEdDSA, realKey, claims(func(c jwt.MapClaims) { c["aud"] = "other-api" }), nil), false},
		{"no audience", sign(jwt.SigningMethodEdDSA, realKey, claims(func(c jwt.MapClaims) { delete(c, "aud") }), nil), false},
		{"wrong issuer", sign(jwt.SigningMethodEdDSA, realKey, claims(func(c jwt.MapClaims) { c["iss"] = "evil" }), nil), false},
		{"refresh token as access token", good.RefreshToken, false},
		{"typ claim refresh", sign(jwt.SigningMethodEdDSA, realKey, claims(func(c jwt.MapClaims) { c["typ"] = "refresh" }), nil), false},
		{"no typ header", sign(jwt.SigningMethodEdDSA, realKey, claims(nil), map[string]any{"typ": nil}), false},
		{"no sign-in (sid)", sign(jwt.SigningMethodEdDSA, realKey, claims(func(c jwt.MapClaims) { delete(c, "sid") }), nil), false},
		{"ended or unknown sign-in (sid)", sign(jwt.SigningMethodEdDSA, realKey, claims(func(c jwt.MapClaims) { c["sid"] = "01a20324-cb52-783c-9b67-000000000009" }), nil), false},
		{"unknown user", sign(jwt.SigningMethodEdDSA, realKey, claims(func(c jwt.MapClaims) { c["sub"] = "u-nobody" }), nil), false},
		{"unknown kid", sign(jwt.SigningMethodEdDSA, realKey, claims(nil), map[string]any{"kid": "no-such-key"}), false},
		{"no kid", sign(jwt.SigningMethodEdDSA, realKey, claims(nil), map[string]any{"kid": nil}), false},
		{"kid with path traversal", sign(jwt.SigningMethodEdDSA, realKey, claims(nil), map[string]any{"kid": "../../../../etc/passwd"}), false},
		{"jwk header with attacker key", sign(jwt.SigningMethodEdDSA, otherKey, claims(nil), map[string]any{"kid": "evil", "jwk": jwk}), false},
		{"jku header", sign(jwt.SigningMethodEdDSA, otherKey, claims(nil), map[string]any{"kid": "evil", "jku": "http://127.0.0.1:1/jwks.json"}), false},
		{"x5u header", sign(jwt.SigningMethodEdDSA, otherKey, claims(nil), map[string]any{"x5u": "http://127.0.0.1:1/cert.pem"}), false},
		{"token in the query string", good.AccessToken, true},
		{"huge header", sign(jwt.SigningMethodEdDSA, realKey, claims(func(c jwt.MapClaims) { c["pad"] = strings.Repeat("x", 8000) }), nil), false},
	}
	var bodies []string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r result
			if tc.query {
				r = e.call("GET", "/v1/me?access_token="+tc.token, "", nil)
			} else {
				r = e.call("GET", "/v1/me", tc.token, nil)
			}
			if r.status != 401 {
				t.Fatalf("got %d %s, want 401", r.status, r.body)
			}
			bodies = append(bodies, string(r.body))
		})
	}
	for _, b := range bodies {
		if b != bodies[0] {
			t.Fatalf("401 bodies differ: %q vs %q; want one body for every case", b, bodies[0])
		}
	}
	t.Logf("%d forged or misplaced tokens, all 401 with body %s", len(bodies), bodies[0])
}

func TestRefreshRotationAndReuse(t *testing.T) {
	e := newIDEnv(t)
	first := e.login("officerA")
	r := e.call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken})
	if r.status != 200 {
		t.Fatalf("refresh: got %d %s, want 200", r.status, r.body)
	}
	var second tokenResponse
	r.json(t, &second)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == "" || second.ExpiresIn > 600 {
		t.Fatalf("got %+v; want a new refresh token and an access token of at most 10 minutes", second)
	}
	// Reusing the first token revokes the family: the second dies too.
	if r := e.call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}); r.status != 401 {
		t.Fatalf("reuse: got %d, want 401", r.status)
	}
	if r := e.call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": second.RefreshToken}); r.status != 401 {
		t.Fatalf("after reuse, the rotated token: got %d, want 401 (family revoked)", r.status)
	}
	events, _, err := e.db.AuditLog(t.Context(), storage.AuditQuery{Action: "refresh_reuse"})
	if err != nil || len(events) != 1 || events[0].Actor != "u-officerA" {
		t.Fatalf("audit: got %+v %v, want one refresh_reuse by u-officerA", events, err)
	}
	// The absolute lifetime: 30 days after sign-in, however often rotated.
	tok := e.login("officerB").RefreshToken
	for _, step := range []time.Duration{10 * 24 * time.Hour, 10 * 24 * time.Hour, 9 * 24 * time.Hour} {
		e.advance(step)
		r := e.call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": tok})
		if r.status != 200 {
			t.Fatalf("refresh after %v: got %d, want 200", step, r.status)
		}
		var tr tokenResponse
		r.json(t, &tr)
		if tr.ExpiresIn <= 0 || tr.ExpiresIn > 600 {
			t.Fatalf("expires_in after %v: got %d, want 1..600 seconds (by the server's clock)", step, tr.ExpiresIn)
		}
		tok = tr.RefreshToken
	}
	e.advance(25 * time.Hour)
	if r := e.call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": tok}); r.status != 401 {
		t.Fatalf("31 days after sign-in: got %d, want 401", r.status)
	}
	// Logout ends the family.
	s := e.login("viewerA")
	if r := e.call("POST", "/v1/auth/logout", "", map[string]string{"refresh_token": s.RefreshToken}); r.status != 204 {
		t.Fatalf("logout: got %d, want 204", r.status)
	}
	if r := e.call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": s.RefreshToken}); r.status != 401 {
		t.Fatalf("refresh after logout: got %d, want 401", r.status)
	}
}

func TestAccessChangesTakeEffect(t *testing.T) {
	e := newIDEnv(t)
	admin := e.login("adminA").AccessToken

	// Disabling a user: their refresh fails at once.
	off := e.login("officerA")
	if r := e.call("PATCH", "/v1/users/u-officerA", admin, map[string]any{"disabled": true}); r.status != 200 {
		t.Fatalf("disable: got %d %s", r.status, r.body)
	}
	if r := e.call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": off.RefreshToken}); r.status != 401 {
		t.Fatalf("refresh of a disabled user: got %d, want 401", r.status)
	}
	if r := e.call("POST", "/v1/auth/login", "", map[string]string{"username": "officerA", "password": testPassword}); r.status != 401 {
		t.Fatalf("login of a disabled user: got %d, want 401", r.status)
	}
	// The access token lives out its ≤ 10 minutes, then is refused.
	e.advance(auth.AccessTTL + auth.Leeway + time.Second)
	if r := e.call("GET", "/v1/me", off.AccessToken, nil); r.status != 401 {
		t.Fatalf("disabled user's access token after its lifetime: got %d, want 401", r.status)
	}

	// Revoking a device: its sessions end; the next refresh says device_revoked.
	admin = e.login("adminA").AccessToken
	cont := e.login("contactA")
	r := e.call("POST", "/v1/devices", cont.AccessToken, map[string]string{"name": "企业联系人的手机"})
	if r.status != 201 {
		t.Fatalf("register device: got %d %s", r.status, r.body)
	}
	var reg registeredDevice
	r.json(t, &reg)
	if reg.Device.ID == "" || reg.AccessToken == "" {
		t.Fatalf("got %+v, want a device id and a device-bound token", reg)
	}
	if r := e.call("POST", "/v1/devices/"+reg.Device.ID+"/revoke", admin, nil); r.status != 200 {
		t.Fatalf("revoke: got %d %s", r.status, r.body)
	}
	// The session that registered the device is bound to it: its next
	// refresh is told to push and wipe.
	r = e.call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": cont.RefreshToken})
	if r.status != 403 || !strings.Contains(string(r.body), "device_revoked") {
		t.Fatalf("refresh on a revoked device: got %d %s, want 403 device_revoked", r.status, r.body)
	}
	r = e.call("POST", "/v1/auth/login", "", map[string]string{"username": "contactA", "password": testPassword, "device_id": reg.Device.ID})
	if r.status != 403 || !strings.Contains(string(r.body), "device_revoked") {
		t.Fatalf("login on a revoked device: got %d %s, want 403 device_revoked", r.status, r.body)
	}

	// A role change reaches the tokens at the next refresh.
	vw := e.login("viewerA")
	if r := e.call("GET", "/v1/audit", vw.AccessToken, nil); r.status != 404 {
		t.Fatalf("viewer reads audit: got %d, want 404", r.status)
	}
	if r := e.call("PATCH", "/v1/users/u-viewerA", admin, map[string]any{"role": "admin"}); r.status != 200 {
		t.Fatalf("role change: got %d %s", r.status, r.body)
	}
	r = e.call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": vw.RefreshToken})
	var nt tokenResponse
	r.json(t, &nt)
	if r := e.call("GET", "/v1/audit", nt.AccessToken, nil); r.status != 200 {
		t.Fatalf("after role change and refresh: got %d %s, want 200", r.status, r.body)
	}
}

func TestLoginThrottle(t *testing.T) {
	e := newIDEnv(t)
	try := func(pw, xff string) result {
		return e.call("POST", "/v1/auth/login", "", map[string]string{"username": "officerA", "password": pw}, "X-Forwarded-For", xff)
	}
	for i := 1; i <= 3; i++ {
		if r := try("wrong-password", fmt.Sprintf("10.0.0.%d", i)); r.status != 401 {
			t.Fatalf("wrong password %d: got %d, want 401", i, r.status)
		}
	}
	// The proxy is not trusted: a new X-Forwarded-For changes nothing.
	for i := 4; i <= 6; i++ {
		r := try("wrong-password", fmt.Sprintf("10.0.1.%d", i))
		if r.status != 429 || r.header.Get("Retry-After") == "" {
			t.Fatalf("wrong password %d: got %d (Retry-After %q), want 429 with Retry-After", i, r.status, r.header.Get("Retry-After"))
		}
	}
	if r := try(testPassword, "10.9.9.9"); r.status != 429 {
		t.Fatalf("right password while throttled: got %d, want 429", r.status)
	}
	e.advance(throttleWindow + time.Second)
	if r := try(testPassword, ""); r.status != 200 {
		t.Fatalf("after the window: got %d %s, want 200", r.status, r.body)
	}
}

// TestSameAnswerForUnknownUser: an unknown user and a wrong password get
// the same status, body and amount of hashing work.
func TestSameAnswerForUnknownUser(t *testing.T) {
	e := newIDEnv(t)
	h0 := e.s.hasher.Hashes()
	a := e.call("POST", "/v1/auth/login", "", map[string]string{"username": "nobody", "password": "wrong-password"})
	h1 := e.s.hasher.Hashes()
	b := e.call("POST", "/v1/auth/login", "", map[string]string{"username": "officerB", "password": "wrong-password"})
	h2 := e.s.hasher.Hashes()
	if a.status != 401 || b.status != 401 || string(a.body) != string(b.body) {
		t.Fatalf("unknown user %d %s vs wrong password %d %s; want identical 401s", a.status, a.body, b.status, b.body)
	}
	if h1-h0 != 1 || h2-h1 != 1 {
		t.Fatalf("hashes: unknown user %d, wrong password %d; want 1 each", h1-h0, h2-h1)
	}
}

func TestActivation(t *testing.T) {
	e := newIDEnv(t)
	admin := e.login("adminA").AccessToken
	r := e.call("POST", "/v1/users", admin, map[string]any{"username": "zhang.wei", "name": "张伟", "role": "contact",
		"org_unit": "unitA", "counterparty": communityA(t, e), "phone": "13912345678"})
	if r.status != 201 {
		t.Fatalf("create: got %d %s", r.status, r.body)
	}
	var cu createdUser
	r.json(t, &cu)
	if cu.User.Activated || len(cu.Activation.Code) != 14 || !strings.Contains(cu.Activation.URL, "#code=") {
		t.Fatalf("got %+v; want an unactivated user and a code XXXX-XXXX-XXXX in the link's fragment", cu)
	}
	png, err := base64.StdEncoding.DecodeString(cu.Activation.QRPNG)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("qr_png is not a PNG (%v)", err)
	}
	// No default password: the new user cannot sign in before activating.
	if r := e.call("POST", "/v1/auth/login", "", map[string]string{"username": "zhang.wei", "password": ""}); r.status != 401 {
		t.Fatalf("login before activation: got %d, want 401", r.status)
	}
	if r := e.call("POST", "/v1/auth/activate", "", map[string]string{"code": cu.Activation.Code, "password": "short"}); r.status != 400 {
		t.Fatalf("weak password: got %d, want 400", r.status)
	}
	code := strings.ToLower(cu.Activation.Code) // typed by hand
	r = e.call("POST", "/v1/auth/activate", "", map[string]string{"code": code, "password": "我的新密码-2026"})
	if r.status != 200 {
		t.Fatalf("activate: got %d %s", r.status, r.body)
	}
	if r := e.call("POST", "/v1/auth/activate", "", map[string]string{"code": code, "password": "another-pass-1"}); r.status != 400 {
		t.Fatalf("second use of the code: got %d, want 400", r.status)
	}
	if r := e.call("POST", "/v1/auth/login", "", map[string]string{"username": "13912345678", "password": "我的新密码-2026"}); r.status != 200 {
		t.Fatalf("login by phone after activation: got %d %s", r.status, r.body)
	}
	// An expired code does not work.
	r = e.call("POST", "/v1/users/"+cu.User.ID+"/activation", admin, nil)
	r.json(t, &cu)
	e.advance(activationTTL + time.Minute)
	if r := e.call("POST", "/v1/auth/activate", "", map[string]string{"code": cu.Activation.Code, "password": "another-pass-1"}); r.status != 400 {
		t.Fatalf("expired code: got %d, want 400", r.status)
	}
	// The audit log has the creation and the activation, and no phone number.
	admin = e.login("adminA").AccessToken
	r = e.call("GET", "/v1/audit?limit=1000", admin, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"user_create"`) || !strings.Contains(string(r.body), `"activate"`) {
		t.Fatalf("audit: got %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "13912345678") || strings.Contains(string(r.body), "我的新密码") {
		t.Fatal("audit log holds a phone number or a password")
	}
}

func TestKeyRotation(t *testing.T) {
	e := newIDEnv(t)
	old := e.login("officerA").AccessToken
	if r := e.call("POST", "/v1/auth/keys/rotate", e.login("adminA").AccessToken, nil); r.status != 403 {
		t.Fatalf("subtree admin rotates: got %d, want 403", r.status)
	}
	if r := e.call("POST", "/v1/auth/keys/rotate", e.login("root").AccessToken, nil); r.status != 200 {
		t.Fatalf("root admin rotates: got %d %s", r.status, r.body)
	}
	var set auth.JWKS
	e.call("GET", "/v1/auth/jwks.json", "", nil).json(t, &set)
	if len(set.Keys) != 2 {
		t.Fatalf("got %d keys in JWKS, want 2 (new, and old until its tokens expire)", len(set.Keys))
	}
	if r := e.call("GET", "/v1/me", old, nil); r.status != 200 {
		t.Fatalf("token of the old key after rotation: got %d, want 200", r.status)
	}
	if r := e.call("GET", "/v1/me", e.login("officerA").AccessToken, nil); r.status != 200 {
		t.Fatalf("token of the new key: got %d, want 200", r.status)
	}
}

// TestEveryRouteWithAnIDHasAPolicyCheck walks the route table.
func TestEveryRouteWithAnIDHasAPolicyCheck(t *testing.T) {
	e := newIDEnv(t)
	for _, r := range e.s.routes {
		if strings.Contains(r.Path, ":") && (r.Load == nil || r.Action == "" || !r.Auth) {
			t.Errorf("%s %s names an object but has no policy check (Load, Action, Auth)", r.Method, r.Path)
		}
	}
}

// TestCrossScopeMatrix: every route with an id, called by every role of
// subtree A on objects of subtree B, never succeeds; administrators of B
// succeed (the control).
func TestCrossScopeMatrix(t *testing.T) {
	e := newIDEnv(t)
	// An object of each kind in subtree B.
	offB := e.login("officerB")
	var reg registeredDevice
	e.call("POST", "/v1/devices", offB.AccessToken, map[string]string{"name": "B 的手机"}).json(t, &reg)
	pairingsFixture(t, e)
	photo := []byte("B 的照片")
	sum := fmt.Sprintf("%x", sha256.Sum256(photo))
	if _, err := e.s.photos.PutPhoto(t.Context(), sum, int64(len(photo)), bytes.NewReader(photo)); err != nil {
		t.Fatal(err)
	}
	if err := e.s.writeReceipt(t.Context(), pairing.PhotoReceipt{SHA256: sum, Stored: true, Size: int64(len(photo))}); err != nil {
		t.Fatal(err)
	}
	grantPhotoForTest(t, e, "p2", sum) // as the upload of the pairing's officer would
	for _, rec := range []struct{ coll, id string }{{"visits", "v-B"}, {"issues", "i-B"}, {"projects", "pr-B"}} {
		vals, _ := jsonValues(map[string]any{"title": "B 的记录", "photos": []map[string]any{{"sha256": sum, "size": len(photo), "type": "image/jpeg"}}})
		if _, _, err := e.s.writeRecord(t.Context(), rec.coll, rec.id, "p2", vals); err != nil {
			t.Fatal(err)
		}
	}
	nB := storage.Notification{ID: "n-B", Channel: "webhook", Recipient: "u-officerB", OrgPaths: []string{e.units["B"].Path}, CreatedAt: e.now()}
	mB := storage.Notification{ID: "m-B", Channel: "inapp", Recipient: "u-officerB", OrgPaths: []string{e.units["B"].Path}, CreatedAt: e.now()}
	if _, err := e.db.Commit(t.Context(), storage.Batch{Notifications: []storage.Notification{nB, mB}}); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{"users": "u-officerB", "devices": reg.Device.ID, "org-units": "unitB",
		"counterparties": "cp-B", "pairings": "p2", "visits": "v-B", "issues": "i-B", "projects": "pr-B", "photos": sum,
		"notifications": "n-B", "me": "m-B"}
	bodies := map[string]any{"PATCH": map[string]any{"name": "改名"}}

	tokens := map[string]string{}
	for _, who := range []string{"adminA", "viewerA", "officerA", "contactA", "adminB"} {
		tokens[who] = e.login(who).AccessToken
	}
	var table []string
	denied := 0
	for _, rt := range e.s.routes {
		if !strings.Contains(rt.Path, ":id") {
			continue
		}
		kind := strings.Split(rt.Path, "/")[2]
		id, ok := ids[kind]
		if !ok {
			t.Errorf("no fixture for %s %s: add an object of subtree B for it", rt.Method, rt.Path)
			continue
		}
		path := strings.Replace(rt.Path, ":id", id, 1)
		row := fmt.Sprintf("%-6s %-28s", rt.Method, rt.Path)
		for _, who := range []string{"adminA", "viewerA", "officerA", "contactA"} {
			// Every call here comes from one address: a fresh audit
			// budget for each pair (auditlimit.go bounds probes per client;
			// TestProbeAuditBounded checks the bound).
			e.s.probes.reset()
			before := auditCount(t, e)
			r := e.call(rt.Method, path, tokens[who], bodies[rt.Method])
			if r.status != 404 {
				t.Errorf("%s %s as %s: got %d %s, want 404", rt.Method, path, who, r.status, r.body)
			}
			// An id that does not exist: the same answer, and audited
			// like the refusal (the same work, so the same timing).
			unknown := strings.Replace(rt.Path, ":id", "no-such-"+kind, 1)
			ru := e.call(rt.Method, unknown, tokens[who], bodies[rt.Method])
			if ru.status != r.status || string(withoutRequestID(ru.body)) != string(withoutRequestID(r.body)) {
				t.Errorf("%s as %s: unknown id answered %d %s, foreign id %d %s: want the same", rt.Method, who, ru.status, ru.body, r.status, r.body)
			}
			if got := auditCount(t, e) - before; got != 2 {
				t.Errorf("%s %s as %s: %d audit lines for a foreign and an unknown id, want 2", rt.Method, rt.Path, who, got)
			}
			denied += 2
			row += fmt.Sprintf(" %s:%d", who, r.status)
		}
		if rt.Method == "GET" {
			// The control: B's administrator is let through the policy
			// (a route may still refuse the role itself: 403).
			r := e.call("GET", path, tokens["adminB"], nil)
			if r.status != 200 && r.status != 403 {
				t.Errorf("control: %s as adminB got %d %s, want 200 (or 403 from the handler)", path, r.status, r.body)
			}
			row += fmt.Sprintf(" adminB:%d", r.status)
		}
		table = append(table, row)
	}
	sort.Strings(table)
	t.Logf("route × role (A's roles on B's objects), %d calls refused:\n%s", denied, strings.Join(table, "\n"))
	if denied == 0 {
		t.Fatal("no route with an id was checked")
	}
}

// auditCount counts the audit log's lines.
func auditCount(t *testing.T, e *idEnv) int {
	t.Helper()
	n := 0
	for before := uint64(0); ; {
		events, more, err := e.db.AuditLog(t.Context(), storage.AuditQuery{Before: before, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		n += len(events)
		if !more || len(events) == 0 {
			return n
		}
		before = events[len(events)-1].Seq
	}
}

// withoutRequestID drops a "request_id" member from a JSON error body.
func withoutRequestID(b []byte) []byte {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return b
	}
	delete(m, "request_id")
	out, _ := json.Marshal(m)
	return out
}

// TestConcurrentRefreshOneWins: a refresh token raced by 8 clients is
// exchanged once; the reuse kills the family.
func TestConcurrentRefreshOneWins(t *testing.T) {
	e := newIDEnv(t)
	tok := e.login("officerA").RefreshToken
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if e.call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": tok}).status == 200 {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("got %d successful refreshes of one token, want 1", ok.Load())
	}
}
