package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
)

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
	for _, a := range s.ledger.SLADue(now, s.sla.ConfirmAfter) {
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
