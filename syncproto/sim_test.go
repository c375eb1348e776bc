package syncproto

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// The simulator runs a program of random operations on a few replicas of
// one record (local sets, deletes, keeps, and exchanges of whole states),
// so every state it yields is reachable. Property tests draw programs from
// a seeded generator; FuzzMerge takes them from the fuzzer.

var (
	flagSeed  = flag.Uint64("syncproto.seed", 0, "replay one property-test history with this seed (also SYNCPROTO_SEED)")
	flagCases = flag.Int("syncproto.cases", 100_000, "join-law cases the property test checks")
)

// seedOverride returns the seed to replay, if one was given.
func seedOverride(t testing.TB) (uint64, bool) {
	if *flagSeed != 0 {
		return *flagSeed, true
	}
	if s := os.Getenv("SYNCPROTO_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SYNCPROTO_SEED=%q: %v", s, err)
		}
		return v, true
	}
	return 0, false
}

var simEpoch = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

var simFields = []string{"notes", "rating", "status", "title"}

// simWrite is a write the simulation made, remembered for the "nothing lost"
// check.
type simWrite struct {
	Write
}

type simReplica struct {
	w     Writer
	skew  time.Duration
	naive bool // stamps HLCs from its own clock only (no Recv), as a buggy client might
	state Record
}

type simResult struct {
	states   []Record // every state any replica held, in order
	replicas []Record // final state of each replica
	writes   []simWrite
}

// runProgram interprets prog (any bytes) as operations on nReplicas replicas.
func runProgram(prog []byte, nReplicas int) simResult {
	next := func() byte {
		if len(prog) == 0 {
			return 0
		}
		b := prog[0]
		prog = prog[1:]
		return b
	}
	rs := make([]*simReplica, nReplicas)
	for i := range rs {
		skews := []time.Duration{0, 48 * time.Hour, -48 * time.Hour, 3 * time.Second, -26 * time.Hour}
		b := next()
		rs[i] = &simReplica{
			w:     Writer{Replica: ReplicaID(string(rune('A' + i)))},
			skew:  skews[int(b)%len(skews)],
			naive: b&0x80 != 0,
			state: NewRecord("visits", "v1", "p1"),
		}
	}
	var res simResult
	now := simEpoch
	for len(prog) > 0 {
		op := next()
		now = now.Add(time.Duration(op%7) * 300 * time.Millisecond)
		r := rs[int(next())%nReplicas]
		at := now.Add(r.skew)
		var (
			out Record
			wr  Write
			err error
		)
		switch op % 10 {
		case 0, 1, 2, 3, 4:
			mask := next()%15 + 1
			v := next() % 6
			values := map[string]json.RawMessage{}
			for i, f := range simFields {
				if mask&(1<<i) != 0 {
					if v == 5 {
						values[f] = json.RawMessage("null")
					} else {
						values[f] = json.RawMessage(fmt.Sprintf(`{"by":%q,"v":%d}`, r.w.Replica, v))
					}
				}
			}
			out, wr, err = r.stamp(OpSet, values, at)
		case 5:
			out, wr, err = r.stamp(OpDelete, nil, at)
		case 6:
			out, wr, err = r.stamp(OpKeep, nil, at)
		default:
			src := rs[int(next())%nReplicas]
			r.state = Merge(r.state, src.state)
			res.states = append(res.states, r.state)
			continue
		}
		if err != nil {
			panic(fmt.Sprintf("simulated write failed: %v", err))
		}
		r.state = out
		res.states = append(res.states, out)
		res.writes = append(res.writes, simWrite{Write: wr})
	}
	for _, r := range rs {
		res.replicas = append(res.replicas, r.state)
	}
	return res
}

// stamp makes a local write. A naive replica stamps the HLC from its own
// clock alone, so its timestamps may contradict causality; Merge must not
// care.
func (r *simReplica) stamp(op Op, values map[string]json.RawMessage, at time.Time) (Record, Write, error) {
	if !r.naive {
		switch op {
		case OpSet:
			return r.w.Set(r.state, values, at)
		case OpDelete:
			return r.w.Delete(r.state, at)
		default:
			return r.w.Keep(r.state, at)
		}
	}
	r.w.Counter++
	r.w.Clock = r.w.Clock.Tick(at)
	wr := Write{Collection: r.state.Collection, ID: r.state.ID, Pairing: r.state.Pairing,
		Dot: Dot{Replica: r.w.Replica, Counter: r.w.Counter}, HLC: r.w.Clock, Op: op, Values: values, Context: r.state.VV.Clone()}
	out, err := Apply(r.state, wr)
	return out, wr, err
}

