package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server"
	"github.com/pairsync/pairsync/server/servertest"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
	"github.com/pairsync/pairsync/syncproto"
)

// The real server in-process on 127.0.0.1, with the domain's rules (as
// pairsyncd runs it), on a bolt file: the servertest world EveryRole, with
// officers officer001…officer006 added to unitA, and pairings written
// straight into the directory scope.
//
//	p1: unitA, officerA and officer001…officer006, counterparty cp-A
//	p2: unitA, officerA only, counterparty cp-B

const testPassword = servertest.Password

type testServer struct {
	*servertest.World
	t   *testing.T
	db  *bolt.DB
	srv *server.Server
	url string
}

func (s *testServer) stop() { s.Stop() }

func newServer(t *testing.T) *testServer {
	t.Helper()
	f := servertest.EveryRole()
	officers := []map[string]any{{"user_id": "u-officerA", "primary": true}}
	for i := 1; i <= 6; i++ {
		name := fmt.Sprintf("officer%03d", i)
		f.Users = append(f.Users, storage.User{ID: "u-" + name, Username: name, Name: "联络员 " + name, Role: "officer", OrgUnit: "unitA"})
		officers = append(officers, map[string]any{"user_id": "u-" + name})
	}
	f.Directory = []servertest.Record{
		{Collection: "counterparties", ID: "cp-A", Fields: map[string]any{"name": "南京某精密机械有限公司", "kind": "enterprise", "org_unit": "unitA"}},
		{Collection: "counterparties", ID: "cp-B", Fields: map[string]any{"name": "某某社区", "kind": "community", "org_unit": "unitA"}},
		{Collection: "pairings", ID: "p1", Fields: map[string]any{"name": "结对 p1", "status": "active", "branches": []string{"unitA"},
			"counterparties": []string{"cp-A"}, "officers": officers}},
		{Collection: "pairings", ID: "p2", Fields: map[string]any{"name": "结对 p2", "status": "active", "branches": []string{"unitA"},
			"counterparties": []string{"cp-B"}, "officers": officers[:1]}},
	}
	w := servertest.New(t, servertest.Options{Fixture: f})
	srv, err := server.New(server.Config{}, server.Deps{Store: w.Store, Photos: w.Photos, PasswordParams: w.PasswordParams})
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{World: w, t: t, db: w.DB, srv: srv, url: w.Serve(srv)}
}

// record returns the server's version of a record.
func (s *testServer) record(coll, id string) (syncproto.Record, bool) {
	s.t.Helper()
	return s.Record(coll, id)
}

// fieldctl runs the command as a function, with an environment of its own.
type fieldctl struct {
	t   *testing.T
	env map[string]string
}

func newFieldctl(t *testing.T, s *testServer, user string) *fieldctl {
	return &fieldctl{t: t, env: map[string]string{
		"HOME": t.TempDir(), envServer: s.url, envUser: user, envPassword: testPassword,
	}}
}

func (f *fieldctl) run(args ...string) (int, string, string) {
	f.t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut, func(k string) string { return f.env[k] })
	for _, leak := range []string{testPassword, "eyJ"} { // the password, a JWT
		if strings.Contains(out.String()+errOut.String(), leak) {
			f.t.Errorf("fieldctl %s printed a secret (%q):\n%s\n%s", strings.Join(args, " "), leak, out.String(), errOut.String())
		}
	}
	return code, out.String(), errOut.String()
}

