package readmodel_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/readmodel"
)

// orgWorld is generate's activity over a random org tree: units nested one
// to four levels below the root /r/, pairings with one to three branches
// anywhere in the tree (the root itself now and then, so that a pairing
// can lie in no unit below it; two branches in different subtrees, so
// that a pairing lies in two units), counterparties drawn from one pool
// (so that pairings share them).
func orgWorld(seed uint64) (*world, []string) {
	w := &world{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), paths: map[string]string{"r": "/r/"}, counts: map[string]int{}}
	units := []string{"r"}
	var grow func(id string, depth int)
	grow = func(id string, depth int) {
		for i := range 1 + w.rng.IntN(4) {
			c := fmt.Sprintf("%s-%d", id, i)
			w.paths[c] = w.paths[id] + c + "/"
			units = append(units, c)
			if depth > 1 && w.chance(0.7) {
				grow(c, depth-1)
			}
		}
	}
	grow("r", 1+w.rng.IntN(4))
	for i := range 40 + w.rng.IntN(30) {
		p := testPairing{ID: fmt.Sprintf("p%02d", i)}
		for range 1 + w.rng.IntN(3) {
			b := units[1+w.rng.IntN(len(units)-1)]
			if w.chance(0.05) {
				b = "r"
			}
			if !slices.Contains(p.Branches, b) {
				p.Branches = append(p.Branches, b)
			}
		}
		for range 1 + w.rng.IntN(3) {
			if cp := fmt.Sprintf("c%02d", w.rng.IntN(25)); !slices.Contains(p.Counterparties, cp) {
				p.Counterparties = append(p.Counterparties, cp)
			}
		}
		p.Officers = []string{fmt.Sprintf("o%02d-1", i), fmt.Sprintf("o%02d-2", i)}
		p.Contacts = []string{fmt.Sprintf("k%02d", i)}
		w.pairings = append(w.pairings, p)
	}
	for n := range 800 {
		w.visit(n)
	}
	for n := range 400 {
		w.issue(n)
	}
	for i, p := range w.pairings {
		if w.chance(0.5) {
			w.project(p, fmt.Sprintf("pr%02d", i))
		}
	}
	slices.SortFunc(w.ops, func(a, b op) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.n, b.n)) })
	return w, units
}

