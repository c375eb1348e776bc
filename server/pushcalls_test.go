package server

import (
	"fmt"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/servertest"
	"github.com/pairsync/pairsync/syncproto"
)

// pushCallsWorld is the domain world (rules on, as pairsyncd runs) with a
// second server on the same store counted by servertest.CountingStore, and
// officerA's phone registered with it and synced.
type pushCallsWorld struct {
	*idEnv
	counted *servertest.CountingStore
	pid     string
	off     *device
}

func newPushCallsWorld(t *testing.T) *pushCallsWorld {
	t.Helper()
	e := newDomainEnv(t)
	pid, _ := domainFixture(t, e)
	counted := servertest.Counting(e.db)
	s2, err := New(Config{}, Deps{Store: counted.WithToucher(), Photos: e.s.photos, Now: e.now, PasswordParams: fastPasswords})
	if err != nil {
		t.Fatal(err)
	}
	w := &pushCallsWorld{idEnv: &idEnv{t: t, s: s2, db: e.db, base: serve(t, s2), clock: e.clock, units: e.units, users: e.users},
		counted: counted, pid: pid}
	w.off = w.device(t, "officerA")
	w.off.pull()
	return w
}

// visits are n new visits of the world's pairing, as officerA's phone
// writes them.
func (w *pushCallsWorld) visits(prefix string, n int) []syncproto.Change {
	at := time.Now().UTC().Format(time.RFC3339)
	var out []syncproto.Change
	for i := range n {
		out = append(out, w.off.set("visits", fmt.Sprintf("%s-%03d", prefix, i), w.pid,
			map[string]any{"mode": "onsite", "visited_at": at, "officers": []string{"u-officerA"}, "notes": "走访"}))
	}
	return out
}

// pushReadOps are the storage methods a push reads records, receipts and
// heads with; Commit is counted apart.
var pushReadOps = map[string]bool{"Get": true, "GetMany": true, "Receipt": true, "ReceiptsOf": true,
	"Head": true, "HeadsOf": true, "PrunedBelow": true, "Device": true}

// pushOnce pushes changes as one request, wants every answer to be want,
// and returns the storage reads and commits the push made, by method.
func (w *pushCallsWorld) pushOnce(t *testing.T, want syncproto.Status, changes []syncproto.Change) map[string]int {
	t.Helper()
	w.counted.Reset()
	r, ans := w.off.push(changes...)
	_, by := w.counted.Calls()
	if r.status != 200 {
		t.Fatalf("push of %d: %d %s", len(changes), r.status, r.body)
	}
	for i, res := range ans.Results {
		if res.Status != want || res.Error != nil {
			t.Fatalf("push of %d: answer %d is %s %v, want %s", len(changes), i, res.Status, res.Error, want)
		}
	}
	out := map[string]int{}
	for op, n := range by {
		if pushReadOps[op] || op == "Commit" {
			out[op] = n
		}
	}
	return out
}

// TestPushStorageCallsPerPush (issues 19 and 20): the storage calls of a
// push do not grow with its changes: its receipts are read in one call
// (storage.Receipts.ReceiptsOf), the records it changes in one call per
// commit attempt of a pairing (storage.GetMany), so a push of 50 new
// visits in one pairing makes as many calls as a push of 5, and so does
// the same push sent again (every answer from its receipt).
func TestPushStorageCallsPerPush(t *testing.T) {
	w := newPushCallsWorld(t)
	few, many := w.visits("v-few", 5), w.visits("v-many", 50)
	for _, c := range []struct {
		what string
		want syncproto.Status
	}{{"new visits", syncproto.StatusApplied}, {"the same push again", syncproto.StatusApplied}} {
		byFew := w.pushOnce(t, c.want, few)
		byMany := w.pushOnce(t, c.want, many)
		t.Logf("%s: push of 5 %v, of 50 %v", c.what, byFew, byMany)
		if !maps.Equal(byFew, byMany) {
			t.Errorf("%s: storage calls of a push of 5: %v; of 50: %v; want the same", c.what, byFew, byMany)
		}
	}
}

// TestPushLosingToItsDuplicate: process B's push of n changes loses its
// first commit to process A, which has just committed the first h of the
// same changes (the phone sent them there too, and timed out). B answers
// those h from A's receipts, read again in one call after the lost race
// (commitPlan.again), and commits the others on its next attempt, which
// reads their records in one call: each change committed once, every
// answer as A gave it or applied after A's, and B's storage reads as many
// for 40 changes as for 4.
func TestPushLosingToItsDuplicate(t *testing.T) {
	for _, n := range []int{4, 40} {
		t.Run(fmt.Sprintf("%d changes", n), func(t *testing.T) {
			e := newIDEnv(t)
			pairingsFixture(t, e)
			ctx := t.Context()
			off := e.device(t, "officerA")
			var changes []syncproto.Change
			for i := range n {
				changes = append(changes, off.set("visits", fmt.Sprintf("v-dup-%02d", i), gapPairing, map[string]any{"notes": i}))
			}
			h := n / 4
			var first syncproto.PushAnswer
			counted := servertest.Counting(e.db)
			store := &gapInterleave{Store: counted, n: 1, errs: make(chan error, 1)}
			store.before = func() error {
				r, ans := off.push(changes[:h]...) // to process A
				if r.status != 200 {
					return fmt.Errorf("push to process A: %d %s", r.status, r.body)
				}
				first = ans
				return nil
			}
			b, err := New(Config{}, Deps{Store: store, Photos: e.s.photos, Keys: e.s.keys, Now: e.now, PasswordParams: fastPasswords, ProtocolOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			body, err := syncproto.Encode(&syncproto.PushRequest{V: 1, Device: syncproto.ReplicaID(off.id), Changes: changes})
			if err != nil {
				t.Fatal(err)
			}
			counted.Reset()
			status, rb, _, err := gapPost(ctx, http.DefaultClient, serve(t, b)+"/v1/sync/push", off.token, body)
			if err != nil {
				t.Fatal(err)
			}
			_, by := counted.Calls()
			close(store.errs)
			for err := range store.errs {
				t.Fatal(err)
			}
			if status != 200 {
				t.Fatalf("push to process B: %d %s", status, rb)
			}
			ans, err := syncproto.DecodePushAnswer(rb, syncproto.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range ans.Results {
				want := syncproto.Result{Dot: changes[i].Dot, Status: syncproto.StatusApplied, Seq: uint64(i + 1)}
				if i < h {
					want = first.Results[i]
				}
				if got, w := fmt.Sprintf("%+v", r), fmt.Sprintf("%+v", want); got != w {
					t.Errorf("answer %d: got %s, want %s", i, got, w)
				}
			}
			if head, err := e.db.Head(ctx, gapPairing); err != nil || head != uint64(n) {
				t.Errorf("%s head: %d (%v), want %d: each change committed once", gapPairing, head, err, n)
			}
			reads := map[string]int{}
			for op, c := range by {
				if pushReadOps[op] && op != "Device" { // B's first request also checks the device's liveness
					reads[op] = c
				}
			}
			// PrunedBelow; ReceiptsOf before and after the lost race; Head
			// and GetMany on each of the two attempts.
			want := map[string]int{"PrunedBelow": 1, "ReceiptsOf": 2, "Head": 2, "GetMany": 2}
			if !maps.Equal(reads, want) {
				t.Errorf("process B's storage reads: got %v, want %v", reads, want)
			}
		})
	}
}
