package web_test

import (
	"bufio"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/mobile/web"
	"github.com/pairsync/pairsync/server"
	"github.com/pairsync/pairsync/server/servertest"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
	"github.com/pairsync/pairsync/syncproto"
)

// The browser tests drive Debian's Chromium (never a downloaded one) with
// npm's playwright-core against a real pairsyncd on 127.0.0.1, serving the
// built app (make web). Outside CI they skip, saying why, when Chromium, Node
// or the build is missing; in CI (CI set) that is a failure: make test
// installs them (.ci/web).

const chromium = "/usr/bin/chromium"

const password = servertest.Password

// need skips (or, in CI, fails) when a prerequisite is missing.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set: make test installs it through .ci/web)", what)
	}
	t.Skipf("skipping: %s (make test installs it through .ci/web)", what)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// node runs node with args in this folder, streaming its output to the test
// log, and fails the test if it fails.
func node(t *testing.T, env []string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var failed []string
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		if strings.HasPrefix(strings.TrimSpace(line), "not ok") {
			failed = append(failed, strings.TrimSpace(line))
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node %s: %v; failed: %v", strings.Join(args, " "), err, failed)
	}
}

// needBrowser skips the browser journeys under the race detector, and skips
// (or, in CI, fails) them when Chromium, Node, the npm packages or the
// built app is missing.
func needBrowser(t *testing.T) {
	t.Helper()
	if raceDetector {
		t.Skip("skipping under the race detector: make test runs the browser journeys in a plain go test (see race_test.go)")
	}
	need(t, exists(chromium), "Chromium is not installed at "+chromium)
	_, err := exec.LookPath("node")
	need(t, err == nil, "node is not installed (the web app needs Node 20)")
	need(t, exists("node_modules/playwright-core"), "mobile/web's npm packages are not installed (npm ci)")
	need(t, exists("dist/index.html") && exists("dist/sw.js"), "the web app is not built (make web)")
}

// TestWasmGoldenVectors builds syncproto.wasm from this tree and runs
// syncproto's golden vectors through it in node (test/golden.test.mjs).
func TestWasmGoldenVectors(t *testing.T) {
	_, err := exec.LookPath("node")
	need(t, err == nil, "node is not installed (the web app needs Node 20)")
	dir := t.TempDir()
	wasm := filepath.Join(dir, "syncproto.wasm")
	build := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-ldflags=-s -w", "-o", wasm, "../wasm")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the wasm: %v\n%s", err, out)
	}
	goroot, err := exec.CommandContext(t.Context(), "go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	execJS := filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js")
	node(t, []string{"SYNCPROTO_WASM=" + wasm, "WASM_EXEC_JS=" + execJS}, "--test", "test/")
}

// TestBrowserJourneys runs the field app's journeys (e2e/journeys.test.mjs:
// an officer records a visit with photos and an issue offline and syncs it;
// the contact confirms and rates the issue; two officers edit one visit
// offline, different fields, then the same field) and the administrators'
// console's (e2e/console.test.mjs: every screen with seeded data, the
// overview's figures against the report API, each figure's records against
// the list APIs, a dispatch that officerC's phone receives, a verification
// seen on the board and in the export).
func TestBrowserJourneys(t *testing.T) {
	needBrowser(t)

	w := newWorld(t)
	seed := seedConsole(t, w)
	shots := filepath.Join("e2e", "screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PAIRSYNC_URL=" + w.url,
		"PAIRSYNC_PASSWORD=" + password,
		"PAIRSYNC_OFFICER_A=officerA", "PAIRSYNC_OFFICER_B=officerB", "PAIRSYNC_CONTACT=contactA", "PAIRSYNC_ADMIN=adminA",
		"PAIRSYNC_PAIRING=p1",
		"PAIRSYNC_SCREENSHOTS=" + shots,
		"CHROMIUM=" + chromium,
	}
	t.Run("field", func(t *testing.T) { node(t, env, "--test", "--test-concurrency=1", "e2e/journeys.test.mjs") })
	t.Run("console", func(t *testing.T) { consoleJourneys(t, w, seed, env) })
}

// world is a real pairsyncd (server.New on a bolt file and a photo folder)
// on 127.0.0.1 serving the built app from dist/, on the servertest world
// of webFixture: one pairing p1 with two officers (officerA primary,
// officerB), the contact contactA of cp-A, and the administrator adminA of
// the unit.
type world struct {
	url string
	db  *bolt.DB
}

func newWorld(t *testing.T) *world {
	t.Helper()
	now := time.Now()
	users := []storage.User{
		{ID: "u-adminA", Username: "adminA", Name: "王管理", Role: "admin", OrgUnit: "unitA", CreatedAt: now, UpdatedAt: now},
		{ID: "u-officerA", Username: "officerA", Name: "张伟", Role: "officer", OrgUnit: "unitA", CreatedAt: now, UpdatedAt: now},
		{ID: "u-officerB", Username: "officerB", Name: "李娜", Role: "officer", OrgUnit: "unitA", CreatedAt: now, UpdatedAt: now},
		{ID: "u-contactA", Username: "contactA", Name: "陈经理", Role: "contact", OrgUnit: "unitA", Counterparty: "cp-A", CreatedAt: now, UpdatedAt: now},
	}
	sw := servertest.New(t, servertest.Options{Fixture: webFixture(users, "u-contactA")})
	// The app as built on disk (make web), not as embedded when this test
	// binary was compiled.
	srv, err := server.New(server.Config{}, server.Deps{Store: sw.Store, Photos: sw.Photos, PasswordParams: sw.PasswordParams, Web: os.DirFS("dist")})
	if err != nil {
		t.Fatal(err)
	}
	return &world{url: sw.Serve(srv), db: sw.DB}
}

// webFixture is the org tree root → unitA (a Party branch), users, and the
// counterparty cp-A paired with unitA in p1 (officerA primary, officerB,
// and contact), as the people's first day makes them.
func webFixture(users []storage.User, contact string) servertest.Fixture {
	return servertest.Fixture{
		Units: []storage.OrgUnit{
			{ID: "root", Name: "市委组织部", Kind: "committee"},
			{ID: "unitA", ParentID: "root", Name: "市税务局机关第一党支部", Kind: "branch"},
		},
		Users: users,
		Directory: []servertest.Record{
			{Collection: "counterparties", ID: "cp-A", Fields: map[string]any{"name": "南京星河电梯有限公司", "kind": "enterprise", "org_unit": "unitA"}},
			{Collection: "pairings", ID: "p1", Fields: map[string]any{"name": "税务局一支部 ↔ 星河电梯", "status": "active", "branches": []string{"unitA"},
				"counterparties": []string{"cp-A"}, "contacts": []string{contact},
				"officers": []map[string]any{{"user_id": "u-officerA", "primary": true}, {"user_id": "u-officerB", "primary": false}}}},
		},
	}
}

// dirSet writes a directory record through the store's commit path, as the
// server's own writes are committed, stamped by dw.
func (w *world) dirSet(t *testing.T, dw *syncproto.Writer, coll, id string, fields map[string]any) {
	t.Helper()
	servertest.DirSet(t, w.db, dw, coll, id, fields)
}

// TestDistEmbedded: the embedded folder is there on a fresh clone (its
// placeholder), so go build ./... works without the web build.
func TestDistEmbedded(t *testing.T) {
	if _, err := fs.Stat(web.Dist(), "BUILD.txt"); err != nil {
		t.Fatalf("dist/BUILD.txt is not embedded: %v", err)
	}
}
