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

// unitTTL is how long SLA keeps the org tree: units change rarely, and a
// minute of staleness only delays a changed default (other processes catch
// up within it; the process that changed a unit calls Invalidate).
const unitTTL = time.Minute

// SLA looks the SLA days up in the org tree, which it reads through Units
// and keeps for a minute. The zero SLA (no Units) gives the defaults. Safe
// for concurrent use.
type SLA struct {
	// Units lists every org unit.
	Units func(ctx context.Context) ([]storage.OrgUnit, error)
	// OnError, when set, hears of a failed read of the tree (the last
	// tree read, or the defaults, stay in force). (No logger here: the
	// phone's WebAssembly links this package.)
	OnError func(error)

	mu    sync.Mutex
	at    time.Time
	units map[string]storage.OrgUnit
}

// Invalidate makes the next look-up read the tree again.
func (s *SLA) Invalidate() {
	s.mu.Lock()
	s.units = nil
	s.mu.Unlock()
}

func (s *SLA) tree(ctx context.Context) map[string]storage.OrgUnit {
	if s == nil || s.Units == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.units != nil && time.Since(s.at) < unitTTL {
		return s.units
	}
	list, err := s.Units(ctx)
	if err != nil {
		if s.OnError != nil {
			s.OnError(err)
		}
		return s.units // keep the last known (nil: the defaults)
	}
	m := make(map[string]storage.OrgUnit, len(list))
	for _, u := range list {
		m[u.ID] = u
	}
	s.units, s.at = m, time.Now()
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