// checkJoinLaws checks commutativity, associativity and idempotence of Merge
// on a, b, c, and that merges stay valid. It returns a description of the
// first failure, or "".
func checkJoinLaws(a, b, c Record) string {
	ab, ba := Merge(a, b), Merge(b, a)
	if !ab.Equal(ba) {
		return fmt.Sprintf("not commutative:\n a=%s\n b=%s\n got Merge(a,b)=%s\n want Merge(b,a)=%s", a, b, ab, ba)
	}
	if got := ab.String(); got != ba.String() {
		return fmt.Sprintf("Equal records encode differently:\n got %s\n want %s", got, ba.String())
	}
	l, r := Merge(ab, c), Merge(a, Merge(b, c))
	if !l.Equal(r) {
		return fmt.Sprintf("not associative:\n a=%s\n b=%s\n c=%s\n got (a⊔b)⊔c=%s\n want a⊔(b⊔c)=%s", a, b, c, l, r)
	}
	if aa := Merge(a, a); !aa.Equal(a) {
		return fmt.Sprintf("not idempotent:\n a=%s\n got Merge(a,a)=%s\n want a", a, aa)
	}
	if again := Merge(ab, b); !again.Equal(ab) {
		return fmt.Sprintf("re-merge changed the result:\n got Merge(a⊔b, b)=%s\n want a⊔b=%s", again, ab)
	}
	if err := l.Validate(); err != nil {
		return fmt.Sprintf("merge produced an invalid record: %v\n %s", err, l)
	}
	return ""
}

// checkConvergence merges all replicas' final states in two different
// orders, checks the results are byte-identical, and that no write was
// silently lost: every write's trace is in the result, or a later write that
// had seen it overwrote it.
func checkConvergence(res simResult) string {
	var fwd, bwd Record
	for i := range res.replicas {
		fwd = Merge(fwd, res.replicas[i])
		bwd = Merge(res.replicas[len(res.replicas)-1-i], bwd)
	}
	for _, s := range res.states { // merging any earlier state changes nothing
		fwd = Merge(fwd, s)
	}
	if fwd.String() != bwd.String() {
		return fmt.Sprintf("replicas did not converge:\n got  %s\n want %s", fwd, bwd)
	}
	for _, w := range res.writes {
		if lost := lostWrite(fwd, w.Write, res.writes); lost != "" {
			return lost + "\n final " + fwd.String()
		}
	}
	return ""
}

func lostWrite(final Record, w Write, all []simWrite) string {
	if !final.VV.Covers(w.Dot) {
		return fmt.Sprintf("final state has not seen write %s", w.Dot)
	}
	superseded := func(match func(o Write) bool) bool {
		for _, o := range all {
			if o.Dot != w.Dot && o.Context.Covers(w.Dot) && match(o.Write) {
				return true
			}
		}
		return false
	}
	switch w.Op {
	case OpSet:
		for f := range w.Values {
			if final.Fields[f].Dot == w.Dot || len(conflictDots(final, f, w.Dot)) > 0 {
				continue
			}
			if !superseded(func(o Write) bool { _, ok := o.Values[f]; return o.Op == OpSet && ok }) {
				return fmt.Sprintf("write %s to %q was lost without a write that saw it", w.Dot, f)
			}
		}
	case OpDelete, OpKeep:
		for _, d := range final.Deletes {
			if d.Dot == w.Dot {
				return ""
			}
		}
		for _, k := range final.Keeps {
			if k.Dot == w.Dot {
				return ""
			}
		}
		if !superseded(func(o Write) bool { return o.Op == OpDelete || o.Op == OpKeep }) {
			return fmt.Sprintf("%s %s was lost without a delete or keep that saw it", w.Op, w.Dot)
		}
	}
	return ""
}

func conflictDots(r Record, field string, d Dot) []Conflict {
	var out []Conflict
	for _, c := range r.Conflicts {
		if c.Field == field && c.Dot == d {
			out = append(out, c)
		}
	}
	return out
}
