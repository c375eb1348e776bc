package readmodel

import (
	"slices"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
)

// Overview is what the administrators' overview shows of a set of
// pairings: its figures, its trend, and the figures of each unit below
// (each a set of pairings; units may overlap and need not lie within the
// set).
type Overview struct {
	Figures Figures
	Trend   []MonthFigures
	Units   []Figures
}

// Overview returns Figures(pairings, from, to, now) as Figures,
// Trend(pairings, from, to, now) as Trend and Figures(units[i], from, to,
// now) as Units[i] — equal to them, figure by figure — reading each
// pairing's book and directory entry once, however many of the sets hold it.
//
// Every figure of Figures is a sum over the pairings of the set (see
// Figures: counts, the numerators and denominators of the rates and means,
// coverage's visited and assigned counterparties, which are counted per
// pairing and rolled up as Σ visited ÷ Σ assigned, the snapshot's counts by
// status and overdue bucket; a rating counts once per (target, rater) and a
// target lies in one pairing). So each pairing's part (its sums over
// [from, to), coverage and snapshot) is computed once, and a set's figures
// are the sum of the parts of its distinct pairings, rates and means taken
// from the sums at the end. Ids repeated within one set count once, as in
// Figures; a pairing in two units counts in both, and once in pairings.
func (l *Ledger) Overview(pairings []string, units [][]string, from, to Month, now time.Time) Overview {
	ids := unique(pairings)
	// Place each unit's pairings: an index into parts, ids first, then the
	// pairings only units name; repeats within a unit dropped.
	all := ids
	var at map[string]int32
	var members []int32 // the units' parts, unit after unit
	ends := make([]int, len(units))
	if len(units) > 0 {
		all = slices.Clip(ids)
		at = make(map[string]int32, len(ids))
		for i, id := range ids {
			at[id] = int32(i)
		}
		var last []int32 // 1 + the unit the part was last placed in
		for u, list := range units {
			for _, id := range list {
				k, ok := at[id]
				if !ok {
					k = int32(len(all))
					at[id] = k
					all = append(all, id)
				}
				for int(k) >= len(last) {
					last = append(last, 0)
				}
				if last[k] != int32(u+1) {
					last[k] = int32(u + 1)
					members = append(members, k)
				}
			}
			ends[u] = len(members)
		}
	}

	trendTo := to
	if !now.IsZero() {
		trendTo = min(to, MonthOf(now)+1)
	}
	nt := max(int(trendTo-from), 0)
	trend := make([]counters, nt)
	trendVisited := make([]int64, nt)
	mark := make([]bool, nt)

	l.mu.RLock()
	defer l.mu.RUnlock()
	parts := make([]part, len(all))
	for k, id := range all {
		pt := &parts[k]
		b := l.books[id]
		pt.b = b
		inTrend := k < len(ids) // the trend is the pairings' only
		if p, ok := l.dir.Pairing(id); ok {
			if inTrend {
				pt.visited, pt.assigned = b.coverage(p, from, to, trendVisited, mark)
			} else {
				pt.visited, pt.assigned = b.coverage(p, from, to, nil, nil)
			}
		}
		if b == nil {
			continue
		}
		if inTrend {
			b.sumByMonth(&pt.sum, from, to, trend)
		} else {
			b.sum(&pt.sum, from, to)
		}
		b.overdue(&pt.overdue, now)
	}

	var out Overview
	root := newTally(now)
	for k := range ids {
		root.add(&parts[k])
	}
	out.Figures = root.figures(from, to)
	if nt > 0 {
		var assigned int64
		for k := range ids {
			assigned += parts[k].assigned
		}
		out.Trend = make([]MonthFigures, 0, nt)
		for i := range nt {
			mf := MonthFigures{Month: from + Month(i), PeriodFigures: trend[i].period()}
			mf.Coverage = rate(trendVisited[i], assigned)
			out.Trend = append(out.Trend, mf)
		}
	}
	if units != nil {
		out.Units = make([]Figures, len(units))
	}
	start := 0
	for u, end := range ends {
		t := newTally(now)
		for _, k := range members[start:end] {
			t.add(&parts[k])
		}
		out.Units[u] = t.figures(from, to)
		start = end
	}
	return out
}

// part is one pairing's share of a set's figures (Overview).
type part struct {
	sum               counters // months [from, to)
	visited, assigned int64    // coverage
	overdue           Overdue
	b                 *book // its counts by status (nil: no records yet)
}

// tally sums the parts of a set of distinct pairings.
type tally struct {
	n                 int
	sum               counters
	visited, assigned int64
	snap              Snapshot
}

func newTally(now time.Time) tally {
	return tally{snap: Snapshot{At: now, IssuesByStatus: map[pairing.IssueStatus]int{}, ProjectsByStatus: map[string]int{}}}
}

// add adds a pairing's part. Called with l.mu held (the book's counts).
func (t *tally) add(p *part) {
	t.n++
	t.sum.add(&p.sum)
	t.visited += p.visited
	t.assigned += p.assigned
	o := &t.snap.Overdue
	o.Total += p.overdue.Total
	o.Within3 += p.overdue.Within3
	o.Within7 += p.overdue.Within7
	o.Within30 += p.overdue.Within30
	o.Over30Days += p.overdue.Over30Days
	if p.b != nil {
		p.b.statuses(&t.snap)
	}
}

func (t *tally) figures(from, to Month) Figures {
	f := Figures{Pairings: t.n, From: from, To: to, PeriodFigures: t.sum.period(), Snapshot: t.snap}
	f.Coverage = rate(t.visited, t.assigned)
	return f
}

// sumByMonth is sum that also adds each month's counters to trend[m-from],
// for the months of [from, from+len(trend)) (len(trend) ≤ to-from).
func (b *book) sumByMonth(s *counters, from, to Month, trend []counters) {
	if to <= from {
		return
	}
	add := func(m Month, c *counters) {
		s.add(c)
		if i := int(m - from); i < len(trend) {
			trend[i].add(c)
		}
	}
	if int(to-from) <= len(b.months) {
		for m := from; m < to; m++ {
			if c := b.months[m]; c != nil {
				add(m, c)
			}
		}
		return
	}
	for m, c := range b.months {
		if m >= from && m < to {
			add(m, c)
		}
	}
}