// TestOverviewMatchesFigures: the overview's figures, trend and units,
// summed from each pairing's part, equal Figures and Trend of the same
// sets computed pairing by pairing (and the brute force), on random org
// trees, each unit of the tree taken as the root with the units one level
// below it as the overview places them. A pairing under two units counts in
// both and once in the root; repeated ids count once.
func TestOverviewMatchesFigures(t *testing.T) {
	seed := kpiSeed(t)
	periods := overviewPeriods()
	var shared, sharedByUnits, outside int // the cases the comparison must see
	for round := range 3 {
		w, units := orgWorld(seed + uint64(round))
		h := newHarness(t)
		h.paths = w.paths
		h.addPairings(w.pairings...)
		for _, o := range w.ops {
			h.set(o.pid, o.coll, o.id, o.at, o.kv...)
		}
		l := h.ledger(kpiRules)
		refresh(t, h, l)
		b := readBrute(t, h, w.pairings)

		// under lists the pairings with a branch under path: once each, or
		// once per such branch (repeated ids).
		under := func(path string, repeat bool) []string {
			var out []string
			for _, p := range w.pairings {
				for _, br := range p.Branches {
					if strings.HasPrefix(w.paths[br], path) {
						out = append(out, p.ID)
						if !repeat {
							break
						}
					}
				}
			}
			return out
		}
		cpOwners := map[string]int{}
		for _, p := range w.pairings {
			for _, cp := range p.Counterparties {
				cpOwners[cp]++
			}
		}
		for _, n := range cpOwners {
			if n > 1 {
				shared++
			}
		}
		for ri, root := range units {
			path := w.paths[root]
			repeat := ri%2 == 1
			ids := under(path, repeat)
			var names []string
			var subs [][]string
			for _, u := range units {
				if p := w.paths[u]; strings.HasPrefix(p, path) && strings.Count(p, "/") == strings.Count(path, "/")+1 {
					names = append(names, u)
					subs = append(subs, under(p, repeat))
				}
			}
			in := map[string]int{}
			for _, sub := range subs {
				for _, id := range slices.Compact(slices.Sorted(slices.Values(sub))) {
					if in[id]++; in[id] == 2 {
						sharedByUnits++
					}
				}
			}
			if ri == 0 {
				// A unit outside the root, one naming an unknown pairing, an
				// empty one: the units need not lie within the pairings.
				subs = append(subs, []string{w.pairings[0].ID, "p-unknown", w.pairings[0].ID}, nil)
				names = append(names, "odd", "empty")
				ids = ids[len(ids)/2:]
				outside++
			}
			for _, pr := range periods {
				for _, now := range []time.Time{kpiNow, kpiNow.Add(40 * day)} {
					where := fmt.Sprintf("round %d root %s %s at %s", round, root, pr.name, now.Format(time.DateOnly))
					ov := l.Overview(ids, subs, pr.from, pr.to, now)
					for _, d := range diffJSON(ov.Figures, l.Figures(ids, pr.from, pr.to, now)) {
						t.Errorf("%s: figures %s", where, d)
					}
					for _, d := range diffJSON(ov.Trend, l.Trend(ids, pr.from, pr.to, now)) {
						t.Errorf("%s: trend %s", where, d)
					}
					if len(ov.Units) != len(subs) {
						t.Fatalf("%s: got %d units, want %d", where, len(ov.Units), len(subs))
					}
					for i, sub := range subs {
						for _, d := range diffJSON(ov.Units[i], l.Figures(sub, pr.from, pr.to, now)) {
							t.Errorf("%s: unit %s %s", where, names[i], d)
						}
						if !slices.Contains(sub, "p-unknown") {
							for _, d := range diffJSON(ov.Units[i], b.figures(sub, pr.from, pr.to, now)) {
								t.Errorf("%s: unit %s (brute force) %s", where, names[i], d)
							}
						}
					}
				}
			}
		}
		// The figures compared are not all zero.
		if f := l.Overview(under("/r/", false), nil, periods[0].from, periods[0].to, kpiNow).Figures; f.Visits < 700 || f.IssuesDispatched == 0 ||
			f.Coverage.Num == 0 || f.Overdue.Total == 0 || f.IssuesOpen == 0 || f.ProjectsPlanned == 0 || f.SatisfactionRate.Den == 0 {
			t.Errorf("round %d: got thin figures %+v", round, f)
		}
	}
	t.Logf("seed %d: %d counterparties shared by pairings, %d pairings placed in two units of one root", seed, shared, sharedByUnits)
	if shared == 0 || sharedByUnits == 0 || outside == 0 {
		t.Errorf("the worlds lack a case: %d shared counterparties, %d pairings in two units", shared, sharedByUnits)
	}
}

// TestOverviewNoUnits: without units, the overview is Figures and Trend,
// and Units stays nil (an empty list stays empty).
func TestOverviewNoUnits(t *testing.T) {
	_, l := fixture(t)
	from, to := readmodel.MonthOf(mar(1, 0)), readmodel.MonthOf(mar(1, 0))+1
	now := mar(20, 12)
	ids := []string{"p1", "p2", "p1"}
	ov := l.Overview(ids, nil, from, to, now)
	for _, d := range diffJSON(ov.Figures, l.Figures(ids, from, to, now)) {
		t.Errorf("figures: %s", d)
	}
	for _, d := range diffJSON(ov.Trend, l.Trend(ids, from, to, now)) {
		t.Errorf("trend: %s", d)
	}
	if ov.Units != nil {
		t.Errorf("got units %v, want none", ov.Units)
	}
	if ov := l.Overview(ids, [][]string{}, from, to, now); ov.Units == nil || len(ov.Units) != 0 {
		t.Errorf("got units %#v, want an empty list", ov.Units)
	}
}

