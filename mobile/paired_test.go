package mobile

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A pairing of two officers (here two phones of one officer on p1: the
// server sees two replicas alike): each records visits, and their syncs
// alternate, so the partner's commits always land between a phone's last
// pull and its next push. Each phone must receive only its partner's
// visits, never its own back.

// noteChars are the characters visit notes are made of here.
var noteChars = []rune(strings.Repeat(benchNotes, 1) + "企业诉求政策走访联络员社区党建融资用工审批项目服务交流反映调研座谈会议")

// pairedVisit is a visit of benchVisitFields' shape whose notes (300
// characters) are drawn at random, one character at a time, from
// noteChars: text each visit has its own, as real notes are, so
// compression cannot lean on the same phrases repeated across a push.
func pairedVisit(i int) map[string]json.RawMessage {
	f := benchVisitFields(i)
	f["officers"] = json.RawMessage(`["u-officerA"]`)
	rng := rand.New(rand.NewPCG(uint64(i), 20))
	notes := make([]rune, 300)
	for j := range notes {
		notes[j] = noteChars[rng.IntN(len(noteChars))]
	}
	f["notes"], _ = json.Marshal(string(notes))
	return f
}

// pairedRound: both phones record k visits, then a syncs, then b syncs. It
// returns the versions each pulled.
func pairedRound(t testing.TB, a, b *Engine, round, k int) (pulledA, pulledB int) {
	t.Helper()
	for i := range k {
		for n, e := range []*Engine{a, b} {
			f := pairedVisit(round*k*2 + i*2 + n)
			if err := e.Set("visits", fmt.Sprintf("v-%d-%d-%d", n, round, i), "p1", f); err != nil {
				t.Fatal(err)
			}
		}
	}
	pa, err := a.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if pa.Rejected+pb.Rejected != 0 {
		t.Fatalf("round %d: %d and %d rejected: %+v %+v", round, pa.Rejected, pb.Rejected, a.Rejected(), b.Rejected())
	}
	return pa.RecordsDone, pb.RecordsDone
}

// TestPairedNoOwnRecordsBack: two phones, interleaved commits; after the
// first round (where a's pull comes before b's push) each round brings each
// phone exactly its partner's k visits, and both hold what the server holds.
func TestPairedNoOwnRecordsBack(t *testing.T) {
	w := newWorldWith(t, true)
	a, _ := w.engine("officerA", Config{})
	b, _ := w.engine("officerA", Config{})
	mustSync(t, a)
	mustSync(t, b)
	const k, rounds = 4, 3
	gotA, gotB := 0, 0
	for r := range rounds {
		pa, pb := pairedRound(t, a, b, r, k)
		gotA, gotB = gotA+pa, gotB+pb
	}
	// a receives b's visits of rounds 0..rounds-2 (b's last round commits
	// after a's last pull); b receives a's of every round.
	if wantA, wantB := k*(rounds-1), k*rounds; gotA != wantA || gotB != wantB {
		t.Errorf("versions received: a %d, b %d; want %d and %d (the partner's visits only, none of their own back)", gotA, gotB, wantA, wantB)
	}
	mustSync(t, a)
	for n, e := range []*Engine{a, b} {
		if n := sameAsServer(t, w, e, "officer", "p1"); n != 2*k*rounds {
			t.Errorf("server holds %d records in p1, want %d", n, 2*k*rounds)
		}
		if got, want := cursorOf(t, e, "p1"), w.head("p1"); got != want {
			t.Errorf("phone %d: cursor of p1 = %d, want the head %d", n, got, want)
		}
	}
}

// BenchmarkPairedSync: one round of the pairing above per op, 50 visits
// per phone, with push bodies sent plain and gzip-compressed (the default):
// the bytes of push bodies per visit as they go up, the versions pulled per
// visit recorded (1 when each phone receives only its partner's), and the
// share of pushes sent compressed.
func BenchmarkPairedSync(b *testing.B) {
	for _, c := range []struct {
		name  string
		plain bool
	}{{"plain", true}, {"gzip", false}} {
		b.Run(c.name, func(b *testing.B) {
			w := newWorldTB(b, true)
			ma := &bodyMeter{base: http.DefaultTransport}
			mb := &bodyMeter{base: http.DefaultTransport}
			ea, _ := w.engine("officerA", Config{Transport: ma, PlainPush: c.plain})
			eb, _ := w.engine("officerA", Config{Transport: mb, PlainPush: c.plain})
			mustSync(b, ea)
			mustSync(b, eb)
			const k = 50
			// A first round unmeasured: from then on, the partner's commits
			// lie between each phone's pull and its next push.
			pairedRound(b, ea, eb, 0, k)
			pulled, round := 0, 1
			cpu0 := cpuTime()
			up0, n0, gz0 := ma.pushUp.Load()+mb.pushUp.Load(), ma.pushes.Load()+mb.pushes.Load(), ma.gzip.Load()+mb.gzip.Load()
			for b.Loop() {
				pa, pb := pairedRound(b, ea, eb, round, k)
				pulled += pa + pb
				round++
			}
			visits := float64(2 * k * (round - 1))
			// CPU of the whole process (phones and server), not wall time:
			// the machine is shared.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/visits, "cpu-µs/visit")
			b.ReportMetric(float64(ma.pushUp.Load()+mb.pushUp.Load()-up0)/visits, "B-up/visit")
			b.ReportMetric(float64(pulled)/visits, "pulled/visit")
			if n := ma.pushes.Load() + mb.pushes.Load() - n0; n > 0 {
				b.ReportMetric(float64(ma.gzip.Load()+mb.gzip.Load()-gz0)/float64(n), "gzip-share")
			}
		})
	}
}

// cpuTime is the CPU time this process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
