package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/servertest"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
)

// TestPeopleJourneys runs the people's journeys (e2e/people/*.test.mjs, in
// the order of their names) in a real Chromium against the real pairsyncd
// binary, built from this tree, started on an EMPTY data directory exactly
// as `make run` starts it: the administrator signs in with the password the
// server prints, and every step a person does is done through the screens
// (the journeys call the API only to read back and assert).
//
// The journeys share what the people chose (user names, passwords, names)
// through a JSON state file (PAIRSYNC_STATE): 10-firstday writes it, the
// later ones read it (e2e/people/state.mjs). A failing journey stops the
// ones after it, which depend on its state.
//
// For working on one later journey without re-running the first day,
// PAIRSYNC_JOURNEY_FROM=seed starts pairsyncd on a store seeded with the
// same people written straight into storage (seedPeople) and runs every
// journey but 10-firstday. make test never sets it.
func TestPeopleJourneys(t *testing.T) {
	needBrowser(t)

	files, err := filepath.Glob(filepath.Join("e2e", "people", "*.test.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	fromSeed := os.Getenv("PAIRSYNC_JOURNEY_FROM") == "seed"
	if fromSeed {
		var rest []string
		for _, f := range files {
			if !strings.HasPrefix(filepath.Base(f), "10-") {
				rest = append(rest, f)
			}
		}
		files = rest
	}
	if len(files) == 0 {
		t.Skip("no journeys in e2e/people yet")
	}

	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	state := filepath.Join(dir, "state.json")
	if fromSeed {
		seedPeople(t, dataDir, state)
	}
	// Notifications go to a webhook receiver of this test (25-told reads
	// what it received), and their links start with the server's address.
	hook := newJourneyHook(t)
	addr := freeAddr(t)
	url, printed := startPairsyncdWith(t, dir, dataDir, []string{"-addr", addr, "-public-url", "http://" + addr,
		"-notify-webhook-url", hook.url + "/hook"}, []string{"PAIRSYNC_NOTIFY_WEBHOOK_SECRET=" + journeyHookSecret})

	shots, err := filepath.Abs(filepath.Join("e2e", "screenshots", "people"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PAIRSYNC_URL=" + url,
		"PAIRSYNC_PRINTED_PASSWORD=" + printed,
		"PAIRSYNC_STATE=" + state,
		"PAIRSYNC_SCREENSHOTS=" + shots,
		"CHROMIUM=" + chromium,
		"PAIRSYNC_NOTIFIED=" + hook.url + "/received",
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".test.mjs")
		if !t.Run(name, func(t *testing.T) { node(t, env, "--test", "--test-concurrency=1", f) }) {
			t.Fatalf("journey %s failed: the journeys after it depend on its state and were not run", name)
		}
	}
}

// startPairsyncdWith builds pairsyncd from this tree (it embeds dist/, built
// by make web) and runs it on dataDir at 127.0.0.1 (port 0), as make run
// does, with more flags (a later -addr wins) and environment. It returns the
// URL and the first administrator's password the banner printed ("" when
// the store already had users).
func startPairsyncdWith(t *testing.T, dir, dataDir string, args, env []string) (url, password string) {
	t.Helper()
	bin := filepath.Join(dir, "pairsyncd")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "../../server/cmd/pairsyncd")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building pairsyncd: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"-addr", "127.0.0.1:0", "-data-dir", dataDir, "-log-level", "warn"}, args...)...)
	// A clean environment but for PATH and HOME: no PAIRSYNC_* setting of the
	// machine reaches the server (the password must be the printed one).
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "pairsyncd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cancel()
			<-done
		}
		cancel()
		logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("pairsyncd's log:\n%s", b)
			}
		}
	})

	openRe := regexp.MustCompile(`Open (http://\S+)`)
	passRe := regexp.MustCompile(`^\s*password:\s+(\S+)`)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("pairsyncd exited before printing its banner (url %q)", url)
			}
			t.Logf("pairsyncd: %s", line)
			if m := openRe.FindStringSubmatch(line); m != nil {
				url = m[1]
			}
			if m := passRe.FindStringSubmatch(line); m != nil {
				password = m[1]
			}
			if strings.HasPrefix(line, "API description:") {
				go func() {
					for range lines {
					}
				}()
				if url == "" {
					t.Fatal("pairsyncd's banner has no URL")
				}
				return url, password
			}
		case <-deadline:
			t.Fatal("pairsyncd printed no banner within 60 s")
		}
	}
}

// person is one entry of the journeys' state file (e2e/people/state.mjs).
type person struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Name     string `json:"name"`
	Phone    string `json:"phone,omitempty"`
}

// seedPeople writes into a new bolt store at dataDir what 10-firstday makes
// through the screens (an administrator, two officers, a contact, a
// counterparty and a pairing), and the state file describing them: for
// PAIRSYNC_JOURNEY_FROM=seed only.
func seedPeople(t *testing.T, dataDir, statePath string) {
	t.Helper()
	ctx := t.Context()
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(ctx, bolt.Config{Path: filepath.Join(dataDir, "pairsync.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	people := map[string]person{
		"admin":    {Username: "admin", Password: password, Name: "王管理"},
		"officerA": {Username: "zhangwei", Password: password, Name: "张伟", Phone: "13800000001"},
		"officerB": {Username: "lina", Password: password, Name: "李娜", Phone: "13800000002"},
		"contact":  {Username: "chenjl", Password: password, Name: "陈经理", Phone: "13900000001"},
	}
	roles := map[string]storage.User{
		"admin":    {ID: "u-admin", Role: "admin", OrgUnit: "root"},
		"officerA": {ID: "u-officerA", Role: "officer", OrgUnit: "unitA"},
		"officerB": {ID: "u-officerB", Role: "officer", OrgUnit: "unitA"},
		"contact":  {ID: "u-contact", Role: "contact", OrgUnit: "unitA", Counterparty: "cp-A"},
	}
	var users []storage.User
	for _, id := range []string{"admin", "officerA", "officerB", "contact"} {
		u, p := roles[id], people[id]
		u.Username, u.Name, u.Phone = p.Username, p.Name, p.Phone
		u.CreatedAt, u.UpdatedAt = time.Now(), time.Now()
		users = append(users, u)
	}
	servertest.Seed(t, db, nil, servertest.FastPasswords, webFixture(users, "u-contact"))
	st := map[string]any{
		"people":       people,
		"orgUnits":     map[string]string{"root": "市委组织部", "branch": "市税务局机关第一党支部"},
		"counterparty": map[string]string{"name": "南京星河电梯有限公司"},
		"pairing":      map[string]string{"name": "税务局一支部 ↔ 星河电梯"},
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(statePath, b, 0o600); err != nil {
		t.Fatal(fmt.Errorf("state: %w", err))
	}
}
