package syncproto

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// TestJoinLaws checks that Merge is a join over reachable states: random
// histories of local writes and state exchanges on 3–4 replicas (clocks
// skewed by up to 48 h, some stamping HLCs that contradict causality), then
// commutativity, associativity and idempotence on random triples of the
// states they went through, and convergence of the replicas. A failure
// prints the history's seed; replay it with -syncproto.seed=N or
// SYNCPROTO_SEED=N.
func TestJoinLaws(t *testing.T) {
	const triplesPerHistory = 50
	base := uint64(time.Now().UnixNano())
	histories := (*flagCases + triplesPerHistory - 1) / triplesPerHistory
	if s, ok := seedOverride(t); ok {
		base, histories = s, 1
	} else {
		t.Logf("seeds %d..%d (replay one with -syncproto.seed=N)", base, base+uint64(histories)-1)
	}
	cases := 0
	for h := range histories {
		seed := base + uint64(h)
		rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
		prog := make([]byte, 20+rng.IntN(100))
		for i := range prog {
			prog[i] = byte(rng.Uint32())
		}
		res := runProgram(prog, 3+rng.IntN(2))
		for _, s := range res.states {
			if err := s.Validate(); err != nil {
				t.Fatalf("seed %d: reachable state is invalid: %v\n%s", seed, err, s)
			}
		}
		for range triplesPerHistory {
			a := res.states[rng.IntN(len(res.states))]
			b := res.states[rng.IntN(len(res.states))]
			c := res.states[rng.IntN(len(res.states))]
			if msg := checkJoinLaws(a, b, c); msg != "" {
				t.Fatalf("seed %d (replay with -syncproto.seed=%d): %s", seed, seed, msg)
			}
			cases++
		}
		if msg := checkConvergence(res); msg != "" {
			t.Fatalf("seed %d (replay with -syncproto.seed=%d): %s", seed, seed, msg)
		}
	}
	t.Logf("%d join-law cases over %d histories", cases, histories)
}

// randomRecord builds an arbitrary valid record, not necessarily reachable:
// entries with any dots under a random vector, contents that may differ
// between records for the same dot, ties in HLCs.
func randomRecord(rng *rand.Rand) Record {
	reps := []ReplicaID{"A", "B", "C"}
	r := NewRecord("visits", "v1", "p1")
	for _, rep := range reps {
		if n := rng.IntN(4); n > 0 {
			r.VV[rep] = uint64(n)
		}
	}
	var dots []Dot
	for rep, n := range r.VV {
		for c := uint64(1); c <= n; c++ {
			dots = append(dots, Dot{rep, c})
		}
	}
	if len(dots) == 0 {
		return r
	}
	hlc := func() HLC { return HLC{Wall: int64(rng.IntN(3)), Logical: uint32(rng.IntN(2))} }
	for _, f := range []string{"a", "b"} {
		var es []Conflict
		for _, d := range dots {
			if rng.IntN(3) == 0 {
				es = append(es, Conflict{Field: f, Value: json.RawMessage(strconv.Itoa(rng.IntN(2))), Dot: d, HLC: hlc()})
			}
		}
		if len(es) == 0 {
			continue
		}
		w := 0
		for i := range es {
			if outranks(es[i].HLC, es[i].Dot, es[w].HLC, es[w].Dot) {
				w = i
			}
		}
		r.Fields[f] = Field{Value: es[w].Value, Dot: es[w].Dot, HLC: es[w].HLC}
		for i, e := range es {
			if i != w {
				r.Conflicts = append(r.Conflicts, e)
			}
		}
	}
	for _, d := range dots {
		switch rng.IntN(6) {
		case 0:
			ctx := Vector{}
			for rep, n := range r.VV {
				if m := uint64(rng.IntN(int(n) + 1)); m > 0 {
					ctx[rep] = m
				}
			}
			r.Deletes = append(r.Deletes, Delete{Dot: d, HLC: hlc(), Context: ctx})
		case 1:
			r.Keeps = append(r.Keeps, Keep{Dot: d, HLC: hlc()})
		}
	}
	r.normalize()
	return r
}

// TestJoinLawsArbitrary checks the join laws on arbitrary valid records,
// reachable or not: Merge is a join on every record that passes Validate.
func TestJoinLawsArbitrary(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s, ok := seedOverride(t); ok {
		seed = s
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range 20_000 {
		a, b, c := randomRecord(rng), randomRecord(rng), randomRecord(rng)
		for _, r := range []Record{a, b, c} {
			if err := r.Validate(); err != nil {
				t.Fatalf("seed %d case %d: generator made an invalid record: %v\n%s", seed, i, err, r)
			}
		}
		if msg := checkJoinLaws(a, b, c); msg != "" {
			t.Fatalf("seed %d case %d (replay with -syncproto.seed=%d): %s", seed, i, seed, msg)
		}
	}
}
