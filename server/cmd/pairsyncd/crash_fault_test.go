package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pairsync/pairsync/mobile"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
	"github.com/pairsync/pairsync/syncproto"
)

// ack is the server's answer to one pushed change, as a device received it.
type ack struct {
	key    storage.Key
	status syncproto.Status
	seq    uint64
}

// ackLog records every push answer the devices received in full: what the
// server acknowledged.
type ackLog struct {
	mu     sync.Mutex
	acks   map[syncproto.Dot]ack
	pushes atomic.Int64 // push requests answered 200
	failed atomic.Int64 // push requests cut off (no answer) or refused
}

// recorder is a device's transport: it passes requests on and notes the
// answers to pushes.
type recorder struct {
	base http.RoundTripper
	log  *ackLog
}

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/sync/push" || req.Body == nil {
		return r.base.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := r.base.RoundTrip(out)
	if err != nil {
		r.log.failed.Add(1)
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		r.log.failed.Add(1)
		return resp, nil
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		r.log.failed.Add(1)
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(answer))
	plain := body
	if req.Header.Get("Content-Encoding") == "gzip" { // the client compresses pushes
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("recorder: gzip push: %w", err)
		}
		if plain, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("recorder: gzip push: %w", err)
		}
	}
	if resp.Header.Get("Content-Encoding") == "gzip" { // the client asks for gzip answers
		zr, err := gzip.NewReader(bytes.NewReader(answer))
		if err != nil {
			return nil, fmt.Errorf("recorder: gzip answer: %w", err)
		}
		if answer, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("recorder: gzip answer: %w", err)
		}
	}
	push, err1 := syncproto.DecodePush(plain, syncproto.Limits{MaxBytes: -1})
	ans, err2 := syncproto.DecodePushAnswer(answer, syncproto.Limits{MaxBytes: -1})
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("recorder: push %v / answer %v", err1, err2)
	}
	if len(ans.Results) != len(push.Changes) {
		return nil, fmt.Errorf("recorder: %d results for %d changes", len(ans.Results), len(push.Changes))
	}
	r.log.pushes.Add(1)
	r.log.mu.Lock()
	for i, res := range ans.Results {
		ch := push.Changes[i]
		r.log.acks[res.Dot] = ack{key: storage.Key{Collection: ch.Record.Collection, ID: ch.Record.ID}, status: res.Status, seq: res.Seq}
	}
	r.log.mu.Unlock()
	return resp, nil
}

// fieldDevice is one phone: a mobile Engine and the visits it wrote.
type fieldDevice struct {
	name, user, pairing string
	e                   *mobile.Engine
	written             []string // visit ids, in order
	syncErrs            int
}

func visitFields(user, id string) map[string]json.RawMessage {
	vals := map[string]json.RawMessage{}
	for k, v := range map[string]any{"mode": "onsite", "visited_at": time.Now().UTC().Format(time.RFC3339),
		"officers": []string{user}, "notes": "走访记录 " + id} {
		vals[k], _ = json.Marshal(v)
	}
	return vals
}

