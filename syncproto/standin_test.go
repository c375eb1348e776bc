package syncproto

import (
	"encoding/json"
	"testing"
	"time"
)

// TestStandIn: a write whose answer was lost, and whose effect the base has
// seen since, is pushed again as a stand-in. The stand-in must be a valid
// record whatever the write (a delete whose context names other replicas
// included: the convergence simulation found Apply(Record{}, w) invalid
// there), carry only the write's own entries, and be the same change each
// time so the server answers it from its receipt.
func TestStandIn(t *testing.T) {
	now := time.Unix(1_740_000_000, 0)
	a := &Writer{Replica: "phone-a"}
	b := &Writer{Replica: "phone-b"}
	r0, _, err := a.Set(NewRecord("visits", "v1", "p1"), map[string]json.RawMessage{"notes": json.RawMessage(`"a"`)}, now)
	if err != nil {
		t.Fatal(err)
	}
	r1, _, err := b.Set(r0, map[string]json.RawMessage{"mode": json.RawMessage(`"phone"`)}, now)
	if err != nil {
		t.Fatal(err)
	}
	_, del, err := a.Delete(r1, now) // context names phone-b
	if err != nil {
		t.Fatal(err)
	}
	_, set, err := a.Set(r1, map[string]json.RawMessage{"notes": json.RawMessage(`"b"`)}, now)
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range map[string]Write{"delete": del, "set": set} {
		t.Run(name, func(t *testing.T) {
			c, err := StandIn(w)
			if err != nil {
				t.Fatalf("StandIn: %v", err)
			}
			if err := c.Record.Validate(); err != nil {
				t.Fatalf("stand-in record is invalid: %v", err)
			}
			if c.Dot != w.Dot || c.HLC != w.HLC {
				t.Fatalf("got dot %v hlc %v, want the write's %v %v", c.Dot, c.HLC, w.Dot, w.HLC)
			}
			for f, e := range c.Record.Fields {
				if e.Dot != w.Dot {
					t.Fatalf("stand-in holds field %s of write %v; want only the write's own entries", f, e.Dot)
				}
			}
			again, _ := StandIn(w)
			if !again.Record.Equal(c.Record) {
				t.Fatal("two stand-ins of one write differ")
			}
		})
	}
}
