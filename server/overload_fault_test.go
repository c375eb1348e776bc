package server

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// loadStats collects the answers of a load phase.
type loadStats struct {
	mu       sync.Mutex
	admitted []time.Duration // latency of 2xx answers
	shed     int             // 429/503 with Retry-After
	bad      []string        // anything else
}

func (s *loadStats) add(status int, retryAfter string, took time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err != nil:
		s.bad = append(s.bad, err.Error())
	case status >= 200 && status < 300:
		s.admitted = append(s.admitted, took)
	case (status == 503 || status == 429) && retryAfter != "":
		s.shed++
	default:
		s.bad = append(s.bad, fmt.Sprintf("status %d (Retry-After %q)", status, retryAfter))
	}
}

func pctl(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// post sends a sync request without failing the test from a worker
// goroutine.
func post(hc *http.Client, url, token string, body []byte) (int, string, []byte, time.Duration, error) {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	began := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", nil, time.Since(began), err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), b, time.Since(began), err
}

// overloadScale is the size of an overload run: the server's MaxInFlight
// (the steady load is that many closed-loop clients; the overload five
// times as many) and how long each phase lasts. make soak sets
// PAIRSYNC_OVERLOAD_HEAVY=1.
func overloadScale() (slots int, steady, over time.Duration) {
	if os.Getenv("PAIRSYNC_OVERLOAD_HEAVY") != "" {
		return 64, 15 * time.Second, 60 * time.Second
	}
	return 8, 2 * time.Second, 4 * time.Second
}

// TestOverloadFiveTimes: closed-loop devices pushing visits and
// pulling, first as many as the server admits at once (the steady load),
// then five times as many. Under overload every answer is a 2xx or a
// 429/503 with Retry-After (nothing else, no connection error), admitted
// requests keep p99 ≤ 2 s, the heap stays bounded, and within 10 s of the
// overload ending the server answers as before (no shedding).
func TestOverloadFiveTimes(t *testing.T) {
	slots, steadyFor, overFor := overloadScale()
	cfg := Config{MaxInFlight: slots, MaxDevicesPerUser: 5 * slots}
	if os.Getenv("PAIRSYNC_OVERLOAD_HEAVY") == "" {
		// The short run's requests are so quick on a quiet machine that 40
		// clients on 8 slots never wait the default QueueWait for one, and
		// nothing would be shed: a short wait makes the overload real.
		// make soak keeps the default (its figures are the deployment's).
		cfg.QueueWait = 2 * time.Millisecond
	}
	e := newFaultEnv(t, cfg, nil, true)
	pid, _ := domainFixture(t, e)
	var devs []*device
	for range 5 * slots {
		devs = append(devs, e.device(t, "officerA"))
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 5*slots + 10}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	var counter atomic.Int64
	var heapPeak atomic.Uint64
	run := func(workers int, d time.Duration) *loadStats {
		st := &loadStats{}
		var stop atomic.Bool
		var wg sync.WaitGroup
		for i := range workers {
			dev := devs[i]
			wg.Add(1)
			go func() {
				defer wg.Done()
				cursor := syncproto.Cursor{}
				for n := 0; !stop.Load(); n++ {
					if n%2 == 0 {
						id := fmt.Sprintf("v-load-%d", counter.Add(1))
						ch := dev.set("visits", id, pid, map[string]any{"mode": "onsite", "visited_at": time.Now().UTC().Format(time.RFC3339), "officers": []string{"u-officerA"}, "notes": "负载测试"})
						body, _ := syncproto.Encode(&syncproto.PushRequest{V: 1, Device: syncproto.ReplicaID(dev.id), Changes: []syncproto.Change{ch}})
						status, ra, _, took, err := post(hc, e.base+"/v1/sync/push", dev.token, body)
						st.add(status, ra, took, err)
						continue
					}
					body, _ := syncproto.Encode(&syncproto.PullRequest{V: 1, Cursor: cursor, Limit: 20})
					status, ra, b, took, err := post(hc, e.base+"/v1/sync/pull", dev.token, body)
					st.add(status, ra, took, err)
					if status == 200 {
						if ans, err := syncproto.DecodePullAnswer(b, syncproto.Limits{MaxBytes: -1}); err == nil {
							cursor = cursor.Next(ans)
						}
					}
				}
			}()
		}
		done := make(chan struct{})
		go func() {
			var ms runtime.MemStats
			for {
				select {
				case <-done:
					return
				case <-time.After(50 * time.Millisecond):
				}
				runtime.ReadMemStats(&ms)
				for old := heapPeak.Load(); ms.HeapAlloc > old && !heapPeak.CompareAndSwap(old, ms.HeapAlloc); old = heapPeak.Load() {
				}
			}
		}()
		time.Sleep(d)
		stop.Store(true)
		wg.Wait()
		close(done)
		return st
	}

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapAlloc
	steady := run(slots, steadyFor)
	steadyPeak := heapPeak.Swap(0)
	over := run(5*slots, overFor)
	overPeak := heapPeak.Load()
	if len(over.bad) > 0 {
		t.Errorf("overload: %d answers neither 2xx nor 429/503 with Retry-After, first %q", len(over.bad), over.bad[0])
	}
	if over.shed == 0 {
		t.Errorf("overload: nothing shed with %d clients on %d slots", 5*slots, slots)
	}
	// The latency bound holds without the race detector (make soak, a
	// plain go test); under it the clients in this process and the
	// detector's own work, not the server, decide the figure: it is
	// reported only.
	if p := pctl(over.admitted, 0.99); p > 2*time.Second && !simRaceEnabled() {
		t.Errorf("overload: admitted p99 %v, want ≤ 2s", p)
	}
	if overPeak > heapBefore+512<<20 {
		t.Errorf("overload: heap peaked at %d MiB (%d MiB before), want bounded", overPeak>>20, heapBefore>>20)
	}
	// Recovery: the steady load again, without shedding, within 10 s.
	began := time.Now()
	var after *loadStats
	for {
		after = run(slots, time.Second)
		if after.shed == 0 && len(after.bad) == 0 || time.Since(began) > 10*time.Second {
			break
		}
	}
	recovered := time.Since(began)
	if after.shed != 0 || len(after.bad) != 0 || recovered > 10*time.Second {
		t.Errorf("after the overload: %d shed, %d bad after %v, want none within 10s", after.shed, len(after.bad), recovered)
	}
	t.Logf("MaxInFlight %d; steady (%d clients, %v): %d admitted, p50 %v p99 %v, %d shed; 5× (%d clients, %v): %d admitted, p50 %v p99 %v, %d shed with Retry-After, %d other; heap %d MiB before, peak %d MiB steady, %d MiB under 5×; back to no shedding after %v (p99 %v)",
		slots, slots, steadyFor, len(steady.admitted), pctl(steady.admitted, 0.5), pctl(steady.admitted, 0.99), steady.shed,
		5*slots, overFor, len(over.admitted), pctl(over.admitted, 0.5), pctl(over.admitted, 0.99), over.shed, len(over.bad),
		heapBefore>>20, steadyPeak>>20, overPeak>>20, recovered.Round(time.Millisecond), pctl(after.admitted, 0.99))
}

// TestSlowClients (SECURITY.md 8): 200 connections sending their
// headers one byte a second and 200 sending their bodies one byte a second
// are closed by the read timeout (2 s here), while /healthz keeps a p99 ≤
// 200 ms.
func TestSlowClients(t *testing.T) {
	const readTimeout = 2 * time.Second
	e := newFaultEnv(t, Config{ReadTimeout: readTimeout, IdleTimeout: readTimeout, WriteTimeout: 5 * time.Second}, nil, false)
	tok := e.login("officerA").AccessToken
	addr := e.base[len("http://"):]
	const n = 200
	const give = 10 * time.Second
	heads := "POST /v1/sync/push HTTP/1.1\r\nHost: pairsync\r\nAuthorization: Bearer " + tok + "\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n"
	type slow struct {
		kind   string
		closed time.Duration // 0: still open at the end
		sent   int
	}
	results := make([]slow, 2*n)
	began := time.Now()
	var wg sync.WaitGroup
	for i := range 2 * n {
		kind := "headers"
		if i >= n {
			kind = "body"
		}
		results[i].kind = kind
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				results[i].kind += " (dial: " + err.Error() + ")"
				return
			}
			defer c.Close()
			gone := make(chan time.Duration, 1)
			go func() {
				io.Copy(io.Discard, c) // until the server closes
				gone <- time.Since(began)
			}()
			payload := []byte(heads)
			if kind == "body" {
				if _, err := c.Write(payload); err != nil {
					return
				}
				payload = bytes.Repeat([]byte("x"), 4096)
			}
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			deadline := time.After(give)
			for j := 0; ; j++ {
				if j < len(payload) {
					if _, err := c.Write(payload[j : j+1]); err == nil {
						results[i].sent++
					}
				}
				select {
				case d := <-gone:
					results[i].closed = d
					return
				case <-deadline:
					return
				case <-tick.C:
				}
			}
		}()
	}
	// /healthz, meanwhile.
	var lat []time.Duration
	probes := 0
	for time.Since(began) < readTimeout+3*time.Second {
		t0 := time.Now()
		resp, err := http.Get(e.base + "/healthz")
		if err != nil {
			t.Fatalf("/healthz during the slow clients: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t0))
		probes++
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	var closedH, closedB []time.Duration
	for _, r := range results {
		switch {
		case r.closed == 0:
			t.Errorf("a slow connection (%s, %d bytes sent) was still open after %v", r.kind, r.sent, give)
		case r.kind == "headers":
			closedH = append(closedH, r.closed)
		case r.kind == "body":
			closedB = append(closedB, r.closed)
		default:
			t.Errorf("slow connection: %s", r.kind)
		}
	}
	if p := pctl(lat, 0.99); p > 200*time.Millisecond {
		t.Errorf("/healthz p99 %v during the slow clients, want ≤ 200ms", p)
	}
	for _, c := range [][]time.Duration{closedH, closedB} {
		if p := pctl(c, 1); p > readTimeout+3*time.Second {
			t.Errorf("a slow connection closed only after %v, want within the read timeout (%v) + 3s", p, readTimeout)
		}
	}
	t.Logf("read timeout %v: %d slow-header connections closed after median %v, max %v; %d slow-body connections closed after median %v, max %v; /healthz meanwhile: %d probes, p50 %v, p99 %v",
		readTimeout, len(closedH), pctl(closedH, 0.5).Round(time.Millisecond), pctl(closedH, 1).Round(time.Millisecond),
		len(closedB), pctl(closedB, 0.5).Round(time.Millisecond), pctl(closedB, 1).Round(time.Millisecond),
		probes, pctl(lat, 0.5).Round(time.Microsecond), pctl(lat, 0.99).Round(time.Microsecond))
}