// ok runs a command that must succeed and returns its stdout.
func (f *fieldctl) ok(args ...string) string {
	f.t.Helper()
	code, out, errOut := f.run(args...)
	if code != 0 {
		f.t.Fatalf("fieldctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func writeJPEG(t *testing.T, path string, w, h int) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, color.RGBA{uint8(x * 3), uint8(y * 5), uint8(x ^ y), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var idPattern = regexp.MustCompile(`(?m)^(visit|issue|event) ([0-9a-f-]{36})`)

// ids returns the ids a command printed, by kind.
func ids(out string) map[string][]string {
	m := map[string][]string{}
	for _, g := range idPattern.FindAllStringSubmatch(out, -1) {
		m[g[1]] = append(m[g[1]], g[2])
	}
	return m
}

// TestFieldWork: login → a visit with a photo and an issue → sync → the
// server has the visit (valid under the domain's rules), the issue and the
// photo; an event on the issue; a refused change shows in rejected.
func TestFieldWork(t *testing.T) {
	s := newServer(t)
	f := newFieldctl(t, s, "officerA")
	if code, _, errOut := f.run("pairings"); code != 1 || !strings.Contains(errOut, "fieldctl login") {
		t.Fatalf("before login: exit %d, %s; want 1 and a hint to log in", code, errOut)
	}
	out := f.ok("login", "-device", "测试终端")
	if !strings.Contains(out, "as officerA (officer") {
		t.Fatalf("login: %s", out)
	}
	if out := f.ok("pairings"); !strings.Contains(out, "no pairings synced") {
		t.Fatalf("pairings before sync: %s", out)
	}
	code, out, errOut := f.run("sync")
	if code != 0 || !strings.Contains(errOut, "p1: caught up to sequence 0") || !strings.Contains(out, "pulled") {
		t.Fatalf("first sync: exit %d\n%s\n%s", code, out, errOut)
	}
	if out := f.ok("pairings"); !strings.Contains(out, "p1") || !strings.Contains(out, "结对 p2") {
		t.Fatalf("pairings: %s", out)
	}

	photo := filepath.Join(t.TempDir(), "现场.jpg")
	data := writeJPEG(t, photo, 160, 120)
	out = f.ok("visit", "-pairing", "p1", "-mode", "onsite", "-title", "走访了解用工情况", "-notes", "企业反映招工难，已记录。",
		"-lat", "32.05", "-lng", "118.78", "-accuracy", "15", "-photo", photo, "-issue", "招工难:talent")
	got := ids(out)
	if len(got["visit"]) != 1 || len(got["issue"]) != 1 {
		t.Fatalf("visit: %s", out)
	}
	vid, iid := got["visit"][0], got["issue"][0]
	if out := f.ok("status"); !strings.Contains(out, "pending 2 changes, 1 photos") {
		t.Fatalf("status with pending work: %s", out)
	}
	code, out, errOut = f.run("sync")
	if code != 0 || !strings.Contains(out, "pushed 2 changes (0 rejected)") || !strings.Contains(out, "photos 1/1 stored") ||
		!strings.Contains(errOut, "[photos]") || !strings.Contains(errOut, "p1: caught up to sequence 2") {
		t.Fatalf("sync: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	t.Logf("sync stderr:\n%s", errOut)
	v, ok := s.record("visits", vid)
	if !ok || str(v, "mode") != "onsite" || str(v, "counterparty") != "cp-A" || !strings.Contains(string(v.Value("officers")), "u-officerA") ||
		!strings.Contains(string(v.Value("issues")), iid) || !strings.Contains(string(v.Value("location")), `"accuracy_m":15`) {
		t.Fatalf("the server's visit: %v %+v", ok, v.Fields)
	}
	if str(v, "received_at") == "" {
		t.Error("the server did not stamp received_at: the visit went through the domain's rules?")
	}
	var manifest []struct {
		SHA256 string `json:"sha256"`
		Width  int    `json:"width"`
	}
	if err := json.Unmarshal(v.Value("photos"), &manifest); err != nil || len(manifest) != 1 || manifest[0].Width != 160 {
		t.Fatalf("manifest: %s", v.Value("photos"))
	}
	receipt, ok := s.record("photos", manifest[0].SHA256)
	if !ok || string(receipt.Value("stored")) != "true" || string(receipt.Value("size")) != fmt.Sprint(len(data)) {
		t.Fatalf("photo receipt: %v %+v", ok, receipt.Fields)
	}
	if is, ok := s.record("issues", iid); !ok || str(is, "category") != "talent" || str(is, "raised_by") != "u-officerA" {
		t.Fatalf("the server's issue: %v %+v", ok, is.Fields)
	}

	out = f.ok("event", "-issue", iid, "-type", "accepted", "-note", "已受理")
	eid := ids(out)["event"]
	if len(eid) != 1 {
		t.Fatalf("event: %s", out)
	}
	// A change the server refuses: a visit without its required fields.
	f.ok("set", "-collection", "visits", "-id", "bad-visit", "-pairing", "p1", "-json", `{"notes":"缺少必填项"}`)
	recs := filepath.Join(t.TempDir(), "records.json")
	if err := os.WriteFile(recs, []byte(`[{"collection":"comments","id":"c1","pairing":"p1","fields":{"target_kind":"visit","target":"`+vid+`","text":"补充说明","by":"u-officerA","at":"`+time.Now().UTC().Format(time.RFC3339)+`"}}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	f.ok("set", "-file", recs)
	out = f.ok("sync", "-q")
	if !strings.Contains(out, "pushed 3 changes (1 rejected)") || !strings.Contains(out, "fieldctl rejected") {
		t.Fatalf("sync with a bad change: %s", out)
	}
	if _, ok := s.record("issue_events", eid[0]); !ok {
		t.Fatal("the event is not on the server")
	}
	if _, ok := s.record("comments", "c1"); !ok {
		t.Fatal("the comment from -file is not on the server")
	}
	if out := f.ok("rejected"); !strings.Contains(out, "visits/bad-visit") || !strings.Contains(out, "validation_failed") {
		t.Fatalf("rejected: %s", out)
	}
	if out := f.ok("conflicts"); !strings.Contains(out, "no conflicts") {
		t.Fatalf("conflicts: %s", out)
	}
	if out := f.ok("status"); !strings.Contains(out, "caught up (2 pairings)") {
		t.Fatalf("status: %s", out)
	}
}

// TestOffline: with the server gone, status says offline and what is
// pending; local writes work.
func TestOffline(t *testing.T) {
	s := newServer(t)
	f := newFieldctl(t, s, "officer001")
	f.ok("login")
	f.ok("sync", "-q")
	s.stop()
	f.ok("visit", "-pairing", "p1", "-mode", "phone", "-notes", "电话回访")
	out := f.ok("status", "-timeout", "2s")
	if !strings.Contains(out, "offline:") || !strings.Contains(out, "pending 1 changes, 0 photos") {
		t.Fatalf("status offline: %s", out)
	}
	if code, _, errOut := f.run("sync", "-q"); code != 1 || !strings.Contains(errOut, "fieldctl sync:") {
		t.Fatalf("sync offline: exit %d, %s; want 1 and the error", code, errOut)
	}
}

// TestUsage: every command answers -h; mistakes exit 2 with a hint.
func TestUsage(t *testing.T) {
	f := &fieldctl{t: t, env: map[string]string{"HOME": t.TempDir()}}
	for _, cmd := range commands() {
		code, out, errOut := f.run(cmd.name, "-h")
		if code != 0 || out != "" || !strings.Contains(errOut, "usage: fieldctl "+cmd.name) || !strings.Contains(errOut, "-server") {
			t.Errorf("%s -h: exit %d, stderr %q", cmd.name, code, errOut)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "commands:"},
		{[]string{"fly"}, "unknown command"},
		{[]string{"visit", "-mode", "flying", "-pairing", "p1"}, "-mode \"flying\""},
		{[]string{"visit", "-issue", "no category"}, "title:category"},
		{[]string{"login", "-user", "x"}, "no password"},
		{[]string{"load", "-devices", "0", "-server", "http://x"}, "-devices 0"},
		{[]string{"sync", "extra"}, "unexpected argument"},
	} {
		code, _, errOut := f.run(tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("fieldctl %v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestLoad: simulated devices against the real server: every mode runs,
// prints percentiles, and makes no errors.
func TestLoad(t *testing.T) {
	s := newServer(t)
	f := newFieldctl(t, s, "")
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, r report)
	}{
		{"steady", []string{"-devices", "5", "-duration", "3s", "-interval", "500ms"}, func(t *testing.T, r report) {
			if r.Changes < 10 || r.Latency["push"].Count < 5 || r.Latency["pull"].Count < 5 || r.Latency["push"].P50 <= 0 || r.Pulled == 0 {
				t.Errorf("want pushes and pulls measured: %+v", r)
			}
		}},
		{"push-burst", []string{"-mode", "push-burst", "-devices", "3", "-changes", "40", "-batch", "10", "-duration", "30s"}, func(t *testing.T, r report) {
			if r.Changes != 120 || r.Latency["push"].Count != 12 || r.Syncs != 3 {
				t.Errorf("want 3×40 changes in 12 pushes of 10: %+v", r)
			}
		}},
		{"idle", []string{"-mode", "idle", "-devices", "4", "-duration", "10s"}, func(t *testing.T, r report) {
			if r.Changes != 0 || r.Syncs != 4 || r.Latency["server"].Count != 4 || r.BytesPerSync <= 0 {
				t.Errorf("want 4 idle syncs of one request each, with server times and bytes: %+v", r)
			}
		}},
		{"hot-pairing with photos", []string{"-mode", "hot-pairing", "-devices", "3", "-duration", "2s", "-interval", "400ms", "-photos", "-photo-kb", "20"}, func(t *testing.T, r report) {
			// Each sync sends its two photos, but the run's bound may cut the
			// last sync of a device (slow machines, the race detector).
			syncs := r.Latency["sync"].Count
			if r.Pairing != "p1" || r.Photos == 0 || r.Photos > 2*syncs || r.Photos < 2*(syncs-3) || r.Latency["photo"].Count == 0 {
				t.Errorf("want every device on p1, 2 photos a sync stored: %+v", r)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"load", "-users", "officer%03d", "-json"}, tc.args...)
			code, out, errOut := f.run(args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			var r report
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("JSON: %v\n%s", err, out)
			}
			if r.Errors != 0 || r.Rejected != 0 {
				t.Errorf("errors %d, rejected %d: %v %v", r.Errors, r.Rejected, r.Failures, r.Samples)
			}
			tc.check(t, r)
			var text bytes.Buffer
			r.print(&text)
			t.Logf("\n%s", text.String())
		})
	}
	// The text form.
	code, out, _ := f.run("load", "-users", "officer%03d", "-devices", "2", "-duration", "1s", "-interval", "300ms")
	if code != 0 || !regexp.MustCompile(`push requests\s+\d+\s+p50 [\d.]+ms\s+p95`).MatchString(out) || !strings.Contains(out, "errors           0") {
		t.Fatalf("text report: exit %d\n%s", code, out)
	}
}