// TestFiguresEachMatchesFigures: FiguresEach's [i] is Figures of the i-th
// pairing alone, figure by figure, on the random org trees of
// TestOverviewMatchesFigures, the pairings shuffled, one listed twice and
// one unknown. The comparison is shown able to fail: the pairings' figures
// differ from one another, and the same check finds two rows swapped or
// one dropped.
func TestFiguresEachMatchesFigures(t *testing.T) {
	seed := kpiSeed(t)
	periods := overviewPeriods()
	// mismatches lists where got differs from Figures of each of ids alone.
	mismatches := func(l *readmodel.Ledger, ids []string, got []readmodel.Figures, from, to readmodel.Month, now time.Time) []string {
		var out []string
		if len(got) != len(ids) {
			out = append(out, fmt.Sprintf("got %d rows, want %d", len(got), len(ids)))
		}
		for i, id := range ids[:min(len(ids), len(got))] {
			for _, d := range diffJSON(got[i], l.Figures([]string{id}, from, to, now)) {
				out = append(out, fmt.Sprintf("row %d (%s): %s", i, id, d))
			}
		}
		return out
	}
	for round := range 3 {
		w, _ := orgWorld(seed + uint64(round))
		h := newHarness(t)
		h.paths = w.paths
		h.addPairings(w.pairings...)
		for _, o := range w.ops {
			h.set(o.pid, o.coll, o.id, o.at, o.kv...)
		}
		l := h.ledger(kpiRules)
		refresh(t, h, l)
		b := readBrute(t, h, w.pairings)

		var ids []string
		for _, p := range w.pairings {
			ids = append(ids, p.ID)
		}
		w.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		ids = slices.Insert(ids, len(ids)/2, "p-unknown", ids[0])
		for _, pr := range periods {
			for _, now := range []time.Time{kpiNow, kpiNow.Add(40 * day)} {
				where := fmt.Sprintf("round %d %s at %s", round, pr.name, now.Format(time.DateOnly))
				got := l.FiguresEach(ids, pr.from, pr.to, now)
				for _, d := range mismatches(l, ids, got, pr.from, pr.to, now) {
					t.Errorf("%s: %s", where, d)
				}
				for i, id := range ids {
					if id != "p-unknown" && i < len(got) {
						for _, d := range diffJSON(got[i], b.figures([]string{id}, pr.from, pr.to, now)) {
							t.Errorf("%s: row %d (%s, brute force) %s", where, i, id, d)
						}
					}
				}
			}
		}

		// The pairings' figures differ, so that a row given another's
		// figures shows; and the check above finds a swap and a drop.
		pr := periods[2]
		got := l.FiguresEach(ids, pr.from, pr.to, kpiNow)
		distinct := map[string]int{}
		for i, f := range got {
			j, _ := json.Marshal(f)
			distinct[string(j)] = i
		}
		if len(distinct) < len(ids)*3/4 {
			t.Fatalf("round %d: only %d distinct figures among %d rows: a swap could pass unseen", round, len(distinct), len(ids))
		}
		i := slices.IndexFunc(got, func(f readmodel.Figures) bool { return len(diffJSON(f, got[0])) > 0 })
		swapped := slices.Clone(got)
		swapped[0], swapped[i] = swapped[i], swapped[0]
		if len(mismatches(l, ids, swapped, pr.from, pr.to, kpiNow)) == 0 {
			t.Errorf("round %d: rows 0 and %d swapped pass the comparison", round, i)
		}
		if len(mismatches(l, ids, slices.Delete(slices.Clone(got), i, i+1), pr.from, pr.to, kpiNow)) == 0 {
			t.Errorf("round %d: row %d dropped passes the comparison", round, i)
		}
	}
}

// overviewPeriod is a period the overview tests compare over.
type overviewPeriod struct {
	name     string
	from, to readmodel.Month
}

// overviewPeriods: a quarter, one month, a year across the start, a period
// after now, and an empty one.
func overviewPeriods() []overviewPeriod {
	jan := readmodel.MonthOf(kpiStart)
	return []overviewPeriod{
		{"quarter", jan, jan + 3}, {"february", jan + 1, jan + 2}, {"year", jan - 6, jan + 6},
		{"after now", jan + 4, jan + 6}, {"empty", jan, jan},
	}
}
