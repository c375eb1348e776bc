package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
)

// unitCache keeps the org tree's SLA settings for the issue rules, which the
// ledger asks for on every issue it derives. Every replica keeps its own,
// and learns of a change made by any process from the store's
// OrgUnitsVersion (a count of org-unit writes), read at most every
// unitCheckEvery: a changed due-date default reaches every replica within
// about a second. The tree is read again only when the count moved, or
// after unitCacheTTL in case a count was lost (MongoDB bumps it after the
// write, without a transaction).
type unitCache struct {
	mu      sync.Mutex
	units   map[string]storage.OrgUnit
	version uint64    // the count the units were read at
	loaded  time.Time // when they were read (real time)
	checked time.Time // when the count was last read (real time)
}

const (
	unitCheckEvery = time.Second
	unitCacheTTL   = time.Minute
)

// invalidate makes the next lookup read the tree again (after this
// process changed a unit; the others see the count move).
func (c *unitCache) invalidate() {
	c.mu.Lock()
	c.units = nil
	c.mu.Unlock()
}

func (s *Server) orgUnits(ctx context.Context) map[string]storage.OrgUnit {
	c := &s.units
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.units != nil && time.Since(c.checked) < unitCheckEvery && time.Since(c.loaded) < unitCacheTTL {
		return c.units
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	// The count is read before the tree: a write between the two is read
	// now or found by the next check.
	v, err := s.store.OrgUnitsVersion(ctx)
	c.checked = time.Now()
	if err != nil {
		s.log.Warn("org units version for the issue rules", "err", err)
		return c.units // keep the last known (nil: the defaults)
	}
	if c.units != nil && v == c.version && time.Since(c.loaded) < unitCacheTTL {
		return c.units
	}
	list, err := s.store.OrgUnits(ctx, "")
	if err != nil {
		s.log.Warn("org units for the issue rules", "err", err)
		return c.units
	}
	m := make(map[string]storage.OrgUnit, len(list))
	for _, u := range list {
		m[u.ID] = u
	}
	c.units, c.version, c.loaded = m, v, time.Now()
	return m
}

// slaDays looks key up in the SLA days of the pairing's first branch and
// then its ancestors; def when no unit sets it.
func (s *Server) slaDays(ctx context.Context, pr pairing.Pairing, key string, def int) int {
	if len(pr.BranchPaths) == 0 {
		return def
	}
	units := s.orgUnits(ctx)
	ids := strings.Split(strings.Trim(pr.BranchPaths[0], "/"), "/")
	for i := len(ids) - 1; i >= 0; i-- {
		if d, ok := units[ids[i]].SLADays[key]; ok && d > 0 {
			return d
		}
	}
	return def
}

// issueRules are an issue's SLA parameters: the days to resolve its
// category and the days to sign, from the org tree (OrgUnit.SLADays,
// nearest unit first) or pairing.DefaultDueDays.
func (s *Server) issueRules(pr pairing.Pairing, category string) pairing.IssueRules {
	ctx := context.Background()
	def, ok := pairing.DefaultDueDays[category]
	if !ok {
		def = pairing.DefaultDueDays["other"]
	}
	day := 24 * time.Hour
	return pairing.IssueRules{
		DueAfter:   time.Duration(s.slaDays(ctx, pr, category, def)) * day,
		SignWithin: time.Duration(s.slaDays(ctx, pr, pairing.SignDaysKey, pairing.DefaultSignDays)) * day,
	}
}

// confirmAfter is how long a contact has to confirm a response.
func (s *Server) confirmAfter(pr pairing.Pairing) time.Duration {
	return time.Duration(s.slaDays(context.Background(), pr, pairing.ConfirmDaysKey, pairing.DefaultConfirmDays)) * 24 * time.Hour
}

// systemPrincipal is who the server's own events are by.
var systemPrincipal = pairing.Principal{UserID: "system", Role: pairing.RoleSystem}

// RunSLA appends the events time makes due: "overdue" for dispatched
// issues past their due date, "closed_unconfirmed" for responses the
// contact has not confirmed in time. Each event's id is derived from the
// issue and the deadline it marks, and is written only if absent, so the
// job is idempotent across restarts and across server processes running it
// at once. It returns how many events it appended.
func (s *Server) RunSLA(ctx context.Context) (int, error) {
	if err := s.dir.Refresh(ctx); err != nil {
		return 0, err
	}
	if err := s.ledger.Load(ctx); err != nil {
		return 0, err
	}
	now := s.now().UTC()
	n := 0
	for _, a := range s.ledger.SLADue(now, s.confirmAfter) {
		id := fmt.Sprintf("sla-%s-%s-%d", a.Type, a.Issue, a.Due.Unix())
		values, _ := jsonValues(map[string]any{"issue": a.Issue, "type": string(a.Type), "at": now.Format(time.RFC3339),
			"by": systemPrincipal.UserID, "role": string(systemPrincipal.Role), "due": a.Due.UTC().Format(time.RFC3339)})
		_, _, err := s.writeAs(ctx, systemPrincipal, pairing.CollIssueEvents, id, a.Pairing, values, writeOptions{create: true})
		var e *Error
		switch {
		case err == nil:
			n++
		case errors.As(err, &e) && e.Status == http.StatusConflict:
			// Another process (or an earlier run) appended it.
		default:
			return n, fmt.Errorf("sla %s %s: %w", a.Type, a.Issue, err)
		}
	}
	// The reminders time causes (reminders.go): 即将超期 to the handler,
	// and the day's 待办 digest from 08:30.
	if _, err := s.remindDueSoon(ctx); err != nil {
		return n, fmt.Errorf("sla due-soon reminders: %w", err)
	}
	if _, err := s.RunDigest(ctx); err != nil {
		return n, fmt.Errorf("sla digest: %w", err)
	}
	return n, nil
}

// leads reports whether this process holds (or now takes) the lease of a
// background job: with several server processes on one database, each job
// runs in one of them at a time (the jobs are idempotent anyway; the lease
// saves the others the work). A lease not renewed within ttl passes on.
func (s *Server) leads(ctx context.Context, job string, ttl time.Duration) bool {
	ok, err := s.store.AcquireLease(ctx, job, string(s.writer.w.Replica), time.Now(), ttl)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("lease", "job", job, "err", err)
		}
		return false
	}
	return ok
}

// RunSLALoop runs RunSLA every interval until ctx ends, in the one process
// that holds the "sla" lease.
func (s *Server) RunSLALoop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	collected := false
	for {
		if !s.leads(ctx, "sla", 2*interval) {
			// Another process runs it; keep the ledger warm all the same.
			_ = s.ledger.Load(ctx)
		} else if n, err := s.RunSLA(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sla sweep failed", "err", err)
		} else if n > 0 {
			s.log.Info("sla events appended", "events", n)
		}
		if !collected && s.ledger.Loaded() {
			// The load (every feed read once, at start) leaves garbage
			// several times the size of what the ledger keeps: give it
			// back now rather than at the next GC cycles.
			debug.FreeOSMemory()
			collected = true
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
