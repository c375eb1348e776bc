package server

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/servertest"
	"github.com/pairsync/pairsync/syncproto"
)

// BenchmarkServerPush: officerA's phones push new visits, 50 to a push
// (fieldctl bench's batch), over HTTP on 127.0.0.1 to a server with the
// domain's rules on and bolt with fsync, as pairsyncd runs: one phone, or
// 8 at once on 4 pairings (two to a pairing, as fieldctl bench pairs its
// 50). One op is one push. cpu-µs/change is the process's CPU time per
// change pushed (servertest.CPUTime): the server's, plus the little the
// test's HTTP client spends sending bodies encoded before the timer
// starts; storage-calls/push counts every storage call made meanwhile
// (servertest.CountingStore).
func BenchmarkServerPush(b *testing.B) {
	for _, phones := range []int{1, 8} {
		b.Run(fmt.Sprintf("phones=%d", phones), func(b *testing.B) { benchServerPush(b, phones) })
	}
}

func benchServerPush(b *testing.B, phones int) {
	const batch = 50
	e := newDomainEnv(b)
	pids := make([]string, (phones+1)/2)
	for i := range pids {
		pids[i], _ = elevatorPairing(b, e, map[string]any{"industry": "制造业", "name": fmt.Sprintf("南京某某电梯有限公司 %d", i),
			"credit_code": pairing.CompleteCreditCode(fmt.Sprintf("91320100MA1ABC%03d", i))}, map[string]any{"user_id": "u-officerA", "primary": true})
	}
	counted := servertest.Counting(e.db)
	s2, err := New(Config{}, Deps{Store: counted.WithToucher(), Photos: e.s.photos, Now: e.now, PasswordParams: fastPasswords})
	if err != nil {
		b.Fatal(err)
	}
	e = &idEnv{t: b, s: s2, db: e.db, base: serve(b, s2), clock: e.clock, units: e.units, users: e.users}
	devs := make([]*device, phones)
	for i := range devs {
		devs[i] = e.device(b, "officerA")
		devs[i].pull()
	}
	var head0 uint64
	for _, pid := range pids {
		h, err := e.db.Head(b.Context(), pid)
		if err != nil {
			b.Fatal(err)
		}
		head0 += h
	}
	at := time.Now().UTC().Format(time.RFC3339)
	notes := strings.Repeat("走访企业，了解生产经营情况和困难诉求。", 4)
	// Push i is phone i%phones's, into its pairing.
	bodies := make([][]byte, b.N)
	for i := range bodies {
		d, pid := devs[i%phones], pids[i%phones/2]
		changes := make([]syncproto.Change, batch)
		for j := range changes {
			changes[j] = d.set("visits", fmt.Sprintf("v-bench-%06d-%02d", i, j), pid,
				map[string]any{"mode": "onsite", "visited_at": at, "officers": []string{"u-officerA"}, "notes": notes})
		}
		if bodies[i], err = syncproto.Encode(&syncproto.PushRequest{V: 1, Device: syncproto.ReplicaID(d.id), Changes: changes}); err != nil {
			b.Fatal(err)
		}
	}
	counted.Reset()
	b.ResetTimer()
	cpu := servertest.CPUTime()
	var wg sync.WaitGroup
	for p, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < b.N; i += phones {
				status, body, _, err := gapPost(b.Context(), http.DefaultClient, e.base+"/v1/sync/push", d.token, bodies[i])
				if err != nil || status != 200 {
					b.Errorf("push %d: %d %s (%v)", i, status, body, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	used := servertest.CPUTime() - cpu
	b.StopTimer()
	calls, _ := counted.Calls()
	var head uint64
	for _, pid := range pids {
		h, err := e.db.Head(b.Context(), pid)
		if err != nil {
			b.Fatal(err)
		}
		head += h
	}
	if head != head0+uint64(batch*b.N) {
		b.Fatalf("heads %d after %d pushes of %d from %d: a change was not applied", head, b.N, batch, head0)
	}
	b.ReportMetric(float64(used.Microseconds())/float64(batch*b.N), "cpu-µs/change")
	b.ReportMetric(float64(calls)/float64(b.N), "storage-calls/push")
}
