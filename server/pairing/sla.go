package pairing

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// The SLA (办理时限): the days an issue of a category has from its dispatch
// to a response, the days to sign (签收) and the days a contact has to
// confirm. Each is looked up in the org tree (OrgUnit.SLADays) from the
// pairing's first branch up to its committee, nearest unit first; where no
// unit sets it, the default: DefaultDueDays (an unknown or missing category
// counts as "other", 其他), DefaultSignDays, DefaultConfirmDays. One rule
// for the server (the ledger, the dispatch route, the SLA job) and the phone
// (mobile/wasm: DefaultIssueRules, with no org tree).

const slaDay = 24 * time.Hour

// daysFunc returns the days a key is set to (0: not set).
type daysFunc func(key string) int

// issueRules is the one rule behind DefaultIssueRules and SLA.IssueRules.
func issueRules(days daysFunc, category string) IssueRules {
	def, ok := DefaultDueDays[category]
	if !ok {
		def = DefaultDueDays[OtherCategory]
	}
	return IssueRules{
		DueAfter:   time.Duration(orDefault(days, category, def)) * slaDay,
		SignWithin: time.Duration(orDefault(days, SignDaysKey, DefaultSignDays)) * slaDay,
	}
}

func orDefault(days daysFunc, key string, def int) int {
	if days != nil {
		if d := days(key); d > 0 {
			return d
		}
	}
	return def
}

// DefaultIssueRules are the rules of an issue of the category when no org
// unit overrides them (OrgUnit.SLADays): DefaultDueDays (the "other"
// category's for an unknown one) and DefaultSignDays.
func DefaultIssueRules(category string) IssueRules {
	return issueRules(nil, category)
}

// The org tree is read again when Version says it moved (checked at most
// every unitCheckEvery), or after unitTTL in case a count was lost; without
// Version, every unitTTL. The process that changed a unit calls Invalidate.
const (
	unitCheckEvery = time.Second
	unitTTL        = time.Minute
)

// SLA looks the SLA days up in the org tree, which it reads through Units
// and keeps. The zero SLA (no Units) gives the defaults. Safe for
// concurrent use.
type SLA struct {
	// Units lists every org unit.
	Units func(ctx context.Context) ([]storage.OrgUnit, error)
	// Version, when set, is a count of org-unit writes that moves when any
	// process changes a unit (read before the tree: a write between the
	// two is read now or found by the next check).
	Version func(ctx context.Context) (uint64, error)
	// OnError, when set, hears of a failed read (the last tree read, or
	// the defaults, stay in force). (No logger here: the phone's
	// WebAssembly links this package.)
	OnError func(error)

	mu      sync.Mutex
	units   map[string]storage.OrgUnit
	version uint64    // the count the units were read at
	loaded  time.Time // when they were read (real time)
	checked time.Time // when the count was last read (real time)
}

// Invalidate makes the next look-up read the tree again.
func (s *SLA) Invalidate() {
	s.mu.Lock()
	s.units = nil
	s.mu.Unlock()
}

func (s *SLA) fail(err error) {
	if s.OnError != nil {
		s.OnError(err)
	}
}

func (s *SLA) tree(ctx context.Context) map[string]storage.OrgUnit {
	if s == nil || s.Units == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fresh := s.units != nil && time.Since(s.loaded) < unitTTL
	if fresh && (s.Version == nil || time.Since(s.checked) < unitCheckEvery) {
		return s.units
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var v uint64
	if s.Version != nil {
		var err error
		v, err = s.Version(ctx)
		s.checked = time.Now()
		if err != nil {
			s.fail(err)
			return s.units // keep the last known (nil: the defaults)
		}
		if fresh && v == s.version {
			return s.units
		}
	}
	list, err := s.Units(ctx)
	if err != nil {
		s.fail(err)
		return s.units
	}
	m := make(map[string]storage.OrgUnit, len(list))
	for _, u := range list {
		m[u.ID] = u
	}
	s.units, s.version, s.loaded = m, v, time.Now()
	return m
}

// days is the pairing's look-up: the SLA days of its first branch, then
// of that branch's ancestors.
func (s *SLA) days(p Pairing) daysFunc {
	if len(p.BranchPaths) == 0 {
		return nil
	}
	units := s.tree(context.Background())
	ids := strings.Split(strings.Trim(p.BranchPaths[0], "/"), "/")
	return func(key string) int {
		for i := len(ids) - 1; i >= 0; i-- {
			if d, ok := units[ids[i]].SLADays[key]; ok && d > 0 {
				return d
			}
		}
		return 0
	}
}

// IssueRules are the rules of an issue of the category in the pairing.
func (s *SLA) IssueRules(p Pairing, category string) IssueRules {
	return issueRules(s.days(p), category)
}

// ConfirmAfter is how long a contact of the pairing has to confirm a
// response before the issue is closed unconfirmed.
func (s *SLA) ConfirmAfter(p Pairing) time.Duration {
	return time.Duration(orDefault(s.days(p), ConfirmDaysKey, DefaultConfirmDays)) * slaDay
}

// Tree is the org tree as the issue rules see it now, by id (cached as
// said above).
func (s *SLA) Tree(ctx context.Context) map[string]storage.OrgUnit { return s.tree(ctx) }
