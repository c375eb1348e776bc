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
// [from, to), coverage and snapshot) is computed once and added to the
// tally of every set holding it; a set's figures are the sum of the parts
// of its distinct pairings, rates and means taken from the sums at the
// end. Ids repeated within one set count once, as in Figures; a pairing in
// two units counts in both, and once in pairings. Nothing is kept per
// pairing: the units a pairing is in are listed once (in, at) and each
// part is added as it is read.
func (l *Ledger) Overview(pairings []string, units [][]string, from, to Month, now time.Time) Overview {
	ids := unique(pairings)
	// Place each unit's pairings: an index into all, ids first, then the
	// pairings only units name; repeats within a unit dropped. Then invert:
	// the units of pairing k are in[at[k]:at[k+1]].
	all := ids
	var in, at []int32
	if len(units) > 0 {
		all = slices.Clip(ids)
		index := make(map[string]int32, len(ids))
		for i, id := range ids {
			index[id] = int32(i)
		}
		var members []int32 // the units' pairings, unit after unit
		ends := make([]int, len(units))
		var last []int32 // 1 + the unit pairing k was last placed in
		for u, list := range units {
			for _, id := range list {
				k, ok := index[id]
				if !ok {
					k = int32(len(all))
					index[id] = k
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
		at = make([]int32, len(all)+1)
		for _, k := range members {
			at[k+1]++
		}
		for k := range all {
			at[k+1] += at[k]
		}
		in = make([]int32, len(members))
		next := slices.Clone(at[:len(all)])
		u := 0
		for i, k := range members {
			for i >= ends[u] {
				u++
			}
			in[next[k]] = int32(u)
			next[k]++
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
	var names statusNames
	root := tally{}
	tallies := make([]tally, len(units))
	var assigned int64 // the trend's: the pairings'

	func() {
		l.mu.RLock()
		defer l.mu.RUnlock()
		var pt part
		for k, id := range all {
			if k < len(ids) { // the trend is the pairings' only
				l.readPart(&pt, id, from, to, now, &names, trend, trendVisited, mark)
				assigned += pt.assigned
				root.add(&pt)
			} else {
				l.readPart(&pt, id, from, to, now, &names, nil, nil, nil)
			}
			if at != nil {
				for _, u := range in[at[k]:at[k+1]] {
					tallies[u].add(&pt)
				}
			}
		}
	}()

	var out Overview
	out.Figures = root.figures(from, to, now, &names)
	if nt > 0 {
		out.Trend = make([]MonthFigures, 0, nt)
		for i := range nt {
			mf := MonthFigures{Month: from + Month(i), PeriodFigures: trend[i].period()}
			mf.Coverage = rate(trendVisited[i], assigned)
			out.Trend = append(out.Trend, mf)
		}
	}
	if units != nil {
		out.Units = make([]Figures, len(units))
		for u := range tallies {
			out.Units[u] = tallies[u].figures(from, to, now, &names)
		}
	}
	return out
}

// FiguresEach returns Figures([]string{pairings[i]}, from, to, now) as
// its [i] — equal to it, figure by figure — for every pairing of the list
// (the pairings report and export: one row each), under one lock and
// without Figures' per-call work. It is Overview's part of one pairing
// made into its tally's figures (readPart, tally): the same rule, no
// other sum. A pairing listed twice gets its figures twice.
func (l *Ledger) FiguresEach(pairings []string, from, to Month, now time.Time) []Figures {
	out := make([]Figures, len(pairings))
	var names statusNames
	var pt part
	var t tally
	l.mu.RLock()
	defer l.mu.RUnlock()
	for i, id := range pairings {
		l.readPart(&pt, id, from, to, now, &names, nil, nil, nil)
		t = tally{issues: t.issues[:0], projects: t.projects[:0]}
		t.add(&pt)
		out[i] = t.figures(from, to, now, &names)
	}
	return out
}

// readPart sets pt to pairing id's part. With a trend (len(trend) ≤
// to-from; nil for none) it also adds the pairing's counters of each month
// to trend and its counterparties visited in each month to trendVisited
// (mark is scratch of len(trend)). Called with l.mu held.
func (l *Ledger) readPart(pt *part, id string, from, to Month, now time.Time, names *statusNames, trend []counters, trendVisited []int64, mark []bool) {
	pt.reset()
	b := l.books[id]
	if p, ok := l.dir.Pairing(id); ok {
		pt.visited, pt.assigned = b.coverage(p, from, to, trendVisited, mark)
	}
	if b != nil {
		if trend != nil {
			b.sumByMonth(&pt.sum, from, to, trend)
		} else {
			b.sum(&pt.sum, from, to)
		}
		b.overdue(&pt.overdue, now)
		pt.statuses(b, names)
	}
}

// part is one pairing's share of a set's figures (Overview).
type part struct {
	sum               counters // months [from, to)
	visited, assigned int64    // coverage
	overdue           Overdue
	// Its open issues and its projects by status: (index in statusNames,
	// count), issues first.
	status  []statusCount
	nIssues int // of status
}

type statusCount struct{ i, n int }

// statusNames numbers the statuses an overview meets.
type statusNames struct {
	issues   []pairing.IssueStatus
	projects []string
}

func (p *part) reset() {
	*p = part{status: p.status[:0]}
}

// statuses reads the book's open issues and projects by status. Called
// with l.mu held.
func (p *part) statuses(b *book, names *statusNames) {
	for st, n := range b.issueStatus {
		if openStatus(st) {
			i := slices.Index(names.issues, st)
			if i < 0 {
				i = len(names.issues)
				names.issues = append(names.issues, st)
			}
			p.status = append(p.status, statusCount{i, n})
		}
	}
	p.nIssues = len(p.status)
	for st, n := range b.projectStatus {
		i := slices.Index(names.projects, st)
		if i < 0 {
			i = len(names.projects)
			names.projects = append(names.projects, st)
		}
		p.status = append(p.status, statusCount{i, n})
	}
}

// tally sums the parts of a set of distinct pairings.
type tally struct {
	n                 int
	sum               counters
	visited, assigned int64
	overdue           Overdue
	issues, projects  []int // by status (statusNames)
}

func (t *tally) add(p *part) {
	t.n++
	t.sum.add(&p.sum)
	t.visited += p.visited
	t.assigned += p.assigned
	o := &t.overdue
	o.Total += p.overdue.Total
	o.Within3 += p.overdue.Within3
	o.Within7 += p.overdue.Within7
	o.Within30 += p.overdue.Within30
	o.Over30Days += p.overdue.Over30Days
	for j, sc := range p.status {
		counts := &t.issues
		if j >= p.nIssues {
			counts = &t.projects
		}
		for sc.i >= len(*counts) {
			*counts = append(*counts, 0)
		}
		(*counts)[sc.i] += sc.n
	}
}

// figures are Figures' of the set: the snapshot's maps hold the statuses
// some pairing of the set counts (as Figures' do).
func (t *tally) figures(from, to Month, now time.Time, names *statusNames) Figures {
	snap := Snapshot{At: now, Overdue: t.overdue, IssuesByStatus: map[pairing.IssueStatus]int{}, ProjectsByStatus: map[string]int{}}
	for i, n := range t.issues {
		if n != 0 {
			snap.IssuesByStatus[names.issues[i]] = n
			snap.IssuesOpen += n
		}
	}
	for i, n := range t.projects {
		if n != 0 {
			st := names.projects[i]
			snap.ProjectsByStatus[st] = n
			if plannedStatus(st) {
				snap.ProjectsPlanned += n
			}
		}
	}
	f := Figures{Pairings: t.n, From: from, To: to, PeriodFigures: t.sum.period(), Snapshot: snap}
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
