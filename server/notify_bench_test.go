package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/notify"
)

// BenchmarkNotificationLatency: from a change's commit (the answer to an
// administrator's 交办 over real HTTP, which plans two notifications in its
// transaction) to the webhook's 2xx for each, the sender's pass run at
// once; bolt with fsync, the receiver on 127.0.0.1. Reports the
// percentiles per notification. In pairsyncd the pass runs every 5 s, which
// adds 0–5 s to these figures.
func BenchmarkNotificationLatency(b *testing.B) {
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
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "commit-to-2xx-p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "commit-to-2xx-p99-ms")
}
