package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/storage/bolt"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testMain(t *testing.T, dataDir string, env map[string]string, args ...string) (*Main, *syncBuffer, *syncBuffer) {
	t.Helper()
	args = append([]string{"-addr", "127.0.0.1:0", "-data-dir", dataDir}, args...)
	cfg, err := ParseConfig(args, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain()
	m.Config = cfg
	out, logs := &syncBuffer{}, &syncBuffer{}
	m.Stdout, m.Stderr = out, logs
	return m, out, logs
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestEndToEnd runs pairsyncd as the binary does, checks the operational
// routes over real HTTP, then sends SIGTERM during a slow request: the
// request finishes, readiness flips to 503 meanwhile, the process stops
// cleanly and the bolt file is released.
func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	m, out, logs := testMain(t, dir, nil, "-drain-delay", "800ms", "-shutdown-timeout", "5s", "-metrics-addr", "127.0.0.1:0")
	slowStarted := make(chan struct{})
	m.extraRoutes = func(app *fiber.App) {
		app.Get("/test/slow", func(c *fiber.Ctx) error {
			close(slowStarted)
			time.Sleep(1500 * time.Millisecond)
			return c.SendString("finished")
		})
	}
	stopped := make(chan error, 1)
	go func() { stopped <- serveUntilSignal(context.Background(), m) }()
	select {
	case <-m.Ready():
	case err := <-stopped:
		t.Fatalf("pairsyncd did not start: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("pairsyncd not ready after 20s")
	}
	base := m.URL()

	// The banner says where to open it and gives the generated password once.
	banner := out.String()
	if !strings.Contains(banner, base) {
		t.Errorf("banner lacks the URL %s:\n%s", base, banner)
	}
	pw := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(banner)
	if pw == nil {
		t.Fatalf("banner shows no generated password:\n%s", banner)
	}
	if !strings.Contains(banner, base+"/console/account") {
		t.Errorf("banner does not point at the change-password screen %s/console/account:\n%s", base, banner)
	}

	for _, tc := range []struct {
		path, want string
	}{
		{"/healthz", `"status":"ok"`},
		{"/readyz", `"status":"ready"`},
		{"/v1/openapi.json", `"openapi":"3.1.0"`},
	} {
		if code, body := get(t, base+tc.path); code != 200 || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: got %d %s, want 200 with %s", tc.path, code, body, tc.want)
		}
	}
	// Metrics are on their own listener only, never told to the public:
	// the public one answers 404.
	if code, body := get(t, m.MetricsURL()+"/metrics"); code != 200 || !strings.Contains(body, `pairsync_http_requests_total{code="200",method="GET",route="/healthz"}`) {
		t.Errorf("GET /metrics on -metrics-addr: got %d, want request counts by route", code)
	}
	if code, body := get(t, base+"/metrics"); code != 404 {
		t.Errorf("GET /metrics on the public listener: got %d %.200s, want 404", code, body)
	}

	// A second pairsyncd on the same data directory fails fast.
	m2, _, _ := testMain(t, dir, nil)
	start := time.Now()
	err := m2.Run(context.Background())
	m2.Close()
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second start: got %v, want an 'in use' error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second start took %v to fail, want fast", d)
	}

	// SIGTERM during a slow request.
	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/test/slow")
		if err != nil {
			slow <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		slow <- resp.Status + " " + string(b)
	}()
	<-slowStarted
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	flipped := false
	for deadline := time.Now().Add(700 * time.Millisecond); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if code, body := get(t, base+"/readyz"); code == 503 && strings.Contains(body, "shutting_down") {
			flipped = true
			break
		}
	}
	if !flipped {
		t.Error("readiness did not flip to 503 after SIGTERM")
	}
	if got := <-slow; got != "200 OK finished" {
		t.Errorf("slow request: got %q, want it to finish with 200", got)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("serveUntilSignal: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("pairsyncd did not exit within 15s of SIGTERM")
	}

	// Storage was closed cleanly: the file opens again, and the first
	// administrator's password is the printed one, stored as argon2id.
	db, err := bolt.Open(context.Background(), bolt.Config{Path: filepath.Join(dir, "pairsync.db")})
	if err != nil {
		t.Fatalf("reopen after shutdown: %v", err)
	}
	defer db.Close()
	admin, err := db.UserByLogin(context.Background(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := auth.NewHasher(auth.DefaultParams, 1).Verify(context.Background(), pw[1], admin.PasswordHash); !ok || err != nil {
		t.Errorf("printed password does not verify against the stored hash (%v)", err)
	}
	if admin.Role != "admin" {
		t.Errorf("got role %q, want admin", admin.Role)
	}
	// Logs are JSON and never carry the password.
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %s", line)
		}
	}
	if strings.Contains(logs.String(), pw[1]) {
		t.Error("logs contain the administrator's password")
	}
}

