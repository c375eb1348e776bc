package server

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
	"github.com/pairsync/pairsync/storage/files"
	"github.com/pairsync/pairsync/syncproto"
)

// The seeded convergence simulation: whatever the network and the phones
// do, every device ends holding exactly the server's records.
//
// Nine devices (officers, contacts, an administrator and a viewer, some
// users with two phones) sync three pairings whose audiences overlap,
// through the real push and pull handlers (driven in-process with
// App().Test, no sockets) on a real bolt file. Each device is a faithful
// client of the rules in syncproto/doc.go (simDevice): a Writer, a base per
// record, an outbox of pending writes, a cursor; its view of a record is
// always syncproto.Rebuild(base, pending). Between the requests, the
// simulation injects the faults of the network and of the phones:
//
//   - offline windows: a device makes local writes only, for many steps;
//   - a push request dropped (never reaches the server; the client retries);
//   - a push request delayed: the client gives up on it and retries, and
//     the old body reaches the server later, out of order;
//   - a push request duplicated, the two copies sent concurrently (both
//     answers must be identical, byte for byte);
//   - a stale copy of a delivered push replayed much later;
//   - the answer lost after the commit (the server committed; the client
//     never learns it and pushes the same write again, rebuilt on a base
//     that may have seen it already: then as a stand-in, see buildPush);
//   - pull requests dropped or their answers lost, and pull pages of 1–5
//     records so that paging across pairings is exercised;
//   - bursts: several devices push at the same moment, concurrently;
//   - device clocks skewed by up to ±48 h, sometimes jumping;
//   - a few writes the policy forbids (a contact's visit, an officer's
//     rating, a viewer's anything, a pairing the user is not in);
//   - administrators' writes through the server's own commit path
//     (writeRecord, the server's replica id) to the shared issues, and
//     renames of pairings in the directory.
//
// After quiescence (every delayed request delivered, every device pushes
// until its outbox is empty, then two rounds of pulls), it checks:
//
//  1. every device holds, for every pairing it may see (and for the
//     directory records meant for it), exactly the server's records,
//     byte for byte, and nothing else; the second pull round brings
//     nothing new;
//  2. every acknowledged write is visible, in a conflict entry, or
//     superseded by an acknowledged write that had seen it (see
//     simCheckWrite for the precise rule); no rejected write left a
//     trace on the server;
//  3. every server record is exactly the join (syncproto.Merge) of the
//     changes pushed for the writes it accepted: nothing lost, nothing
//     invented;
//  4. exactly-once: every answer to a given dot, whether first, replayed,
//     duplicated or delayed, is the same Result; a replay after
//     quiescence moves no sequence;
//  5. a write is rejected exactly when the policy oracle (the fixture's
//     own table of who may write what where) forbids it.
//
// Seeds: -sim.seeds N (default 500; 50 with -short; 100 under -race, see
// simDefaultSeeds), or PAIRSYNC_SIM_SEEDS=N (make soak: 20000); replay one
// with -sim.seed N (or PAIRSYNC_SIM_SEED=N), which also prints the trace.

var (
	flagSimSeeds = flag.Int("sim.seeds", 0, "convergence simulation: how many seeds to run (default 500, 50 with -short, 100 under -race; env PAIRSYNC_SIM_SEEDS)")
	flagSimSeed  = flag.Uint64("sim.seed", 0, "convergence simulation: replay this one seed, with its trace (env PAIRSYNC_SIM_SEED)")
)

// simRaceEnabled reports whether the test binary was built with -race. The
// build settings recorded in the binary say so ("-race" = "true"), which
// needs no build-tagged file pair (this simulation lives in one file).
func simRaceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// simDefaultSeeds: 500 seeds in a normal run (about 30 s on two cores, the
// most a normal run may spend on it), 50 with -short. Under -race every request is 3–4 times slower
// (500 seeds ≈ 90 s, added to every `make test`), so the default there is
// 100 seeds, which still put a few hundred concurrent duplicates and
// bursts under the detector; the 500, or the 20,000 of `make soak`, are
// runs without -race. An explicit -sim.seeds or PAIRSYNC_SIM_SEEDS wins.
func simDefaultSeeds() int {
	switch {
	case testing.Short():
		return 50
	case simRaceEnabled():
		return 100
	}
	return 500
}

func simSeedList(t *testing.T) (seeds []uint64, replay bool) {
	if *flagSimSeed != 0 {
		return []uint64{*flagSimSeed}, true
	}
	if v := os.Getenv("PAIRSYNC_SIM_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			t.Fatalf("PAIRSYNC_SIM_SEED=%q: want a seed ≥ 1", v)
		}
		return []uint64{n}, true
	}
	n := simDefaultSeeds()
	if v := os.Getenv("PAIRSYNC_SIM_SEEDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("PAIRSYNC_SIM_SEEDS=%q: want a count ≥ 1", v)
		}
	}
	if *flagSimSeeds > 0 {
		n = *flagSimSeeds
	}
	for s := 1; s <= n; s++ {
		seeds = append(seeds, uint64(s))
	}
	return seeds, false
}

// ---------------------------------------------------------------------------
// The world: users, pairings, devices, and the policy oracle.

// simServerTime is the server's clock, fixed for the whole run: the server
// uses its clock only for tokens and LastSeen (HLCs come from the devices),
// and a fixed clock keeps the template's access tokens valid in every seed.
var simServerTime = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

type simUser struct{ key, role, unit, cp string }

type simPairing struct {
	id       string
	units    []string
	cps      []string
	officers []string // user keys
}

var simUsers = []simUser{
	{"officerA", "officer", "unitA", ""},
	{"officerB", "officer", "unitB", ""},
	{"contactA", "contact", "unitA", "cp-A"},
	{"contactB", "contact", "unitB", "cp-B"},
	{"contactC", "contact", "unitB", "cp-C"},
	{"adminB", "admin", "unitB", ""},
	{"viewerA", "viewer", "unitA", ""},
}

// p1 (unit A, cp-A), p2 (unit B, cp-B) as in pairingsFixture, and p3, shared
// by both units, with cp-A and cp-C and both officers: audiences overlap.
var simPairings = []simPairing{
	{"p1", []string{"unitA"}, []string{"cp-A"}, []string{"officerA"}},
	{"p2", []string{"unitB"}, []string{"cp-B"}, []string{"officerB"}},
	{"p3", []string{"unitA", "unitB"}, []string{"cp-A", "cp-C"}, []string{"officerA", "officerB"}},
}

// simDeviceSpecs: replica ids are fixed (devices are created in storage,
// then signed in through the login route with their device_id), so a seed
// replays identically: equal HLCs are broken by replica id.
var simDeviceSpecs = []struct{ id, user string }{
	{"d1-officerA", "officerA"},
	{"d2-officerA", "officerA"},
	{"d3-officerB", "officerB"},
	{"d4-contactA", "contactA"},
	{"d5-contactA", "contactA"},
	{"d6-contactB", "contactB"},
	{"d7-contactC", "contactC"},
	{"d8-adminB", "adminB"},
	{"d9-viewerA", "viewerA"},
}

// simWriters is the oracle's table of who may write which synced
// collection (ARCHITECTURE.md): written out here rather than read
// from package pairing, so that the test checks the server against it.
var simWriters = map[string][]string{
	"visits":       {"officer", "admin"},
	"issues":       {"officer", "contact", "admin"},
	"issue_events": {"officer", "contact", "admin"},
	"comments":     {"officer", "contact", "admin"},
	// Officers record ratings only with the contact's code: a domain rule
	// (pairing.CheckWrite), off in these protocol tests.
	"ratings": {"contact", "officer"},
}

