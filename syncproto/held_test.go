package syncproto

import (
	"reflect"
	"strings"
	"testing"
)

func TestHeldRanges(t *testing.T) {
	own := map[string][]uint64{
		"p1": {9, 7, 12, 8, 3, 12, 14},
		"p2": {5},
		"p3": {1, 2}, // not in the cursor: read from the start
		"p4": {2},    // at or below the cursor: nothing
	}
	cur := Cursor{"p1": 3, "p2": 0, "p4": 2}
	got := HeldRanges(own, cur, MaxHeldRanges)
	want := Held{"p1": {{7, 9}, {12, 12}, {14, 14}}, "p2": {{5, 5}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("HeldRanges = %v, want %v", got, want)
	}
	if got := HeldRanges(own, cur, 2); !reflect.DeepEqual(got, Held{"p1": {{7, 9}, {12, 12}}}) {
		t.Errorf("HeldRanges with at most 2 ranges = %v, want the lowest two of p1", got)
	}
	if got := HeldRanges(map[string][]uint64{"p4": {1, 2}}, cur, MaxHeldRanges); got != nil {
		t.Errorf("nothing past the cursor: got %v, want nil", got)
	}
	for _, c := range []struct {
		p    string
		seq  uint64
		want bool
	}{{"p1", 6, false}, {"p1", 7, true}, {"p1", 9, true}, {"p1", 10, false}, {"p1", 12, true}, {"p1", 13, false}, {"p1", 14, true}, {"p1", 15, false}, {"p2", 5, true}, {"p3", 1, false}} {
		if got := want.Contains(c.p, c.seq); got != c.want {
			t.Errorf("Contains(%s, %d) = %t, want %t", c.p, c.seq, got, c.want)
		}
	}
	if Held(nil).Contains("p1", 1) {
		t.Error("a nil Held contains something")
	}
}

func TestPullRequestHeld(t *testing.T) {
	req := &PullRequest{V: Version, Cursor: Cursor{"p-17": 118}, Held: Held{"p-17": {{120, 125}, {130, 130}}}}
	b, err := Encode(req)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"v":1,"cursor":{"p-17":118},"held":{"p-17":[[120,125],[130,130]]}}`; string(b) != want {
		t.Errorf("encoded %s, want %s", b, want)
	}
	got, err := DecodePull(b, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, req) {
		t.Errorf("decoded %+v, want %+v", got, req)
	}
	// Without held (an older client): nothing held.
	if got, err := DecodePull([]byte(`{"v":1,"cursor":{"p-17":118}}`), DefaultLimits()); err != nil || got.Held != nil {
		t.Errorf("no held: %+v, %v", got, err)
	}
	many := `{"v":1,"cursor":{},"held":{"p":[` + strings.TrimSuffix(strings.Repeat(`[1,1],`, MaxHeldRanges+1), ",") + `]}}`
	for _, c := range []struct{ name, body, field string }{
		{"from after to", `{"v":1,"held":{"p":[[5,4]]}}`, "held.p[0]"},
		{"zero", `{"v":1,"held":{"p":[[0,4]]}}`, "held.p[0]"},
		{"overlapping", `{"v":1,"held":{"p":[[1,4],[4,6]]}}`, "held.p[1]"},
		{"descending", `{"v":1,"held":{"p":[[7,8],[1,2]]}}`, "held.p[1]"},
		{"not a pair", `{"v":1,"held":{"p":[[1,2,3]]}}`, "held.p[0]"},
		{"not a number", `{"v":1,"held":{"p":[["1",2]]}}`, "held.p[0][0]"},
		{"bad pairing", `{"v":1,"held":{"$p":[[1,2]]}}`, ""},
		{"not an object", `{"v":1,"held":[[1,2]]}`, "held"},
		{"too many", many, "held"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodePull([]byte(c.body), DefaultLimits())
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("got %v, want a *Error", err)
			}
			if c.field != "" && e.Field != c.field {
				t.Errorf("got %v (field %q), want field %q", e, e.Field, c.field)
			}
		})
	}
}
