package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
)

// The fault tests run pairsyncd as a real process: the test
// binary re-executed with envChild set runs TestPairsyncdChild, which is
// pairsyncd's main on the environment it is given. A SIGKILL then kills a
// process, not a goroutine: no deferred close, no flush.

const envChild = "PAIRSYNC_TEST_PAIRSYNCD_CHILD"

// TestPairsyncdChild is pairsyncd itself when the fault tests start it as a
// subprocess; run any other way it skips.
func TestPairsyncdChild(t *testing.T) {
	if os.Getenv(envChild) != "1" {
		t.Skip("the pairsyncd child process of the fault tests; runs only when they start it")
	}
	m := NewMain()
	cfg, err := ParseConfig(nil, os.Getenv, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pairsyncd child:", err)
		os.Exit(2)
	}
	m.Config = cfg
	if err := serveUntilSignal(context.Background(), m); err != nil {
		fmt.Fprintln(os.Stderr, "pairsyncd child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// child is a pairsyncd process on a fixed address and data directory,
// started again on the same ones after each kill.
type child struct {
	t    testing.TB
	addr string
	dir  string
	env  []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	logs   *syncBuffer
	starts int
}

// newChild reserves an address for a pairsyncd on bolt in dir.
func newChild(t testing.TB, dir string, env ...string) *child {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := &child{t: t, addr: addr, dir: dir, logs: &syncBuffer{}}
	c.env = append([]string{
		envChild + "=1",
		"PAIRSYNC_ADDR=" + addr, "PAIRSYNC_DATA_DIR=" + dir,
		"PAIRSYNC_STORAGE=bolt", "PAIRSYNC_PHOTOS=files", "PAIRSYNC_LOG_LEVEL=warn",
		"PAIRSYNC_ADMIN_PASSWORD=" + adminPassword,
	}, env...)
	t.Cleanup(func() { c.kill() })
	return c
}

func (c *child) url() string { return "http://" + c.addr }

// start runs the process and waits until /readyz answers 200.
func (c *child) start() time.Duration {
	c.t.Helper()
	began := time.Now()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPairsyncdChild$", "-test.count=1", "-test.timeout=0")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PAIRSYNC_") && !strings.HasPrefix(kv, "GOCOVERDIR=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, c.env...)
	cmd.Stdout, cmd.Stderr = io.Discard, c.logs
	cmd.SysProcAttr = childSysProcAttr()
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start pairsyncd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	c.mu.Lock()
	c.cmd, c.exited = cmd, exited
	c.starts++
	c.mu.Unlock()
	hc := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			c.t.Fatalf("pairsyncd exited at start %d (%v):\n%s", c.starts, cmd.ProcessState, c.logs.String())
		default:
		}
		resp, err := hc.Get(c.url() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(began)
			}
		}
	}
	c.t.Fatalf("pairsyncd not ready after 60s:\n%s", c.logs.String())
	return 0
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill() {
	c.signal(syscall.SIGKILL, 10*time.Second)
}

// stop sends SIGTERM and returns how long the process took to exit.
func (c *child) stop(within time.Duration) time.Duration {
	c.t.Helper()
	d, ok := c.signal(syscall.SIGTERM, within)
	if !ok {
		c.kill()
		c.t.Fatalf("pairsyncd did not exit within %v of SIGTERM", within)
	}
	return d
}

func (c *child) signal(sig syscall.Signal, within time.Duration) (time.Duration, bool) {
	c.mu.Lock()
	cmd, exited := c.cmd, c.exited
	c.mu.Unlock()
	if cmd == nil {
		return 0, true
	}
	began := time.Now()
	select {
	case <-exited:
		return 0, true
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
		return time.Since(began), true
	case <-time.After(within):
		return time.Since(began), false
	}
}

// exitCode is the last process's exit status (-1 while it runs).
func (c *child) exitCode() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil || c.cmd.ProcessState == nil {
		return -1
	}
	return c.cmd.ProcessState.ExitCode()
}

const (
	adminPassword   = "fault-admin-password"
	officerPassword = "fault-officer-password"
)

// fixture is what seedBolt and setUpPairings made: the officers' user ids
// and the pairings (each with every officer).
type fixture struct {
	officers []string // user names: officer01, officer02, …
	ids      map[string]string
	pairings []string
	unit     string // the officers' org unit (default unitA)
}