var simCollections = []string{"comments", "issue_events", "issues", "ratings", "visits"}

func simUserByKey(key string) simUser {
	for _, u := range simUsers {
		if u.key == key {
			return u
		}
	}
	panic("unknown sim user " + key)
}

// sees is the visibility oracle: officers see the pairings they are
// assigned to, contacts those of their counterparty, admins and viewers
// those with a branch in their unit.
func (u simUser) sees(p simPairing) bool {
	switch u.role {
	case "officer":
		return slices.Contains(p.officers, u.key)
	case "contact":
		return slices.Contains(p.cps, u.cp)
	case "admin", "viewer":
		return slices.Contains(p.units, u.unit)
	}
	return false
}

func (u simUser) seesID(pid string) bool {
	for _, p := range simPairings {
		if p.id == pid {
			return u.sees(p)
		}
	}
	return false
}

func (u simUser) mayWrite(coll string) bool { return slices.Contains(simWriters[coll], u.role) }

// mayRead: contacts do not receive the officers' visits (DOMAIN.md:
// contacts see their pairing's issues and projects).
func (u simUser) mayRead(coll string) bool { return u.role != "contact" || coll != "visits" }

// seesDirectory: the directory records a user receives: the pairings they
// see, the counterparties of those, and a contact's own counterparty.
func (u simUser) seesDirectory(coll, id string) bool {
	switch coll {
	case pairing.CollPairings:
		return u.seesID(id)
	case pairing.CollCounterparties:
		if u.role == "contact" && u.cp == id {
			return true
		}
		for _, p := range simPairings {
			if u.sees(p) && slices.Contains(p.cps, id) {
				return true
			}
		}
	}
	return false
}

// expectedRejection is the oracle's answer for a write: "" when allowed.
func (u simUser) expectedRejection(pid, coll string) syncproto.Code {
	if !u.seesID(pid) {
		return syncproto.CodeOutOfScope
	}
	if !u.mayWrite(coll) {
		return syncproto.CodeForbidden
	}
	return ""
}

// ---------------------------------------------------------------------------
// The environment: a template bolt file built once (org units, users,
// devices, the pairings and counterparties committed through the server's
// own commit path as pairingsFixture does, a signing key, and access tokens
// bound to each device, from the real login route), copied for every seed:
// a fresh bolt file and a fresh Server per seed, without paying for a
// password hash per device per seed.

type simTemplate struct {
	data   []byte // the bolt file
	tokens map[string]string
	photos *files.Store
	dir    string
}

// simFastDB opens a bolt file with NoSync: a crash would lose the file, but
// the simulation never crashes the machine, and fsync per commit would make
// the thousands of seeds of `make soak` take hours. Transactions, the
// single writer and every code path of the adapter are the real ones.
func simFastDB(path string) (*bolt.DB, error) {
	return bolt.Open(context.Background(), bolt.Config{Path: path, NoSync: true})
}

func simNewServer(db *bolt.DB, photos *files.Store) (*Server, error) {
	return New(Config{}, Deps{Store: db, Photos: photos, Now: func() time.Time { return simServerTime }, PasswordParams: fastPasswords, ProtocolOnly: true})
}

