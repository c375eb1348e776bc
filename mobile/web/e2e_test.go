package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/mobile/web"
	"github.com/pairsync/pairsync/server"
	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
	"github.com/pairsync/pairsync/storage/files"
	"github.com/pairsync/pairsync/syncproto"
)

// The browser tests drive Debian's Chromium (never a downloaded one) with
// npm's playwright-core against a real pairsyncd on 127.0.0.1, serving the
// built app (make web). Outside CI they skip, saying why, when Chromium, Node
// or the build is missing; in CI (CI set) that is a failure: make test
// installs them (.ci/web).

const chromium = "/usr/bin/chromium"

const password = "correct-horse-9"

// fastPasswords keep sign-ins quick (production parameters are tested in
// server/auth).
var fastPasswords = auth.Params{MemoryKiB: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

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
	if raceDetector {
		t.Skip("skipping under the race detector: make test runs the browser journeys in a plain go test (see race_test.go)")
	}
	need(t, exists(chromium), "Chromium is not installed at "+chromium)
	_, err := exec.LookPath("node")
	need(t, err == nil, "node is not installed (the web app needs Node 20)")
	need(t, exists("node_modules/playwright-core"), "mobile/web's npm packages are not installed (npm ci)")
	need(t, exists("dist/index.html") && exists("dist/sw.js"), "the web app is not built (make web)")

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
// on 127.0.0.1 serving the built app from dist/, with one pairing p1: two
// officers (officerA primary, officerB), the contact contactA of cp-A, and
// the administrator adminA of the unit.
type world struct {
	url string
	db  *bolt.DB
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	db, err := bolt.Open(ctx, bolt.Config{Path: filepath.Join(dir, "pairsync.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	photos, err := files.Open(filepath.Join(dir, "photos"))
	if err != nil {
		t.Fatal(err)
	}
	// The app as built on disk (make web), not as embedded when this test
	// binary was compiled.
	srv, err := server.New(server.Config{}, server.Deps{Store: db, Photos: photos, PasswordParams: fastPasswords, Web: os.DirFS("dist")})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	w := &world{url: "http://" + ln.Addr().String(), db: db}

	for _, u := range []storage.OrgUnit{
		{ID: "root", Name: "市委组织部", Kind: "committee"},
		{ID: "unitA", ParentID: "root", Name: "市税务局机关第一党支部", Kind: "branch"},
	} {
		if _, err := db.CreateOrgUnit(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	phc, err := auth.NewHasher(fastPasswords, 1).Hash(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []storage.User{
		{ID: "u-adminA", Username: "adminA", Name: "王管理", Role: "admin", OrgUnit: "unitA"},
		{ID: "u-officerA", Username: "officerA", Name: "张伟", Role: "officer", OrgUnit: "unitA"},
		{ID: "u-officerB", Username: "officerB", Name: "李娜", Role: "officer", OrgUnit: "unitA"},
		{ID: "u-contactA", Username: "contactA", Name: "陈经理", Role: "contact", OrgUnit: "unitA", Counterparty: "cp-A"},
	} {
		u.PasswordHash = phc
		u.CreatedAt, u.UpdatedAt = time.Now(), time.Now()
		if _, err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	dw := &syncproto.Writer{Replica: "srv-webtest"}
	w.dirSet(t, dw, "counterparties", "cp-A", map[string]any{"name": "南京星河电梯有限公司", "kind": "enterprise", "org_unit": "unitA"})
	w.dirSet(t, dw, "pairings", "p1", map[string]any{"name": "税务局一支部 ↔ 星河电梯", "status": "active", "branches": []string{"unitA"},
		"counterparties": []string{"cp-A"}, "contacts": []string{"u-contactA"},
		"officers": []map[string]any{{"user_id": "u-officerA", "primary": true}, {"user_id": "u-officerB", "primary": false}}})
	return w
}

// dirSet writes a directory record through the store's commit path, as the
// server's own writes are committed (see mobile/world_test.go).
func (w *world) dirSet(t *testing.T, dw *syncproto.Writer, coll, id string, fields map[string]any) {
	t.Helper()
	ctx := t.Context()
	k := storage.Key{Collection: coll, ID: id}
	cur := syncproto.NewRecord(coll, id, "_directory")
	var expect uint64
	sr, err := w.db.Get(ctx, k)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		t.Fatal(err)
	default:
		if cur, err = syncproto.DecodeRecord(sr.Data, syncproto.Limits{}); err != nil {
			t.Fatal(err)
		}
		expect = sr.Seq
	}
	values := map[string]json.RawMessage{}
	for k, v := range fields {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		values[k] = b
	}
	next, _, err := dw.Set(cur, values, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data, err := syncproto.Encode(next)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.Commit(ctx, storage.Batch{Pairing: "_directory", Puts: []storage.Put{{Key: k, Expect: expect, Data: data}}}); err != nil {
		t.Fatal(err)
	}
}

// TestDistEmbedded: the embedded folder is there on a fresh clone (its
// placeholder), so go build ./... works without the web build.
func TestDistEmbedded(t *testing.T) {
	if _, err := fs.Stat(web.Dist(), "BUILD.txt"); err != nil {
		t.Fatalf("dist/BUILD.txt is not embedded: %v", err)
	}
}
