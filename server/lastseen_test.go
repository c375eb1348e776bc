package server

import (
	"testing"
	"time"
)

// TestLastSeenKeptInMemory: a sync records the device's sighting without
// writing it (the store still has the old LastSeen), the device views and
// the console's idle devices show it at once, a sync after the flush
// interval writes the sightings (in the background), and Shutdown writes
// what is left.
func TestLastSeenKeptInMemory(t *testing.T) {
	e := newDomainEnv(t)
	e.s.seen.mu.Lock()
	e.s.seen.every = time.Hour // the test's clock decides when a flush is due
	e.s.seen.mu.Unlock()
	ctx := t.Context()
	d := e.device(t, "officerA")
	stored := func() time.Time {
		t.Helper()
		dev, err := e.db.Device(ctx, d.id)
		if err != nil {
			t.Fatalf("device: got error %v, want none", err)
		}
		return dev.LastSeen
	}
	sync := func() {
		t.Helper()
		// A fresh token each time: the test's clock moves by hours.
		r := e.call("POST", "/v1/auth/login", "", loginRequest{Username: "officerA", Password: testPassword, DeviceID: d.id})
		var tr tokenResponse
		r.json(t, &tr)
		if r := e.call("GET", "/v1/sync/scopes", tr.AccessToken, nil); r.status != 200 {
			t.Fatalf("scopes: got %d %s, want 200", r.status, r.body)
		}
	}
	viewed := func() time.Time {
		t.Helper()
		var v deviceView
		r := e.call("GET", "/v1/devices/"+d.id, e.login("adminA").AccessToken, nil)
		if r.status != 200 {
			t.Fatalf("device view: got %d %s, want 200", r.status, r.body)
		}
		r.json(t, &v)
		if v.LastSeen == nil {
			return time.Time{}
		}
		return *v.LastSeen
	}

	e.advance(3 * time.Hour) // the device, registered now, is 3 hours old
	e.s.seen.mu.Lock()
	e.s.seen.flushed = e.now() // as if a flush had just run
	e.s.seen.mu.Unlock()
	t1 := e.now().UTC().Truncate(time.Millisecond)
	sync()
	if got := stored(); !got.IsZero() {
		t.Fatalf("stored LastSeen after a sync: got %v, want none yet (kept in memory)", got)
	}
	if got := viewed(); !got.Truncate(time.Millisecond).Equal(t1) {
		t.Errorf("device view: got last seen %v, want %v (the sighting in memory)", got, t1)
	}
	var idle idleDeviceList
	e.call("GET", "/v1/devices/attention?hours=1", e.login("adminA").AccessToken, nil).json(t, &idle)
	for _, dv := range idle.Devices {
		if dv.ID == d.id {
			t.Errorf("attention list: got the device that just synced, want it left out")
		}
	}

	// An hour later (the flush interval here), the next sync writes them.
	e.advance(time.Hour + time.Minute)
	t2 := e.now().UTC().Truncate(time.Millisecond)
	sync()
	deadline := time.Now().Add(10 * time.Second)
	for !stored().Equal(t2) {
		if time.Now().After(deadline) {
			t.Fatalf("stored LastSeen: got %v, want %v written by the background flush", stored(), t2)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Shutdown writes what is left.
	e.advance(2 * time.Minute)
	t3 := e.now().UTC().Truncate(time.Millisecond)
	sync()
	if got := stored(); !got.Equal(t2) {
		t.Fatalf("stored LastSeen before shutdown: got %v, want %v", got, t2)
	}
	if err := e.s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: got error %v, want none", err)
	}
	if got := stored(); !got.Equal(t3) {
		t.Errorf("stored LastSeen after shutdown: got %v, want %v", got, t3)
	}
}
