package server

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a bytes.Buffer safe for the server's concurrent logging.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogsHoldNoSecrets (SECURITY.md 10): the server's own log, at debug
// level, through sign-ins good and bad, refreshes, a token in the query
// string, an account created with a phone number and activated, never holds
// a password, a token, an activation code or a phone number.
func TestLogsHoldNoSecrets(t *testing.T) {
	var buf lockedBuffer
	e := newEnvLogged(t, true, nil, slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	secrets := []string{testPassword}

	good := e.login("adminA")
	secrets = append(secrets, good.AccessToken, good.RefreshToken)
	secrets = append(secrets, strings.Split(good.AccessToken, ".")[1:]...) // claims and signature alone
	const wrong = "wrong-Secret-4711"
	secrets = append(secrets, wrong)
	e.call("POST", "/v1/auth/login", "", map[string]string{"username": "adminA", "password": wrong})
	e.call("POST", "/v1/auth/login", "", map[string]string{"username": "13800000001", "password": wrong}) // an officer's phone as login
	secrets = append(secrets, "13800000001")

	r := e.call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": good.RefreshToken})
	var fresh tokenResponse
	r.json(t, &fresh)
	secrets = append(secrets, fresh.AccessToken, fresh.RefreshToken)
	e.call("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": good.RefreshToken}) // reuse: the family dies, logged
	e.call("GET", "/v1/me?access_token="+fresh.AccessToken, "", nil)
	e.call("GET", "/v1/me", good.AccessToken+"x", nil)

	admin := e.login("adminA").AccessToken
	const phone, newPassword = "13912345678", "我的新密码-2026"
	r = e.call("POST", "/v1/users", admin, map[string]any{"username": "li.na", "name": "李娜", "role": "contact",
		"org_unit": "unitA", "counterparty": communityA(t, e), "phone": phone})
	if r.status != 201 {
		t.Fatalf("create: got %d %s", r.status, r.body)
	}
	var cu createdUser
	r.json(t, &cu)
	secrets = append(secrets, phone, newPassword, cu.Activation.Code, strings.ReplaceAll(cu.Activation.Code, "-", ""))
	if r := e.call("POST", "/v1/auth/activate", "", map[string]string{"code": cu.Activation.Code, "password": newPassword}); r.status != 200 {
		t.Fatalf("activate: got %d %s", r.status, r.body)
	}
	e.call("POST", "/v1/auth/login", "", map[string]string{"username": phone, "password": newPassword})
	e.call("GET", "/v1/users?q="+phone, admin, nil)

	log := buf.String()
	if strings.Count(log, "\n") < 10 {
		t.Fatalf("the server logged %d lines; the test needs its request log:\n%s", strings.Count(log, "\n"), log)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(log, s) {
			i := strings.Index(log, s)
			t.Errorf("the log holds a secret (%.12s…): …%s…", s, log[max(0, i-200):min(len(log), i+len(s)+50)])
		}
	}
	t.Logf("%d log lines, %d secrets looked for, none found", strings.Count(log, "\n"), len(secrets))
}