// seedBolt creates, in a new bolt file, the org tree root → unitA, the
// administrator and n officers of unitA. Their passwords are hashed with
// cheap parameters (the server rehashes at first sign-in), so that tests
// signing in many devices stay fast.
func seedBolt(t testing.TB, dir string, n int) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := bolt.Open(ctx, bolt.Config{Path: filepath.Join(dir, "pairsync.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	for _, u := range []storage.OrgUnit{{ID: "root", Name: "机关工委", Kind: "committee"}, {ID: "unitA", ParentID: "root", Name: "一支部", Kind: "branch"}} {
		u.CreatedAt, u.UpdatedAt = now, now
		if _, err := db.CreateOrgUnit(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	h := auth.NewHasher(auth.Params{MemoryKiB: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
	mk := func(id, name, role, unit, pw string) {
		phc, err := h.Hash(ctx, pw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateUser(ctx, storage.User{ID: id, Username: name, Name: name, Role: role, OrgUnit: unit,
			PasswordHash: phc, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	mk("u-admin", "admin", "admin", "root", adminPassword)
	f := &fixture{ids: map[string]string{"admin": "u-admin"}}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("officer%02d", i)
		mk("u-"+name, name, "officer", "unitA", officerPassword)
		f.officers = append(f.officers, name)
		f.ids[name] = "u-" + name
	}
	return f
}

// setUpPairings creates, through the API, k counterparties and k active
// pairings of unitA, each listing every officer.
func (f *fixture) setUpPairings(t testing.TB, base string, k int) {
	t.Helper()
	admin := loginAs(t, base, "admin", adminPassword)
	unit := f.unit
	if unit == "" {
		unit = "unitA"
	}
	var officers []map[string]any
	for i, name := range f.officers {
		officers = append(officers, map[string]any{"user_id": f.ids[name], "primary": i == 0})
	}
	for n := 1; n <= k; n++ {
		i := len(f.pairings) + 1
		status, body := api(t, "POST", base+"/v1/counterparties", admin, map[string]any{"fields": map[string]any{
			"kind": "enterprise", "name": fmt.Sprintf("某某精密机械有限公司%d", i), "org_unit": unit,
			"credit_code": pairing.CompleteCreditCode(fmt.Sprintf("91320500MA1XYK%03d", i))}})
		if status != 201 {
			t.Fatalf("counterparty: %d %s", status, body)
		}
		var cp struct{ Record struct{ ID string } }
		json.Unmarshal(body, &cp)
		status, body = api(t, "POST", base+"/v1/pairings", admin, map[string]any{"fields": map[string]any{
			"name": fmt.Sprintf("一支部 ↔ 精密机械%d", i), "status": "active", "branches": []string{unit},
			"counterparties": []string{cp.Record.ID}, "officers": officers}})
		if status != 201 {
			t.Fatalf("pairing: %d %s", status, body)
		}
		var pr struct{ Record struct{ ID string } }
		json.Unmarshal(body, &pr)
		f.pairings = append(f.pairings, pr.Record.ID)
	}
}

// loginAs signs in and returns the access token.
func loginAs(t testing.TB, base, user, password string) string {
	t.Helper()
	status, body := api(t, "POST", base+"/v1/auth/login", "", map[string]string{"username": user, "password": password})
	if status != 200 {
		t.Fatalf("login %s: %d %s", user, status, body)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(body, &tr)
	return tr.AccessToken
}

// api makes a JSON request to a running pairsyncd.
func api(t testing.TB, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// createOfficer creates, as admin, the officer username in unit and
// activates the account with password; it returns the user's id.
func createOfficer(t testing.TB, base, admin, username, unit, password string) string {
	t.Helper()
	status, body := api(t, "POST", base+"/v1/users", admin, map[string]any{"username": username, "name": "张联络", "role": "officer", "org_unit": unit})
	if status != 201 {
		t.Fatalf("create officer: %d %s", status, body)
	}
	var created struct {
		User       struct{ ID string }
		Activation struct{ Code string }
	}
	json.Unmarshal(body, &created)
	if status, body := api(t, "POST", base+"/v1/auth/activate", "", map[string]string{"code": created.Activation.Code, "password": password}); status != 200 {
		t.Fatalf("activate: %d %s", status, body)
	}
	return created.User.ID
}

// envInt reads a positive count from the environment (soak runs raise it).
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
