package syncproto

import "testing"

// TestCursorNextKeepsEmptyPairings: a pairing the answer names at 0 (synced,
// nothing in it yet) enters the cursor, so the device's cursor lists every
// pairing it holds and a later removal comes back as a purge.
func TestCursorNextKeepsEmptyPairings(t *testing.T) {
	c := Cursor{"p1": 5}.Next(&PullAnswer{Cursor: Cursor{"p1": 3, "p2": 0}})
	if v, ok := c["p2"]; !ok || v != 0 {
		t.Fatalf("got cursor %v, want p2 at 0 in it", c)
	}
	if c["p1"] != 5 {
		t.Fatalf("got p1 at %d, want 5 (never back)", c["p1"])
	}
}
