package syncproto

import (
	"testing"
	"time"
)

func TestVectorCompare(t *testing.T) {
	tests := []struct {
		name string
		a, b Vector
		want Order
	}{
		{"both empty", Vector{}, nil, Equal},
		{"zero counts as absent", Vector{"A": 0}, Vector{}, Equal},
		{"equal", Vector{"A": 2, "B": 1}, Vector{"B": 1, "A": 2}, Equal},
		{"before: smaller counter", Vector{"A": 1}, Vector{"A": 2}, Before},
		{"before: missing replica", Vector{"A": 2}, Vector{"A": 2, "B": 1}, Before},
		{"after", Vector{"A": 3, "B": 1}, Vector{"A": 2}, After},
		{"concurrent", Vector{"A": 3}, Vector{"A": 2, "B": 1}, Concurrent},
		{"concurrent, disjoint", Vector{"A": 1}, Vector{"B": 1}, Concurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Compare(tt.b); got != tt.want {
				t.Errorf("%v.Compare(%v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
			mirror := map[Order]Order{Equal: Equal, Before: After, After: Before, Concurrent: Concurrent}[tt.want]
			if got := tt.b.Compare(tt.a); got != mirror {
				t.Errorf("%v.Compare(%v) = %v, want %v", tt.b, tt.a, got, mirror)
			}
		})
	}
}

func TestVectorJoinCovers(t *testing.T) {
	a, b := Vector{"A": 3, "B": 1}, Vector{"B": 4, "C": 2, "D": 0}
	j := a.Join(b)
	want := Vector{"A": 3, "B": 4, "C": 2}
	if j.Compare(want) != Equal || len(j) != 3 {
		t.Errorf("Join = %v, want %v", j, want)
	}
	if a["B"] != 1 {
		t.Errorf("Join modified its receiver: got B=%d, want 1", a["B"])
	}
	tests := []struct {
		d    Dot
		want bool
	}{
		{Dot{"A", 3}, true}, {Dot{"A", 4}, false}, {Dot{"C", 1}, true}, {Dot{"E", 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.d.String(), func(t *testing.T) {
			if got := j.Covers(tt.d); got != tt.want {
				t.Errorf("%v.Covers(%v) = %v, want %v", j, tt.d, got, tt.want)
			}
		})
	}
}

func TestParseDot(t *testing.T) {
	tests := []struct {
		in   string
		want Dot
		ok   bool
	}{
		{"A:1", Dot{"A", 1}, true},
		{"phone-7_x:9007199254740991", Dot{"phone-7_x", MaxCounter}, true},
		{"A:0", Dot{}, false},
		{"A:01", Dot{}, false},
		{"A:9007199254740992", Dot{}, false},
		{":1", Dot{}, false},
		{"A", Dot{}, false},
		{"a b:1", Dot{}, false},
		{"A:1:2", Dot{}, false},
		{"A:-1", Dot{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDot(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("ParseDot(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
			if tt.ok && got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestReplicaIDValid(t *testing.T) {
	long := string(make([]byte, 65))
	tests := []struct {
		id   ReplicaID
		want bool
	}{
		{"phone-7", true}, {"A_b-9", true}, {"", false}, {"a.b", false}, {"$x", false}, {"a:b", false},
		{ReplicaID(long), false}, {"é", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.id), func(t *testing.T) {
			if got := tt.id.Valid(); got != tt.want {
				t.Errorf("ReplicaID(%q).Valid() = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func TestHLC(t *testing.T) {
	at := func(ms int64) time.Time { return time.UnixMilli(ms) }
	tests := []struct {
		name string
		got  HLC
		want HLC
	}{
		{"tick: clock ahead", HLC{100, 5}.Tick(at(200)), HLC{200, 0}},
		{"tick: clock equal", HLC{200, 5}.Tick(at(200)), HLC{200, 6}},
		{"tick: clock behind", HLC{300, 5}.Tick(at(200)), HLC{300, 6}},
		{"tick: logical overflow", HLC{300, ^uint32(0)}.Tick(at(200)), HLC{301, 0}},
		{"tick: negative clock", HLC{}.Tick(at(-5)), HLC{0, 1}},
		{"recv: clock ahead of both", HLC{100, 1}.Recv(HLC{150, 9}, at(200)), HLC{200, 0}},
		{"recv: remote ahead", HLC{100, 1}.Recv(HLC{500, 9}, at(200)), HLC{500, 10}},
		{"recv: local ahead", HLC{500, 3}.Recv(HLC{400, 9}, at(200)), HLC{500, 4}},
		{"recv: same wall", HLC{500, 3}.Recv(HLC{500, 9}, at(200)), HLC{500, 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	b, _ := HLC{1740000000000, 7}.MarshalJSON()
	if string(b) != "[1740000000000,7]" {
		t.Errorf("MarshalJSON = %s, want [1740000000000,7]", b)
	}
	var h HLC
	if err := h.UnmarshalJSON([]byte(" [ 12 , 3 ] ")); err != nil || h != (HLC{12, 3}) {
		t.Errorf("UnmarshalJSON = %v, %v; want 12.3", h, err)
	}
}