// TestCrashDurability: pairsyncd on bolt, a real process, is
// killed with SIGKILL at random moments while 20 phones (mobile Engines)
// write visits and sync; it is started again on the same data directory
// each time. The phones keep syncing on their own. At the end every change
// the server acknowledged is stored with its answer (the receipt equals the
// acknowledgement, the record holds the dot at the acknowledged sequence),
// none is stored twice (each pairing's sequence equals the number of visits
// written into it), and every phone has an empty outbox and no rejection.
// PAIRSYNC_CRASH_KILLS sets the number of kills (5; make soak: 50).
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts pairsyncd processes; skipped with -short")
	}
	kills := envInt("PAIRSYNC_CRASH_KILLS", 5)
	const devices, pairings = 20, 4
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (kill moments), %d kills, %d devices", seed, kills, devices)
	rng := mrand.New(mrand.NewPCG(seed, 11))

	dir := t.TempDir()
	fx := seedBolt(t, dir, devices)
	c := newChild(t, dir, "PAIRSYNC_SHUTDOWN_TIMEOUT=10s")
	c.start()
	fx.setUpPairingsRoundRobin(t, c.url(), pairings)

	log := &ackLog{acks: map[syncproto.Dot]ack{}}
	ctx := context.Background()
	devs := make([]*fieldDevice, devices)
	var wg sync.WaitGroup
	for i := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fx.officers[i]
			e, err := mobile.Open(filepath.Join(t.TempDir(), "phone.db"), mobile.Config{
				Transport: recorder{base: http.DefaultTransport, log: log}, RequestTimeout: 30 * time.Second,
				MaxAttempts: 3, MaxRetryWait: 500 * time.Millisecond})
			if err != nil {
				t.Error(err)
				return
			}
			t.Cleanup(func() { e.Close() })
			// Twenty argon2id sign-ins at once (4 hashes in flight on the
			// server) can outlast a request timeout on a loaded machine: a
			// phone signs in again, as its user would, for up to a minute
			// (under -race on two busy cores 20 hashes took longer than
			// five tries spread over 7.5 s).
			var err2 error
			for attempt, until := 0, time.Now().Add(time.Minute); ; attempt++ {
				if err2 = e.SignIn(ctx, c.url(), name, officerPassword, name+" 的手机"); err2 == nil || time.Now().After(until) {
					break
				}
				time.Sleep(time.Duration(min(attempt+1, 4)) * 500 * time.Millisecond)
			}
			if err2 != nil {
				t.Errorf("sign in %s: %v", name, err2)
				return
			}
			devs[i] = &fieldDevice{name: name, user: fx.ids[name], pairing: fx.pairings[i%pairings], e: e}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// The phones write and sync until told to stop, then sync until their
	// outboxes are empty: no one taps anything after a crash.
	var stop atomic.Bool
	var load sync.WaitGroup
	for i, d := range devs {
		load.Add(1)
		go func() {
			defer load.Done()
			r := mrand.New(mrand.NewPCG(seed, uint64(i)))
			for !stop.Load() {
				for range 1 + r.IntN(2) {
					id := fmt.Sprintf("v-%s-%05d", d.name, len(d.written)+1)
					if err := d.e.Set(pairing.CollVisits, id, d.pairing, visitFields(d.user, id)); err != nil {
						t.Errorf("%s: local write: %v", d.name, err)
						return
					}
					d.written = append(d.written, id)
				}
				if _, err := d.e.Sync(ctx); err != nil {
					d.syncErrs++
				}
				time.Sleep(time.Duration(100+r.IntN(150)) * time.Millisecond)
			}
		}()
	}

	var restarts []time.Duration
	for k := 1; k <= kills; k++ {
		time.Sleep(time.Duration(200+rng.IntN(1000)) * time.Millisecond)
		c.kill()
		if code := c.exitCode(); code != -1 {
			t.Fatalf("kill %d: pairsyncd exited by itself (code %d) before the kill:\n%s", k, code, c.logs.String())
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond) // the phones meet a dead server
		restarts = append(restarts, c.start())
	}
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	load.Wait()

	// Every phone finishes on its own.
	deadline := time.Now().Add(90 * time.Second)
	for _, d := range devs {
		for {
			_, err := d.e.Sync(ctx)
			if err == nil && d.e.Pending() == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d changes still pending after the last restart (%v)", d.name, d.e.Pending(), err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if rej := d.e.Rejected(); len(rej) != 0 {
			t.Errorf("%s: %d changes rejected, first %+v", d.name, len(rej), rej[0])
		}
	}
	// A last round, so that each phone has pulled what the others pushed
	// after its own last sync; then each holds every visit of its pairing.
	byPairing := map[string][]string{}
	for _, d := range devs {
		byPairing[d.pairing] = append(byPairing[d.pairing], d.written...)
	}
	for _, d := range devs {
		if _, err := d.e.Sync(ctx); err != nil {
			t.Fatalf("%s: last sync: %v", d.name, err)
		}
		missing := 0
		for _, id := range byPairing[d.pairing] {
			if _, ok := d.e.Get(pairing.CollVisits, id); !ok {
				missing++
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d visits of its pairing missing on the phone after syncing", d.name, missing)
		}
	}
	stopped := c.stop(15 * time.Second)

	// What is on disk.
	db, err := bolt.Open(ctx, bolt.Config{Path: filepath.Join(dir, "pairsync.db")})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	stored := map[string]storage.Record{}
	written, perPairing := 0, map[string]uint64{}
	for _, d := range devs {
		replica := d.e.DeviceID()
		for _, id := range d.written {
			written++
			perPairing[d.pairing]++
			rec, err := db.Get(ctx, storage.Key{Collection: pairing.CollVisits, ID: id})
			if err != nil {
				t.Errorf("%s: visit %s written and synced, not stored: %v", d.name, id, err)
				continue
			}
			r, err := syncproto.DecodeRecord(rec.Data, syncproto.Limits{})
			if err != nil {
				t.Fatalf("stored %s: %v", id, err)
			}
			// The device's write, and the server's received_at stamp.
			writers := 0
			for rep := range r.VV {
				if !strings.HasPrefix(string(rep), "srv-") {
					writers++
				}
			}
			if writers != 1 || r.VV[syncproto.ReplicaID(replica)] == 0 || pairing.Str(r, "notes") != "走访记录 "+id {
				t.Errorf("visit %s: stored %s, want the one write of %s", id, r, replica)
				continue
			}
			answer, err := db.Receipt(ctx, replica, r.VV[syncproto.ReplicaID(replica)])
			var res syncproto.Result
			if err != nil || json.Unmarshal(answer, &res) != nil || res.Status != syncproto.StatusApplied || res.Seq != rec.Seq {
				t.Errorf("visit %s at seq %d: receipt %s (%v), want applied at that seq", id, rec.Seq, answer, err)
			}
			stored[replica+":"+id] = rec
		}
	}
	for i, p := range fx.pairings {
		head, err := db.Head(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if head != perPairing[p] {
			t.Errorf("pairing %d: sequence at %d, want %d (one commit per visit written: none lost, none twice)", i, head, perPairing[p])
		}
	}
	// Every acknowledgement the phones received holds on disk.
	log.mu.Lock()
	defer log.mu.Unlock()
	statuses := map[syncproto.Status]int{}
	for dot, a := range log.acks {
		statuses[a.status]++
		answer, err := db.Receipt(ctx, string(dot.Replica), dot.Counter)
		var res syncproto.Result
		if err != nil || json.Unmarshal(answer, &res) != nil || res.Status != a.status || res.Seq != a.seq {
			t.Errorf("acknowledged %s (%s at %d): stored receipt %s (%v)", dot, a.status, a.seq, answer, err)
			continue
		}
		rec, err := db.Get(ctx, a.key)
		if err != nil || rec.Seq != a.seq {
			t.Errorf("acknowledged %s at seq %d: stored record %v at %d (%v)", dot, a.seq, a.key, rec.Seq, err)
		}
	}
	syncErrs := 0
	for _, d := range devs {
		syncErrs += d.syncErrs
	}
	sort.Slice(restarts, func(i, j int) bool { return restarts[i] < restarts[j] })
	t.Logf("%d kills survived: %d visits written by %d phones, %d stored once each; %d push answers received (%v), %d pushes cut off; %d syncs failed and were retried by the phones; restart to ready median %v, max %v; SIGTERM exit %v",
		kills, written, devices, len(stored), log.pushes.Load(), statuses, log.failed.Load(), syncErrs,
		restarts[len(restarts)/2].Round(time.Millisecond), restarts[len(restarts)-1].Round(time.Millisecond), stopped.Round(time.Millisecond))
	if log.failed.Load() == 0 {
		t.Log("note: no push was cut off by a kill in this run")
	}
}

// setUpPairingsRoundRobin creates k pairings; officer i is in pairing i mod k.
func (f *fixture) setUpPairingsRoundRobin(t testing.TB, base string, k int) {
	t.Helper()
	all := f.officers
	defer func() { f.officers = all }()
	for i := range k {
		var mine []string
		for j := i; j < len(all); j += k {
			mine = append(mine, all[j])
		}
		f.officers = mine
		f.setUpPairings(t, base, 1)
	}
}
