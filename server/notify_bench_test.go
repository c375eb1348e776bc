package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/notify"
	"github.com/pairsync/pairsync/syncproto"
)

// BenchmarkNotificationLatency: from a change's commit (the answer to an
// administrator's 交办 over real HTTP, which plans two notifications in its
// transaction) to the webhook's 2xx for each, the sender's pass run at
// once; bolt with fsync, the receiver on 127.0.0.1. Reports the
// percentiles per notification. In pairsyncd the pass runs every 5 s, which
// adds 0–5 s to these figures.
func BenchmarkNotificationLatency(b *testing.B) {
	notificationLatency(b, pushLoad{})
}

// BenchmarkNotificationLatencyUnderLoad: the same measurement while 8
// simulated phones (two officers, four devices each) push a new visit every
// 200 ms each through the real push route (POST /v1/sync/push) of the same
// server: 40 pushes a second at most, each a bolt commit with fsync. The
// phones run from the first dispatch to the last, at most 20,000 pushes and
// 10 minutes. Beside the percentiles it reports the pushes the phones made
// a second and their own p50 and p99, so a figure can be read against the
// load it ran under.
func BenchmarkNotificationLatencyUnderLoad(b *testing.B) {
	notificationLatency(b, pushLoad{phones: 8, every: 200 * time.Millisecond, max: 20_000, limit: 10 * time.Minute})
}

// pushLoad is a steady background workload of phones pushing visits.
type pushLoad struct {
	phones int           // 0: none
	every  time.Duration // each phone's pause between pushes
	max    int           // pushes in all, at most
	limit  time.Duration // how long, at most
}

func notificationLatency(b *testing.B, load pushLoad) {
	e := newDomainEnv(b)
	var (
		mu       sync.Mutex
		answered = map[string]time.Time{}
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body notify.WebhookBody
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &body)
		w.WriteHeader(http.StatusOK)
		mu.Lock()
		answered[body.ID] = time.Now()
		mu.Unlock()
	}))
	b.Cleanup(hook.Close)
	s, err := New(Config{PublicURL: "https://pairsync.example/", NotifyWebhook: notify.Webhook{URL: hook.URL, Secret: []byte(webhookSecret)}},
		Deps{Store: e.db, Photos: e.s.photos, Now: e.now, PasswordParams: fastPasswords})
	if err != nil {
		b.Fatal(err)
	}
	e.s, e.base = s, serve(b, s)
	pid, cp := notifyPairing(b, e)
	off := e.device(b, "officerA")
	admin := e.login("adminA").AccessToken
	at := time.Now().UTC().Format(time.RFC3339)
	stop := startPushLoad(b, e, load, pid, cp, at)
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("bench-issue-%d", i)
		b.StopTimer()
		if _, ans := off.push(off.set("issues", id, pid, map[string]any{"title": "融资难", "category": "financing", "raised_by": "u-officerA",
			"raised_at": at, "counterparty": cp})); ans.Results[0].Status != "applied" {
			b.Fatalf("raise: %+v", ans.Results)
		}
		b.StartTimer()
		r := e.call("POST", "/v1/issues/"+id+"/events", admin, map[string]any{"type": "dispatched", "handler": "u-officerA", "handler_name": "张三"})
		committed := time.Now()
		if r.status != 201 {
			b.Fatalf("dispatch: %d %s", r.status, r.body)
		}
		if n, err := s.SendNotifications(b.Context()); err != nil || n != 2 {
			b.Fatalf("send: %d attempts, error %v; want 2", n, err)
		}
		mu.Lock()
		for nid, t := range answered {
			lat = append(lat, t.Sub(committed))
			delete(answered, nid)
		}
		mu.Unlock()
	}
	b.StopTimer()
	stop()
	b.ReportMetric(pct(lat, 50), "commit-to-2xx-p50-ms")
	b.ReportMetric(pct(lat, 99), "commit-to-2xx-p99-ms")
}

// pct is the p-th percentile of ds in milliseconds (ds sorted here).
func pct(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return float64(ds[min(len(ds)*p/100, len(ds)-1)].Microseconds()) / 1000
}

// startPushLoad starts load's phones (officerA's and officerA2's devices
// on pid, each pushing a new visit, then pausing load.every) and returns
// what stops them: it waits for them, fails the benchmark if a push was
// refused, and reports the pushes a second and their latency.
func startPushLoad(b *testing.B, e *idEnv, load pushLoad, pid, cp, at string) (stop func()) {
	if load.phones == 0 {
		return func() {}
	}
	type phone struct {
		d    *device
		user string
	}
	var phones []phone
	for i := range load.phones {
		user := []string{"officerA", "officerA2"}[i%2]
		phones = append(phones, phone{e.device(b, user), "u-" + user})
	}
	ctx, cancel := context.WithTimeout(context.Background(), load.limit)
	var (
		wg      sync.WaitGroup
		pushes  atomic.Int64
		mu      sync.Mutex
		lat     []time.Duration
		refused []string
	)
	began := time.Now()
	for i, p := range phones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil && pushes.Add(1) <= int64(load.max); n++ {
				rec := syncproto.NewRecord("visits", fmt.Sprintf("load-%d-%d", i, n), pid)
				vals, err := jsonValues(map[string]any{"title": "走访某某电梯", "mode": "onsite", "visited_at": at,
					"officers": []string{p.user}, "counterparty": cp, "notes": "了解企业融资需求"})
				if err != nil {
					panic(err)
				}
				next, w, err := p.d.w.Set(rec, vals, time.Now())
				if err != nil {
					panic(err)
				}
				body, err := syncproto.Encode(&syncproto.PushRequest{V: 1, Device: syncproto.ReplicaID(p.d.id),
					Changes: []syncproto.Change{{Dot: w.Dot, HLC: w.HLC, Record: next}}})
				if err != nil {
					panic(err)
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", e.base+"/v1/sync/push", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+p.d.token)
				t0 := time.Now()
				resp, err := http.DefaultClient.Do(req)
				if ctx.Err() != nil {
					return // stopped mid-push
				}
				took := time.Since(t0)
				var answer []byte
				if err == nil {
					answer, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				switch {
				case err != nil:
					refused = append(refused, err.Error())
				case resp.StatusCode != http.StatusOK || !bytes.Contains(answer, []byte(`"applied"`)):
					refused = append(refused, fmt.Sprintf("%d %.200s", resp.StatusCode, answer))
				default:
					lat = append(lat, took)
				}
				mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(load.every):
				}
			}
		}()
	}
	return func() {
		cancel()
		wg.Wait()
		secs := time.Since(began).Seconds()
		if len(refused) > 0 {
			b.Fatalf("background pushes: %d refused or failed, the first: %s", len(refused), refused[0])
		}
		b.ReportMetric(float64(len(lat))/secs, "bg-pushes/s")
		b.ReportMetric(pct(lat, 50), "bg-push-p50-ms")
		b.ReportMetric(pct(lat, 99), "bg-push-p99-ms")
	}
}