func buildSimTemplate(t *testing.T) *simTemplate {
	t.Helper()
	dir := t.TempDir()
	photos, err := files.Open(filepath.Join(dir, "photos"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "template.db")
	db, err := simFastDB(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := simNewServer(db, photos)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, u := range []storage.OrgUnit{{ID: "root", Name: "市委", Kind: "committee"},
		{ID: "unitA", ParentID: "root", Name: "单位 A", Kind: "department"},
		{ID: "unitB", ParentID: "root", Name: "单位 B", Kind: "department"}} {
		if _, err := db.CreateOrgUnit(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	phc, err := auth.NewHasher(fastPasswords, 1).Hash(ctx, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range simUsers {
		if _, err := db.CreateUser(ctx, storage.User{ID: "u-" + u.key, Username: u.key, Name: u.key, Role: u.role,
			OrgUnit: u.unit, Counterparty: u.cp, PasswordHash: phc}); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range simDeviceSpecs {
		if _, err := db.CreateDevice(ctx, storage.Device{ID: d.id, UserID: "u-" + d.user, Name: d.user + " 的手机", CreatedAt: simServerTime}); err != nil {
			t.Fatal(err)
		}
	}
	cps := map[string]bool{}
	for _, p := range simPairings {
		var officers []map[string]any
		for i, o := range p.officers {
			officers = append(officers, map[string]any{"user_id": "u-" + o, "primary": i == 0})
		}
		vals, err := jsonValues(map[string]any{"name": "结对 " + p.id, "status": pairing.StatusActive, "branches": p.units,
			"counterparties": p.cps, "officers": officers})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.writeRecord(ctx, pairing.CollPairings, p.id, pairing.DirectoryScope, vals); err != nil {
			t.Fatal(err)
		}
		for _, cp := range p.cps {
			if cps[cp] {
				continue
			}
			cps[cp] = true
			cvals, _ := jsonValues(map[string]any{"name": "企业 " + cp, "kind": "enterprise"})
			if _, _, err := s.writeRecord(ctx, pairing.CollCounterparties, cp, pairing.DirectoryScope, cvals); err != nil {
				t.Fatal(err)
			}
		}
	}
	tpl := &simTemplate{tokens: map[string]string{}, photos: photos, dir: dir}
	for _, d := range simDeviceSpecs {
		body, _ := json.Marshal(map[string]string{"username": d.user, "password": testPassword, "device_id": d.id})
		st, resp, err := simCall(s, "POST", "/v1/auth/login", "", body)
		if err != nil || st != 200 {
			t.Fatalf("login %s on %s: %d %s %v", d.user, d.id, st, resp, err)
		}
		var tr tokenResponse
		if err := json.Unmarshal(resp, &tr); err != nil {
			t.Fatal(err)
		}
		tpl.tokens[d.id] = tr.AccessToken
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if tpl.data, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	return tpl
}

// simCall makes one request through the Fiber app, in process.
func simCall(s *Server, method, path, token string, body []byte) (int, []byte, error) {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.App().Test(req, -1)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// ---------------------------------------------------------------------------
// The simulation of one seed.

// simWrite is one write, as the oracle follows it: a device's local write,
// or an administrator's write through the server (dev nil).
type simWrite struct {
	w      syncproto.Write
	dev    *simDevice
	expect syncproto.Code // the oracle: "" if the policy allows it
	// outcome is the answer the device acted on ("" while pending).
	outcome syncproto.Status
	code    syncproto.Code
	// bodies are the change records built for it by Rebuild, sent or not
	// (stand-ins excepted), or the version the server's own write
	// committed: once the write is in, each is at most the server's
	// version in the join order, and together they make it (check, 3).
	bodies []syncproto.Record
}

// simDevice is a faithful client (syncproto/doc.go, "Client rules").
type simDevice struct {
	id       string
	user     simUser
	token    string
	w        syncproto.Writer // its Counter and Clock are the persisted state
	skew     time.Duration    // the phone's clock error
	base     map[string]syncproto.Record
	pending  []syncproto.Write // the outbox, in counter order
	rejected []syncproto.Write // for the user to see
	cursor   syncproto.Cursor
	// held: per pairing, own sequences past a gap whose stored version
	// the base holds (rebuilt from the push answer), named in pulls
	// (syncproto.Held) as mobile does.
	held    map[string][]uint64
	offline int // offline until this step
	fresh   int
}

// simPush is one push request.
type simPush struct {
	d       *simDevice
	changes []syncproto.Change
	body    []byte
}

type simDelayed struct {
	at int
	p  *simPush
}

type simStats struct {
	seeds, steps, sets, deletes, keeps, forbidden                  int64
	pushes, pulls, dropped, delayed, lost, dups, stale, bursts     int64
	pullFaults, standIns, acked, rejected, records, conflicts      int64
	editDelete, deletedRecs, pagesSmall, maxPending, merged, apply int64
	serverWrites                                                   int64
	skipped                                                        int64 // own sequences the cursor moved over (no pull-back)
	heldOut                                                        int64 // own sequences named held in pulls and passed by the cursor
}

func (a *simStats) add(b simStats) {
	a.seeds += b.seeds
	a.steps += b.steps
	a.sets += b.sets
	a.deletes += b.deletes
	a.keeps += b.keeps
	a.forbidden += b.forbidden
	a.pushes += b.pushes
	a.pulls += b.pulls
	a.dropped += b.dropped
	a.delayed += b.delayed
	a.lost += b.lost
	a.dups += b.dups
	a.stale += b.stale
	a.bursts += b.bursts
	a.pullFaults += b.pullFaults
	a.standIns += b.standIns
	a.acked += b.acked
	a.rejected += b.rejected
	a.records += b.records
	a.conflicts += b.conflicts
	a.editDelete += b.editDelete
	a.deletedRecs += b.deletedRecs
	a.pagesSmall += b.pagesSmall
	a.maxPending = max(a.maxPending, b.maxPending)
	a.merged += b.merged
	a.apply += b.apply
	a.serverWrites += b.serverWrites
	a.skipped += b.skipped
	a.heldOut += b.heldOut
}

type sim struct {
	seed    uint64
	rng     *rand.Rand
	srv     *Server
	db      *bolt.DB
	devs    []*simDevice
	step    int
	now     time.Time // true time; a device's clock reads now + skew
	net     []simDelayed
	sent    []*simPush
	writes  map[syncproto.Dot]*simWrite
	answers map[syncproto.Dot]string // the first answer seen for each dot
	// unexpected lists resync and purge orders, which this world never
	// warrants.
	unexpected []string
	trace      []string
	st         simStats
}

// simFailure aborts a seed; runSimSeed recovers it.
type simFailure struct{ msg string }

func (s *sim) failf(format string, args ...any) {
	panic(simFailure{fmt.Sprintf("step %d: ", s.step) + fmt.Sprintf(format, args...)})
}

func (s *sim) tracef(format string, args ...any) {
	s.trace = append(s.trace, fmt.Sprintf("%4d ", s.step)+fmt.Sprintf(format, args...))
}

func simKey(coll, id string) string { return coll + "/" + id }

func (d *simDevice) pendingFor(k string) []syncproto.Write {
	var out []syncproto.Write
	for _, w := range d.pending {
		if simKey(w.Collection, w.ID) == k {
			out = append(out, w)
		}
	}
	return out
}

// dropBase forgets the device's copy of a scope's records.
func (d *simDevice) dropBase(pid string) {
	maps.DeleteFunc(d.base, func(_ string, r syncproto.Record) bool { return r.Pairing == pid })
	delete(d.held, pid)
}

// view is what the phone shows: Rebuild(base, pending).
func (s *sim) view(d *simDevice, k string) syncproto.Record {
	v, _, err := syncproto.Rebuild(d.base[k], d.pendingFor(k))
	if err != nil {
		s.failf("%s: rebuild %s: %v", d.id, k, err)
	}
	return v
}

// keysIn lists the records the device knows (base or outbox) in a pairing
// and collection, sorted.
func (d *simDevice) keysIn(pid, coll string) []string {
	set := map[string]bool{}
	for k, r := range d.base {
		if r.Pairing == pid && r.Collection == coll {
			set[k] = true
		}
	}
	for _, w := range d.pending {
		if w.Pairing == pid && w.Collection == coll {
			set[simKey(w.Collection, w.ID)] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

var simFields = []string{"title", "notes", "status", "priority"}

func (s *sim) values(d *simDevice) map[string]json.RawMessage {
	n := 1 + s.rng.IntN(3)
	vals := map[string]json.RawMessage{}
	for _, i := range s.rng.Perm(len(simFields))[:n] {
		var v string
		switch x := s.rng.IntN(20); {
		case x == 0:
			v = "null"
		case x < 4:
			v = strconv.Quote(fmt.Sprintf("走访记录 %s #%d", d.id, d.w.Counter+1))
		default:
			v = fmt.Sprintf(`{"by":%q,"n":%d,"tags":["a","b"]}`, d.id, d.w.Counter+1)
		}
		vals[simFields[i]] = json.RawMessage(v)
	}
	return vals
}

// localOp makes one local write: mostly to records others write too.
func (s *sim) localOp(d *simDevice) {
	u := d.user
	type target struct{ pid, coll string }
	var allowed, forbidden []target
	for _, p := range simPairings {
		for _, c := range simCollections {
			if u.expectedRejection(p.id, c) == "" {
				allowed = append(allowed, target{p.id, c})
				if c == "issues" { // the shared, mutable records: more weight
					allowed = append(allowed, target{p.id, c}, target{p.id, c})
				}
			} else {
				forbidden = append(forbidden, target{p.id, c})
			}
		}
	}
	var tg target
	switch {
	case len(allowed) == 0 && s.rng.IntN(6) != 0: // a viewer mostly reads
		return
	case len(allowed) == 0 || s.rng.IntN(100) < 5:
		tg = forbidden[s.rng.IntN(len(forbidden))]
	default:
		tg = allowed[s.rng.IntN(len(allowed))]
	}
	var id string
	known := d.keysIn(tg.pid, tg.coll)
	switch x := s.rng.IntN(100); {
	case x < 45 && len(known) > 0:
		id = strings.TrimPrefix(known[s.rng.IntN(len(known))], tg.coll+"/")
	case x < 88: // a small pool of shared ids per pairing: concurrent creates and edits
		id = fmt.Sprintf("%s-%s-%d", tg.coll, tg.pid, 1+s.rng.IntN(3))
	default:
		d.fresh++
		id = fmt.Sprintf("%s-%s-%s-%d", tg.coll, tg.pid, d.id, d.fresh)
	}
	k := simKey(tg.coll, id)
	cur := s.view(d, k)
	exists := cur.Collection != ""
	if !exists {
		cur = syncproto.NewRecord(tg.coll, id, tg.pid)
	}
	now := s.now.Add(d.skew)
	var (
		out syncproto.Record
		w   syncproto.Write
		err error
		x   = s.rng.IntN(100)
	)
	switch {
	case exists && (cur.Deleted() || cur.EditDeleteConflict()) && x < 45:
		out, w, err = d.w.Keep(cur, now)
		s.st.keeps++
	case exists && x < 12:
		out, w, err = d.w.Delete(cur, now)
		s.st.deletes++
	default:
		out, w, err = d.w.Set(cur, s.values(d), now)
		s.st.sets++
	}
	if err != nil {
		s.failf("%s: local %s of %s: %v", d.id, w.Op, k, err)
	}
	if w.IsZero() {
		// Every value was already there: nothing is written (Writer.Set).
		if !out.Equal(cur) {
			s.failf("%s: a set that writes nothing changed %s: %s, was %s", d.id, k, out, cur)
		}
		return
	}
	d.pending = append(d.pending, w)
	s.st.maxPending = max(s.st.maxPending, int64(len(d.pending)))
	// The client model: the view the Writer returned is the rebuilt view.
	if v := s.view(d, k); !v.Equal(out) {
		s.failf("%s: Writer returned %s, Rebuild(base, pending) gives %s", d.id, out, v)
	}
	sw := &simWrite{w: w, dev: d, expect: u.expectedRejection(tg.pid, tg.coll)}
	if sw.expect != "" {
		s.st.forbidden++
	}
	s.writes[w.Dot] = sw
	s.tracef("%s %s %s (%s) skew %v", w.Dot, w.Op, k, tg.pid, d.skew.Round(time.Minute))
}

// buildPush builds the next push request from the outbox: writes in counter
// order, each change built by Rebuild at this moment, and the request ends
// before a second change to a record (so the first one's answer is known
// before the next is built). A write the base has seen already (its answer
// was lost, then a pull brought it) is sent as a stand-in, the write
// applied to an empty record: the server answers it from its receipt.
func (s *sim) buildPush(d *simDevice) *simPush {
	limit := 1 + s.rng.IntN(6)
	seen := map[string]bool{}
	p := &simPush{d: d}
	for _, w := range d.pending {
		k := simKey(w.Collection, w.ID)
		if seen[k] {
			break
		}
		seen[k] = true
		base := d.base[k]
		var ch syncproto.Change
		if base.VV.Covers(w.Dot) {
			// The base has seen w: its answer was lost. Push the
			// stand-in (this simulation found that Apply(Record{}, w), the
			// rule doc.go gave before, is invalid for a delete that saw
			// other replicas, which blocked the outbox for good).
			var err error
			if ch, err = syncproto.StandIn(w); err != nil {
				s.failf("%s: stand-in for %s: %v", d.id, w.Dot, err)
			}
			s.st.standIns++
		} else {
			_, chs, err := syncproto.Rebuild(base, d.pendingFor(k))
			if err != nil || len(chs) == 0 || chs[0].Dot != w.Dot {
				s.failf("%s: rebuild for %s gave %d changes, err %v", d.id, w.Dot, len(chs), err)
			}
			ch = chs[0]
			sw := s.writes[w.Dot]
			sw.bodies = append(sw.bodies, ch.Record)
		}
		p.changes = append(p.changes, ch)
		if len(p.changes) == limit {
			break
		}
	}
	if len(p.changes) == 0 {
		return nil
	}
	var err error
	p.body, err = syncproto.Encode(&syncproto.PushRequest{V: syncproto.Version, Device: syncproto.ReplicaID(d.id), Changes: p.changes})
	if err != nil {
		s.failf("%s: encode push: %v", d.id, err)
	}
	return p
}

func (p *simPush) dots() string {
	var ds []string
	for _, c := range p.changes {
		ds = append(ds, c.Dot.String())
	}
	return strings.Join(ds, ",")
}

// checkPushAnswer checks an answer whoever receives it: one Result per
// change, in order, and for every dot the very same Result every time.
func (s *sim) checkPushAnswer(p *simPush, st int, resp []byte, err error) *syncproto.PushAnswer {
	s.st.pushes++
	if err != nil || st != 200 {
		s.failf("push %s by %s: status %d %s %v", p.dots(), p.d.id, st, resp, err)
	}
	ans, err := syncproto.DecodePushAnswer(resp, syncproto.Limits{})
	if err != nil {
		s.failf("push answer %s: %v", resp, err)
	}
	if len(ans.Results) != len(p.changes) {
		s.failf("push %s: %d results for %d changes: %s", p.dots(), len(ans.Results), len(p.changes), resp)
	}
	for i, r := range ans.Results {
		if r.Dot != p.changes[i].Dot {
			s.failf("push %s: result %d is for %s", p.dots(), i, r.Dot)
		}
		b, _ := json.Marshal(r)
		if prev, ok := s.answers[r.Dot]; !ok {
			s.answers[r.Dot] = string(b)
		} else if prev != string(b) {
			s.failf("exactly-once: %s answered %s, and earlier %s", r.Dot, b, prev)
		}
		switch r.Status {
		case syncproto.StatusApplied, syncproto.StatusMerged:
			if r.Seq == 0 || r.Error != nil {
				s.failf("%s: %s without a sequence, or with an error: %s", r.Dot, r.Status, b)
			}
		case syncproto.StatusRejected:
			if r.Error == nil {
				s.failf("%s: rejected without an error", r.Dot)
			}
		case syncproto.StatusDuplicate:
		default:
			s.failf("%s: unknown status %q", r.Dot, r.Status)
		}
	}
	return ans
}

// applyPushAnswer is the client acting on an answer it received.
//
// An applied change whose result carries the server's stamp is folded as
// the stored version (Result.StoredVersion), and the cursor moves over the
// device's own sequences that follow it without a gap, as mobile does: the
// final check (every replica equals the server, byte for byte) fails if
// that skips another device's commit or leaves a copy that differs.
func (s *sim) applyPushAnswer(p *simPush, ans *syncproto.PushAnswer) {
	d := p.d
	own := map[string][]uint64{}
	defer func() {
		next := d.cursor.Advance(own)
		for pid, seq := range next {
			s.st.skipped += int64(seq - d.cursor[pid])
		}
		d.cursor = next
		for pid, seqs := range own {
			if pos, ok := next[pid]; ok {
				for _, seq := range seqs {
					if seq > pos {
						if d.held == nil {
							d.held = map[string][]uint64{}
						}
						d.held[pid] = append(d.held[pid], seq)
					}
				}
			}
		}
	}()
	for i, r := range ans.Results {
		ch := p.changes[i]
		idx := slices.IndexFunc(d.pending, func(w syncproto.Write) bool { return w.Dot == r.Dot })
		if idx < 0 {
			s.failf("%s: answer for %s, which is not pending", d.id, r.Dot)
		}
		w := d.pending[idx]
		d.pending = slices.Delete(d.pending, idx, idx+1)
		sw := s.writes[w.Dot]
		sw.outcome = r.Status
		k := simKey(w.Collection, w.ID)
		switch r.Status {
		case syncproto.StatusApplied, syncproto.StatusMerged:
			// Fold the change into the base, unless it is a stand-in
			// (doc.go folds every applied change): its vector covers
			// writes it does not hold (the device's earlier writes, and
			// what the writer had seen), so merging it would drop them
			// from the base for good, and the next change built on that
			// base would drop them on the server (this simulation found
			// that too). The base has seen w already: nothing to fold.
			if !d.base[k].VV.Covers(w.Dot) {
				rec := ch.Record
				stored, ok, err := r.StoredVersion(ch)
				if err != nil {
					s.failf("%s: stamp of %s: %v", d.id, r.Dot, err)
				}
				if ok {
					rec = stored
					own[w.Pairing] = append(own[w.Pairing], r.Seq)
				}
				d.base[k] = syncproto.Merge(d.base[k], rec)
			}
			s.st.acked++
			if r.Status == syncproto.StatusMerged {
				s.st.merged++
			} else {
				s.st.apply++
			}
		case syncproto.StatusRejected:
			d.rejected = append(d.rejected, w)
			sw.code = r.Error.Code
			s.st.rejected++
		case syncproto.StatusDuplicate:
			// Dropped from the outbox; the next pull shows the outcome.
		}
		s.tracef("  %s ← %s %s", d.id, r.Dot, r.Status)
	}
}

func (s *sim) send(p *simPush) (int, []byte, error) {
	return simCall(s.srv, "POST", "/v1/sync/push", p.d.token, p.body)
}

// push runs one push of the device, with a fault when faults is set.
func (s *sim) push(d *simDevice, faults bool) {
	p := s.buildPush(d)
	if p == nil {
		return
	}
	mode := "ok"
	if faults {
		switch x := s.rng.IntN(100); {
		case x < 7:
			mode = "dropped"
		case x < 15:
			mode = "delayed"
		case x < 23:
			mode = "answer lost"
		case x < 30:
			mode = "duplicated"
		}
	}
	s.tracef("%s push %s: %s", d.id, p.dots(), mode)
	switch mode {
	case "dropped":
		s.st.dropped++
		return
	case "delayed":
		s.st.delayed++
		s.net = append(s.net, simDelayed{at: s.step + 1 + s.rng.IntN(40), p: p})
		return
	case "answer lost":
		s.st.lost++
		st, resp, err := s.send(p)
		s.checkPushAnswer(p, st, resp, err)
	case "duplicated":
		s.st.dups++
		var st [2]int
		var resp [2][]byte
		var errs [2]error
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() { st[i], resp[i], errs[i] = s.send(p) })
		}
		wg.Wait()
		if st[0] != st[1] || !bytes.Equal(resp[0], resp[1]) {
			s.failf("push %s sent twice at once: answers differ:\n %d %s\n %d %s", p.dots(), st[0], resp[0], st[1], resp[1])
		}
		s.checkPushAnswer(p, st[1], resp[1], errs[1])
		s.applyPushAnswer(p, s.checkPushAnswer(p, st[0], resp[0], errs[0]))
	default:
		st, resp, err := s.send(p)
		s.applyPushAnswer(p, s.checkPushAnswer(p, st, resp, err))
	}
	s.sent = append(s.sent, p)
	if faults && s.rng.IntN(10) == 0 { // a stale copy arrives much later
		s.st.stale++
		s.net = append(s.net, simDelayed{at: s.step + 1 + s.rng.IntN(80), p: p})
	}
}

// burst: several devices push at the same moment. The server's answers
// may differ in status (applied or merged) with the order of the commits;
// the client treats both alike, so the seed stays deterministic.
func (s *sim) burst() {
	var ps []*simPush
	for _, d := range s.devs {
		if s.step >= d.offline && s.rng.IntN(2) == 0 {
			if p := s.buildPush(d); p != nil {
				ps = append(ps, p)
			}
		}
	}
	if len(ps) < 2 {
		for _, p := range ps {
			st, resp, err := s.send(p)
			s.applyPushAnswer(p, s.checkPushAnswer(p, st, resp, err))
			s.sent = append(s.sent, p)
		}
		return
	}
	s.st.bursts++
	type reply struct {
		st   int
		body []byte
		err  error
	}
	replies := make([]reply, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		s.tracef("%s push %s: burst of %d", p.d.id, p.dots(), len(ps))
		wg.Go(func() { replies[i].st, replies[i].body, replies[i].err = s.send(p) })
	}
	wg.Wait()
	for i, p := range ps {
		s.applyPushAnswer(p, s.checkPushAnswer(p, replies[i].st, replies[i].body, replies[i].err))
		s.sent = append(s.sent, p)
	}
}

// deliverDue delivers the delayed requests whose time has come (all of
// them with all set). Nobody is waiting for their answers any more, but
// the answers are checked.
func (s *sim) deliverDue(all bool) {
	keep := s.net[:0]
	for _, x := range s.net {
		if !all && x.at > s.step {
			keep = append(keep, x)
			continue
		}
		s.tracef("%s push %s: arrives late", x.p.d.id, x.p.dots())
		st, resp, err := s.send(x.p)
		s.checkPushAnswer(x.p, st, resp, err)
	}
	s.net = keep
}

// pull pulls every page and merges it into the base; it returns how many
// records arrived.
func (s *sim) pull(d *simDevice, faults bool) int {
	limit := 0
	if s.rng.IntN(100) < 15 {
		limit = 1 + s.rng.IntN(5)
		s.st.pagesSmall++
	}
	got := 0
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			s.failf("%s: pull does not end", d.id)
		}
		if faults && s.rng.IntN(100) < 4 {
			s.st.pullFaults++
			s.tracef("%s pull dropped", d.id)
			return got
		}
		// Most pulls name what the device holds past its cursor, as
		// mobile does; some do not, as an older client would.
		var held syncproto.Held
		if s.rng.IntN(10) < 8 {
			held = syncproto.HeldRanges(d.held, d.cursor, syncproto.MaxHeldRanges)
		}
		body, _ := syncproto.Encode(&syncproto.PullRequest{V: syncproto.Version, Cursor: d.cursor, Limit: limit, Held: held})
		st, resp, err := simCall(s.srv, "POST", "/v1/sync/pull", d.token, body)
		s.st.pulls++
		if err != nil || st != 200 {
			s.failf("%s: pull: %d %s %v", d.id, st, resp, err)
		}
		ans, err := syncproto.DecodePullAnswer(resp, syncproto.Limits{MaxBytes: 16 << 20})
		if err != nil {
			s.failf("%s: pull answer: %v", d.id, err)
		}
		if limit > 0 && len(ans.Records) > limit {
			s.failf("%s: pull with limit %d got %d records", d.id, limit, len(ans.Records))
		}
		for p, seq := range ans.Cursor {
			if seq < d.cursor[p] {
				s.failf("%s: cursor of %s went back from %d to %d", d.id, p, d.cursor[p], seq)
			}
		}
		last := map[string]uint64{}
		for _, pr := range ans.Records {
			r := pr.Record
			switch {
			case pr.Seq <= last[pr.Pairing]:
				s.failf("%s: pulled %s/%s of %s at seq %d after seq %d: not in sequence order", d.id, r.Collection, r.ID, pr.Pairing, pr.Seq, last[pr.Pairing])
			case pr.Pairing != r.Pairing:
				s.failf("%s: pulled %s/%s under pairing %s, but it belongs to %s", d.id, r.Collection, r.ID, pr.Pairing, r.Pairing)
			case pr.Pairing == pairing.DirectoryScope && !d.user.seesDirectory(r.Collection, r.ID),
				pr.Pairing != pairing.DirectoryScope && !d.user.seesID(pr.Pairing):
				s.failf("%s (%s) pulled %s/%s of %s, which it may not see", d.id, d.user.key, r.Collection, r.ID, pr.Pairing)
			case pr.Seq <= d.cursor[pr.Pairing]:
				s.failf("%s: pulled %s/%s at seq %d, not after its cursor %d", d.id, r.Collection, r.ID, pr.Seq, d.cursor[pr.Pairing])
			case ans.Cursor[pr.Pairing] < pr.Seq:
				s.failf("%s: pulled %s/%s of %s at seq %d, but the new cursor is %d", d.id, r.Collection, r.ID, pr.Pairing, pr.Seq, ans.Cursor[pr.Pairing])
			case held.Contains(pr.Pairing, pr.Seq):
				s.failf("%s: pulled %s/%s of %s at seq %d, which it said it holds", d.id, r.Collection, r.ID, pr.Pairing, pr.Seq)
			}
			last[pr.Pairing] = pr.Seq
		}
		if faults && s.rng.IntN(100) < 4 { // the page is lost on the way: ask again
			s.st.pullFaults++
			s.tracef("%s pull page lost", d.id)
			continue
		}
		for _, pr := range ans.Records {
			k := simKey(pr.Record.Collection, pr.Record.ID)
			d.base[k] = syncproto.Merge(d.base[k], pr.Record)
			got++
		}
		next := d.cursor.Next(ans)
		for pid, seqs := range d.held {
			for _, seq := range seqs {
				if held.Contains(pid, seq) && seq <= next[pid] {
					s.st.heldOut++
				}
			}
			d.held[pid] = slices.DeleteFunc(seqs, func(seq uint64) bool { return seq <= next[pid] })
			if _, ok := next[pid]; !ok || len(d.held[pid]) == 0 {
				delete(d.held, pid)
			}
		}
		d.cursor = next
		// Nothing is purged and nobody's access changes in this world, so
		// the server has no reason to say resync or purge; the client
		// honours them all the same (doc.go), and check reports them.
		for _, pid := range ans.Resync {
			s.unexpected = append(s.unexpected, fmt.Sprintf("step %d: %s told to resync %s", s.step, d.id, pid))
			d.dropBase(pid) // the outbox stays; the cursor restarts from 0
		}
		for _, pid := range ans.Purge {
			s.unexpected = append(s.unexpected, fmt.Sprintf("step %d: %s told to purge %s", s.step, d.id, pid))
			for n := 0; slices.ContainsFunc(d.pending, func(w syncproto.Write) bool { return w.Pairing == pid }); n++ {
				if n > 10_000 {
					s.failf("%s: the outbox does not drain before the purge of %s", d.id, pid)
				}
				s.push(d, false) // push what is pending first
			}
			d.dropBase(pid)
		}
		if !ans.More && len(ans.Resync) == 0 {
			s.tracef("%s pulled %d records", d.id, got)
			return got
		}
	}
}

// serverWrite is an administrator's write through the server's own commit
// path (writeRecord, with the process's replica id), which phones receive
// by pull like any other: a field of a shared issue, or the name of a
// pairing in the directory (membership stays as it is).
func (s *sim) serverWrite() {
	ctx := context.Background()
	if s.rng.IntN(4) == 0 {
		p := simPairings[s.rng.IntN(len(simPairings))]
		vals := map[string]json.RawMessage{"name": json.RawMessage(strconv.Quote(fmt.Sprintf("结对 %s (%d)", p.id, s.step)))}
		if _, _, err := s.srv.writeRecord(ctx, pairing.CollPairings, p.id, pairing.DirectoryScope, vals); err != nil {
			s.failf("server renames %s: %v", p.id, err)
		}
		s.tracef("server renames pairing %s", p.id)
		return
	}
	p := simPairings[s.rng.IntN(len(simPairings))]
	k := storage.Key{Collection: "issues", ID: fmt.Sprintf("issues-%s-%d", p.id, 1+s.rng.IntN(3))}
	seen := syncproto.Vector{} // what the server's writer sees: the stored version
	if sr, err := s.db.Get(ctx, k); err == nil {
		r, err := syncproto.DecodeRecord(sr.Data, syncproto.Limits{})
		if err != nil {
			s.failf("stored %s: %v", k.ID, err)
		}
		seen = r.VV
	}
	field := simFields[s.rng.IntN(len(simFields))]
	vals := map[string]json.RawMessage{field: json.RawMessage(fmt.Sprintf(`{"by":"server","step":%d}`, s.step))}
	next, _, err := s.srv.writeRecord(ctx, k.Collection, k.ID, p.id, vals)
	if err != nil {
		s.failf("server writes %s: %v", k.ID, err)
	}
	s.srv.writer.mu.Lock()
	w := syncproto.Write{Collection: k.Collection, ID: k.ID, Pairing: p.id, Op: syncproto.OpSet, Values: vals, Context: seen,
		Dot: syncproto.Dot{Replica: s.srv.writer.w.Replica, Counter: s.srv.writer.w.Counter}, HLC: s.srv.writer.w.Clock}
	s.srv.writer.mu.Unlock()
	// The write's own record is what the server committed: its share of
	// the join.
	s.writes[w.Dot] = &simWrite{w: w, outcome: syncproto.StatusApplied, bodies: []syncproto.Record{next}}
	s.st.serverWrites++
	s.tracef("server %s set %s of %s/%s", w.Dot, field, k.Collection, k.ID)
}

func (s *sim) randomSkew() time.Duration {
	return time.Duration(s.rng.Int64N(int64(96*time.Hour))) - 48*time.Hour
}

func (s *sim) run() {
	steps := 120 + s.rng.IntN(120)
	for s.step = 0; s.step < steps; s.step++ {
		s.now = s.now.Add(time.Duration(s.rng.IntN(90_000)) * time.Millisecond)
		s.deliverDue(false)
		d := s.devs[s.rng.IntN(len(s.devs))]
		if s.rng.IntN(100) == 0 {
			d.skew = s.randomSkew() // the phone's clock jumps
			s.tracef("%s clock now off by %v", d.id, d.skew.Round(time.Minute))
		}
		online := s.step >= d.offline
		switch x := s.rng.IntN(100); {
		case x < 3:
			d.offline = s.step + 5 + s.rng.IntN(60)
			s.tracef("%s offline until step %d", d.id, d.offline)
		case x < 6:
			s.burst()
		case x < 8:
			s.serverWrite()
		case x < 55 || !online:
			s.localOp(d)
		case x < 80:
			s.push(d, true)
		default:
			s.pull(d, true)
		}
	}
	s.st.steps += int64(steps)
	s.quiesce()
}

func (s *sim) heads() map[string]uint64 {
	out := map[string]uint64{}
	for _, pid := range simScopes() {
		h, err := s.db.Head(context.Background(), pid)
		if err != nil {
			s.failf("head %s: %v", pid, err)
		}
		out[pid] = h
	}
	return out
}

func simScopes() []string {
	out := []string{pairing.DirectoryScope}
	for _, p := range simPairings {
		out = append(out, p.id)
	}
	return out
}

// quiesce: the network delivers half of what it holds; every device comes
// online and pushes until its outbox is empty (no faults); the other half
// and some replays of old requests arrive (and must change nothing); then
// two rounds of pulls, the second of which must bring nothing.
func (s *sim) quiesce() {
	s.step++
	s.tracef("quiescence")
	s.rng.Shuffle(len(s.net), func(i, j int) { s.net[i], s.net[j] = s.net[j], s.net[i] })
	half := len(s.net) / 2
	late := slices.Clone(s.net[half:])
	s.net = s.net[:half]
	s.deliverDue(true)
	for _, d := range s.devs {
		d.offline = 0
		for rounds := 0; len(d.pending) > 0; rounds++ {
			if rounds > 10_000 {
				s.failf("%s: outbox does not drain", d.id)
			}
			s.push(d, false)
		}
	}
	before := s.heads()
	s.net = late
	for range min(len(s.sent), 5) {
		s.net = append(s.net, simDelayed{p: s.sent[s.rng.IntN(len(s.sent))]})
	}
	s.deliverDue(true)
	if after := s.heads(); !maps.Equal(before, after) {
		s.failf("replays after every write was answered moved sequences: %v → %v", before, after)
	}
	for round := 1; round <= 2; round++ {
		for _, d := range s.devs {
			if n := s.pull(d, false); round == 2 && n != 0 {
				s.failf("%s: the second pull round brought %d records", d.id, n)
			}
			if len(d.pending) != 0 {
				s.failf("%s: %d writes still pending", d.id, len(d.pending))
			}
		}
	}
	s.check()
}

// serverScope reads every record the server holds in a scope, straight
// from storage (not through the handlers), by key.
func (s *sim) serverScope(pid string) map[string]storage.Record {
	out := map[string]storage.Record{}
	for after := uint64(0); ; {
		page, err := s.db.Changes(context.Background(), pid, after, storage.PageLimit{})
		if err != nil {
			s.failf("changes of %s: %v", pid, err)
		}
		for _, r := range page.Records {
			out[simKey(r.Collection, r.ID)] = r
		}
		after = page.Next
		if !page.More {
			return out
		}
	}
}

func (s *sim) check() {
	if len(s.unexpected) > 0 {
		s.failf("nothing was purged and no access changed, yet:\n %s", strings.Join(s.unexpected, "\n "))
	}
	scopes := map[string]map[string]storage.Record{}
	records := map[string]syncproto.Record{} // the pairings' records, decoded
	for _, pid := range simScopes() {
		scopes[pid] = s.serverScope(pid)
		if pid == pairing.DirectoryScope {
			continue
		}
		for k, sr := range scopes[pid] {
			r, err := syncproto.DecodeRecord(sr.Data, syncproto.Limits{})
			if err != nil {
				s.failf("server record %s: %v", k, err)
			}
			if r.Pairing != pid || sr.Pairing != pid {
				s.failf("server record %s of %s is stored in %s", k, r.Pairing, pid)
			}
			records[k] = r
			s.st.records++
			s.st.conflicts += int64(len(r.Conflicts))
			if r.EditDeleteConflict() {
				s.st.editDelete++
			}
			if r.Deleted() {
				s.st.deletedRecs++
			}
		}
	}

	// 1. Every replica equals the server, byte for byte, in every scope it
	// may see, and holds nothing else.
	for _, d := range s.devs {
		mine := map[string]map[string]syncproto.Record{}
		for k, r := range d.base {
			if mine[r.Pairing] == nil {
				mine[r.Pairing] = map[string]syncproto.Record{}
			}
			mine[r.Pairing][k] = r
		}
		for pid := range mine {
			if _, ok := scopes[pid]; !ok {
				s.failf("%s holds records of an unknown scope %q", d.id, pid)
			}
		}
		for _, pid := range simScopes() {
			want := map[string][]byte{}
			for k, sr := range scopes[pid] {
				if pid == pairing.DirectoryScope && d.user.seesDirectory(sr.Collection, sr.ID) ||
					pid != pairing.DirectoryScope && d.user.seesID(pid) && d.user.mayRead(sr.Collection) {
					want[k] = sr.Data
				}
			}
			for _, k := range slices.Sorted(maps.Keys(want)) {
				r, ok := mine[pid][k]
				if !ok {
					s.failf("%s (%s) lacks %s of %s, which the server holds:\n %s", d.id, d.user.key, k, pid, want[k])
				}
				b, err := syncproto.Encode(r)
				if err != nil {
					s.failf("%s: encode %s: %v", d.id, k, err)
				}
				if !bytes.Equal(b, want[k]) {
					s.failf("%s holds %s of %s differently:\n device %s\n server %s", d.id, k, pid, b, want[k])
				}
			}
			for _, k := range slices.Sorted(maps.Keys(mine[pid])) {
				if _, ok := want[k]; !ok {
					s.failf("%s (%s) holds %s of %s, which the server does not hold for it: %s", d.id, d.user.key, k, pid, mine[pid][k])
				}
			}
		}
	}

	// 2 and 5. Every write: answered; rejected exactly when the oracle
	// forbids it, and then without a trace; acknowledged, and then not lost.
	byKey := map[string][]*simWrite{}
	dots := slices.SortedFunc(maps.Keys(s.writes), func(a, b syncproto.Dot) int { return a.Compare(b) })
	for _, dot := range dots {
		sw := s.writes[dot]
		k := simKey(sw.w.Collection, sw.w.ID)
		switch sw.outcome {
		case "":
			s.failf("write %s was never answered", dot)
		case syncproto.StatusRejected:
			if sw.expect == "" {
				s.failf("write %s (%s %s by %s) was rejected (%s: %s), but the policy allows it", dot, sw.w.Op, k, sw.dev.user.key, sw.code, s.answers[dot])
			}
			if sw.code != sw.expect {
				s.failf("write %s rejected with %s, want %s: %s", dot, sw.code, sw.expect, s.answers[dot])
			}
			if r, ok := records[k]; ok && simHolds(r, dot) {
				s.failf("rejected write %s left a trace in the server's %s", dot, r)
			}
		case syncproto.StatusDuplicate:
			// The server no longer had the answer: accepted or rejected,
			// nothing says which. (This server keeps every receipt.)
			s.failf("write %s answered duplicate, but every receipt is kept", dot)
		default:
			if sw.expect != "" {
				s.failf("write %s (%s %s by %s) was accepted, but the policy forbids it (%s)", dot, sw.w.Op, k, sw.dev.user.key, sw.expect)
			}
			byKey[k] = append(byKey[k], sw)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		r, ok := records[k]
		if !ok {
			s.failf("acknowledged writes to %s, which the server does not hold", k)
		}
		for _, sw := range byKey[k] {
			if msg := simCheckWrite(r, sw, byKey[k]); msg != "" {
				s.failf("%s\n server %s", msg, r)
			}
		}
		// 3. The server's version is the join of the changes pushed for
		// the writes it accepted.
		var join syncproto.Record
		for _, sw := range byKey[k] {
			for _, b := range sw.bodies {
				join = syncproto.Merge(join, b)
			}
		}
		if !join.Equal(r) {
			s.failf("the server's %s is not the join of the accepted changes:\n server %s\n join   %s", k, r, join)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(records)) {
		if _, ok := byKey[k]; !ok {
			s.failf("the server holds %s, which no accepted write made: %s", k, records[k])
		}
	}
}

// simHolds reports whether any entry of r carries dot.
func simHolds(r syncproto.Record, dot syncproto.Dot) bool {
	for _, f := range r.Fields {
		if f.Dot == dot {
			return true
		}
	}
	for _, c := range r.Conflicts {
		if c.Dot == dot {
			return true
		}
	}
	for _, d := range r.Deletes {
		if d.Dot == dot {
			return true
		}
	}
	for _, k := range r.Keeps {
		if k.Dot == dot {
			return true
		}
	}
	return false
}

// simCheckWrite checks that the acknowledged write sw is not lost in r, the
// server's final version of its record; same are the acknowledged writes
// to that record. The rule, for the write w with dot D:
//
//   - r's vector covers D (the server has seen it);
//   - a set: for each field f that w set, either f's value in r is w's
//     entry (dot D, w's HLC and value), or a conflict entry of f is; or
//     else some other acknowledged set o of the same record also set f and
//     had seen w when it was made (o.Context covers D). Merge and Apply
//     drop an entry only when the other side has seen its dot without
//     holding it, which for a field entry happens only when a write that
//     had seen it set that field again; a delete never removes a field
//     entry (edit vs delete: the edit survives) and the superseding write
//     is itself checked by this same rule. Which of several concurrent
//     values wins (HLCs, then replica ids) is not checked here: any of
//     them may, and the loser must be a conflict entry, which this rule
//     requires;
//   - a delete or keep: r holds it (same dot), or another acknowledged
//     delete or keep of the record had seen it (its context covers D).
func simCheckWrite(r syncproto.Record, sw *simWrite, all []*simWrite) string {
	w := sw.w
	if !r.VV.Covers(w.Dot) {
		return fmt.Sprintf("acknowledged write %s: the server's vector has not seen it", w.Dot)
	}
	superseded := func(match func(o syncproto.Write) bool) bool {
		for _, o := range all {
			if o.w.Dot != w.Dot && o.w.Context.Covers(w.Dot) && match(o.w) {
				return true
			}
		}
		return false
	}
	switch w.Op {
	case syncproto.OpSet:
		for f, v := range w.Values {
			if cur, ok := r.Fields[f]; ok && cur.Dot == w.Dot {
				if !bytes.Equal(cur.Value, v) || cur.HLC != w.HLC {
					return fmt.Sprintf("acknowledged write %s: field %s holds %s at its dot, want %s", w.Dot, f, cur.Value, v)
				}
				continue
			}
			if i := slices.IndexFunc(r.Conflicts, func(c syncproto.Conflict) bool { return c.Field == f && c.Dot == w.Dot }); i >= 0 {
				if c := r.Conflicts[i]; !bytes.Equal(c.Value, v) || c.HLC != w.HLC {
					return fmt.Sprintf("acknowledged write %s: conflict entry of %s holds %s, want %s", w.Dot, f, c.Value, v)
				}
				continue
			}
			if !superseded(func(o syncproto.Write) bool { _, ok := o.Values[f]; return o.Op == syncproto.OpSet && ok }) {
				return fmt.Sprintf("acknowledged write %s (%s of %s) lost field %s: neither value nor conflict entry, and no acknowledged write that had seen it set %s", w.Dot, w.Op, simKey(w.Collection, w.ID), f, f)
			}
		}
	case syncproto.OpDelete, syncproto.OpKeep:
		if slices.ContainsFunc(r.Deletes, func(d syncproto.Delete) bool { return d.Dot == w.Dot && w.Op == syncproto.OpDelete }) ||
			slices.ContainsFunc(r.Keeps, func(k syncproto.Keep) bool { return k.Dot == w.Dot && w.Op == syncproto.OpKeep }) {
			return ""
		}
		if !superseded(func(o syncproto.Write) bool { return o.Op == syncproto.OpDelete || o.Op == syncproto.OpKeep }) {
			return fmt.Sprintf("acknowledged %s %s of %s was lost without a delete or keep that had seen it", w.Op, w.Dot, simKey(w.Collection, w.ID))
		}
	}
	return ""
}

// ---------------------------------------------------------------------------
// The harness.

type simOutcome struct {
	seed  uint64
	err   string
	trace []string
	stats simStats
}

func runSimSeed(tpl *simTemplate, seed uint64) (out simOutcome) {
	out.seed = seed
	dir, err := os.MkdirTemp(tpl.dir, fmt.Sprintf("seed-%d-", seed))
	if err != nil {
		out.err = err.Error()
		return out
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "pairsync.db")
	if err := os.WriteFile(path, tpl.data, 0o600); err != nil {
		out.err = err.Error()
		return out
	}
	db, err := simFastDB(path)
	if err != nil {
		out.err = err.Error()
		return out
	}
	defer db.Close()
	srv, err := simNewServer(db, tpl.photos)
	if err != nil {
		out.err = err.Error()
		return out
	}
	s := &sim{seed: seed, rng: rand.New(rand.NewPCG(seed, 0x5eed_0f_4a1e)), srv: srv, db: db, now: simServerTime,
		writes: map[syncproto.Dot]*simWrite{}, answers: map[syncproto.Dot]string{}}
	for _, spec := range simDeviceSpecs {
		s.devs = append(s.devs, &simDevice{id: spec.id, user: simUserByKey(spec.user), token: tpl.tokens[spec.id],
			w: syncproto.Writer{Replica: syncproto.ReplicaID(spec.id)}, skew: s.randomSkew(),
			base: map[string]syncproto.Record{}, cursor: syncproto.Cursor{}})
	}
	defer func() {
		out.trace = s.trace
		out.stats = s.st
		out.stats.seeds = 1
		if r := recover(); r != nil {
			if f, ok := r.(simFailure); ok {
				out.err = f.msg
			} else {
				out.err = fmt.Sprintf("step %d: panic: %v\n%s", s.step, r, debug.Stack())
			}
		}
	}()
	s.run()
	return out
}

// TestConvergence runs the seeded convergence simulation (see the top of
// this file). A failure prints its seed and the command that replays it.
func TestConvergence(t *testing.T) {
	seeds, replay := simSeedList(t)
	start := time.Now()
	tpl := buildSimTemplate(t)
	workers := max(1, min(runtime.GOMAXPROCS(0), len(seeds)))
	var (
		next     atomic.Int64
		mu       sync.Mutex
		failures []simOutcome
		total    simStats
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				mu.Lock()
				stop := i >= len(seeds) || len(failures) >= 3
				mu.Unlock()
				if stop {
					return
				}
				o := runSimSeed(tpl, seeds[i])
				mu.Lock()
				total.add(o.stats)
				if o.err != "" || replay {
					failures = append(failures, o)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(failures, func(a, b simOutcome) int { return int(a.seed) - int(b.seed) })
	for _, o := range failures {
		tail := o.trace
		if !replay && len(tail) > 60 {
			tail = tail[len(tail)-60:]
		}
		if o.err == "" {
			t.Logf("seed %d passed; its trace:\n%s", o.seed, strings.Join(tail, "\n"))
			continue
		}
		t.Errorf("seed %d: %s\n--- trace (last %d of %d lines):\n%s\n--- seed %d; replay: go test ./server/ -run '^TestConvergence$' -v -args -sim.seed=%d",
			o.seed, o.err, len(tail), len(o.trace), strings.Join(tail, "\n"), o.seed, o.seed)
	}
	race := ""
	if simRaceEnabled() {
		race = " (race detector on)"
	}
	t.Logf("%d seeds in %v%s on %d workers: %d steps, %d writes (%d sets, %d deletes, %d keeps; %d forbidden by the policy), "+
		"%d push requests (%d dropped, %d delayed, %d answers lost, %d sent twice at once, %d stale replays, %d bursts), "+
		"%d pull requests (%d small-page pulls, %d pull faults), %d stand-ins, %d server writes; answers: %d applied, %d merged, %d rejected; "+
		"%d own sequences not pulled back (%d of them named held in pulls); "+
		"end state: %d records, %d conflict entries, %d edit/delete conflicts, %d deleted; outbox at most %d",
		total.seeds, time.Since(start).Round(time.Millisecond), race, workers, total.steps, total.sets+total.deletes+total.keeps,
		total.sets, total.deletes, total.keeps, total.forbidden,
		total.pushes, total.dropped, total.delayed, total.lost, total.dups, total.stale, total.bursts,
		total.pulls, total.pagesSmall, total.pullFaults, total.standIns, total.serverWrites, total.apply, total.merged, total.rejected,
		total.skipped+total.heldOut, total.heldOut,
		total.records, total.conflicts, total.editDelete, total.deletedRecs, total.maxPending)
}