// TestAdminPasswordFromEnv: the operator's password is used and not printed;
// a second start does not create another administrator.
func TestAdminPasswordFromEnv(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"PAIRSYNC_ADMIN_PASSWORD": "s3cret-pass-word"}
	for i := 0; i < 2; i++ {
		m, out, _ := testMain(t, dir, env)
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "s3cret-pass-word") {
			t.Error("banner prints the operator's password")
		}
		if err := m.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	db, err := bolt.Open(context.Background(), bolt.Config{Path: filepath.Join(dir, "pairsync.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, _ := db.CountUsers(context.Background()); n != 1 {
		t.Errorf("got %d users after two starts, want 1", n)
	}
	// The configured password is not the administrator's own: the console
	// prompts them to change it, and the banner says where.
	if u, err := db.UserByLogin(context.Background(), "admin"); err != nil || !u.MustChangePassword {
		t.Errorf("first administrator: got %+v (%v), want MustChangePassword set", u, err)
	}
	short, _, _ := testMain(t, t.TempDir(), map[string]string{"PAIRSYNC_ADMIN_PASSWORD": "short"})
	if err := short.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "PAIRSYNC_ADMIN_PASSWORD") {
		t.Errorf("short password: got %v, want an error naming PAIRSYNC_ADMIN_PASSWORD", err)
	}
	short.Close()
}

func TestParseConfig(t *testing.T) {
	env := map[string]string{"PAIRSYNC_ADDR": "127.0.0.1:9000", "PAIRSYNC_READ_TIMEOUT": "5s", "PAIRSYNC_STORAGE": "bolt"}
	c, err := ParseConfig([]string{"-read-timeout", "7s"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.Server.ReadTimeout != 7*time.Second || c.DataDir != "./data" || c.Photos != "files" {
		t.Errorf("got %+v; want env addr, flag read timeout, default data dir and photos", c)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"-storage", "sqlite"}, nil},
		{nil, map[string]string{"PAIRSYNC_READ_TIMEOUT": "soon"}},
		{[]string{"-body-limit", "10"}, nil},
		{[]string{"-drain-delay", "10s", "-shutdown-timeout", "10s"}, nil},
		{[]string{"stray"}, nil},
	} {
		if _, err := ParseConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard); err == nil {
			t.Errorf("ParseConfig(%v, %v): got no error, want one", tc.args, tc.env)
		}
	}
}

// TestREADMEDocumentsEverySetting keeps the README's configuration table in
// step with the code.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings() {
		for _, want := range []string{"`" + s.env + "`", "`-" + s.flag + "`"} {
			if !bytes.Contains(readme, []byte(want)) {
				t.Errorf("README.md does not document %s", want)
			}
		}
	}
	if !bytes.Contains(readme, []byte("`PAIRSYNC_ADMIN_PASSWORD`")) {
		t.Error("README.md does not document PAIRSYNC_ADMIN_PASSWORD")
	}
}

func TestRotateKey(t *testing.T) {
	dir := t.TempDir()
	m, _, _ := testMain(t, dir, nil)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// While the server holds the file, the command says what to do instead.
	r, _, _ := testMain(t, dir, nil)
	if err := r.RotateKey(context.Background()); err == nil || !strings.Contains(err.Error(), "POST /v1/auth/keys/rotate") {
		t.Errorf("rotate while running: got %v, want a hint to stop the server or use the route", err)
	}
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, out, _ := testMain(t, dir, nil)
	if err := r.RotateKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "New signing key") {
		t.Errorf("got output %q, want the new kid", out.String())
	}
	db, err := bolt.Open(context.Background(), bolt.Config{Path: filepath.Join(dir, "pairsync.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys, err := db.SigningKeys(context.Background())
	if err != nil || len(keys) != 2 || keys[0].RetiredAt.IsZero() || !keys[1].RetiredAt.IsZero() {
		t.Fatalf("got keys %+v (%v), want the first retired and the second active", keys, err)
	}
}
