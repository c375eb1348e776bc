package syncproto

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goldenCase is one file of testdata/golden (format in its README.md).
type goldenCase struct {
	Description        string            `json:"description"`
	Inputs             []json.RawMessage `json:"inputs"`
	Output             json.RawMessage   `json:"output"`
	Deleted            bool              `json:"deleted"`
	EditDeleteConflict bool              `json:"edit_delete_conflict"`
	Canonical          string            `json:"canonical"`
	Writes             []goldenWrite     `json:"writes"`
}

// goldenWrite is a local write (Writer.Set) that must give one of the
// inputs: the record it is made on, the writer's state, the time and the
// values (see the README).
type goldenWrite struct {
	On     json.RawMessage `json:"on"`
	Writer struct {
		Replica ReplicaID `json:"replica"`
		Counter uint64    `json:"counter"`
		Clock   HLC       `json:"clock"`
	} `json:"writer"`
	Now    int64                      `json:"now"`
	Values map[string]json.RawMessage `json:"values"`
	Gives  int                        `json:"gives"`
}

func loadGolden(t testing.TB) map[string]goldenCase {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 7 {
		t.Fatalf("got %d golden files, want at least 7", len(files))
	}
	out := map[string]goldenCase{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var g goldenCase
		if err := json.Unmarshal(data, &g); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = g
	}
	return out
}

// permutations calls fn with every ordering of indexes 0..n-1.
func permutations(n int, fn func([]int)) {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			fn(idx)
			return
		}
		for i := k; i < n; i++ {
			idx[k], idx[i] = idx[i], idx[k]
			rec(k + 1)
			idx[k], idx[i] = idx[i], idx[k]
		}
	}
	rec(0)
}

func TestGolden(t *testing.T) {
	for name, g := range loadGolden(t) {
		t.Run(name, func(t *testing.T) {
			var inputs []Record
			for i, raw := range g.Inputs {
				r, err := DecodeRecord(raw, Limits{})
				if err != nil {
					t.Fatalf("input %d: %v", i, err)
				}
				inputs = append(inputs, r)
			}
			want, err := DecodeRecord(g.Output, Limits{})
			if err != nil {
				t.Fatalf("output: %v", err)
			}
			wantJSON := want.String()
			for i, gw := range g.Writes {
				on, err := DecodeRecord(gw.On, Limits{})
				if err != nil {
					t.Fatalf("write %d: on: %v", i, err)
				}
				if gw.Gives < 0 || gw.Gives >= len(inputs) {
					t.Fatalf("write %d gives input %d of %d", i, gw.Gives, len(inputs))
				}
				w := Writer{Replica: gw.Writer.Replica, Counter: gw.Writer.Counter, Clock: gw.Writer.Clock}
				view, _, err := w.Set(on, gw.Values, time.UnixMilli(gw.Now))
				if err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
				if got, want := view.String(), inputs[gw.Gives].String(); got != want {
					t.Errorf("write %d gives\n got  %s\n want %s (input %d)", i, got, want, gw.Gives)
				}
			}
			if g.Canonical != "" && wantJSON != g.Canonical {
				t.Errorf("canonical encoding of output:\n got  %s\n want %s", wantJSON, g.Canonical)
			}
			permutations(len(inputs), func(order []int) {
				var left, right Record
				for k, i := range order {
					left = Merge(left, inputs[i])
					right = Merge(inputs[order[len(order)-1-k]], right)
				}
				if got := left.String(); got != wantJSON {
					t.Errorf("merge in order %v:\n got  %s\n want %s", order, got, wantJSON)
				}
				if got := right.String(); got != wantJSON {
					t.Errorf("right-nested merge in order %v:\n got  %s\n want %s", order, got, wantJSON)
				}
			})
			for i, in := range inputs {
				if got := Merge(want, in).String(); got != wantJSON {
					t.Errorf("re-merging input %d into the output:\n got  %s\n want %s", i, got, wantJSON)
				}
			}
			if got := want.Deleted(); got != g.Deleted {
				t.Errorf("Deleted() = %v, want %v", got, g.Deleted)
			}
			if got := want.EditDeleteConflict(); got != g.EditDeleteConflict {
				t.Errorf("EditDeleteConflict() = %v, want %v", got, g.EditDeleteConflict)
			}
		})
	}
}
