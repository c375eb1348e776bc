package server

import (
	"strings"
	"testing"
	"time"
)

// TestOverloadSheds: with every slot taken, an API request gets 503 with
// Retry-After while the slots are still taken (it did not wait for one: a
// request that waited would hang here, as nothing frees a slot until it has
// its answer); liveness, readiness and metrics still answer; once a slot
// frees, requests are served again. How fast shedding answers under load is
// a figure of make soak (TestOverloadFiveTimes), not an assertion here.
func TestOverloadSheds(t *testing.T) {
	e := newIDEnv(t)
	tok := e.login("officerA").AccessToken
	e.s.cfg.QueueWait = 20 * time.Millisecond
	for range cap(e.s.slots) {
		e.s.slots <- struct{}{}
	}
	r := e.call("GET", "/v1/me", tok, nil)
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("full: got %d (Retry-After %q), want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := e.call("GET", path, "", nil); r.status != 200 {
			t.Fatalf("%s while full: got %d, want 200", path, r.status)
		}
	}
	if body := scrape(t, e.s); !strings.Contains(body, "pairsync_http_requests_shed_total 1") {
		t.Fatalf("metrics do not count the shed request: %s", body)
	}
	<-e.s.slots // one request finishes
	if r := e.call("GET", "/v1/me", tok, nil); r.status != 200 {
		t.Fatalf("a slot free: got %d %s, want 200", r.status, r.body)
	}
}
