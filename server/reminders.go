package server

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/pairsync/pairsync/server/notify"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/storage"
)

// The notifications that time causes rather than a write (issue 17): the
// reminder of an issue due within 24 h, and the daily 待办 digest. The SLA
// job runs both (RunSLA), in the one process holding its lease; their ids
// are deterministic, so a second run or process adds none.

// notifyActivation plans and commits the activation link's notification
// to the user's phone (only on a channel that reaches it; none: nothing,
// and the administrator hands the code over). It reports whether one was
// written. The id comes from the code's hash, so the code is sent once.
// The code lives in the identity store, outside the records' transaction:
// the notification is committed right after it and before the answer, so
// a crash between leaves a code nobody was shown (the administrator
// resets it).
func (s *Server) notifyActivation(ctx context.Context, u storage.User, orgPath string, a storage.Activation, link string) (bool, error) {
	ns, err := s.notify.planner.PlanActivation(ctx, u, orgPath, a.CodeHash, link, a.ExpiresAt, s.now())
	if err != nil || len(ns) == 0 {
		return false, err
	}
	if _, err := s.store.Commit(ctx, storage.Batch{Notifications: ns}); err != nil {
		return false, err
	}
	return true, nil
}

// remindDueSoon plans the 即将超期 reminders due at the SLA job's now; a
// reminder already in the outbox is not planned again (its id says so).
func (s *Server) remindDueSoon(ctx context.Context) (int, error) {
	if len(s.notify.planner.Channels) == 0 {
		return 0, nil
	}
	now := s.now().UTC()
	var batch []storage.Notification
	for _, d := range s.ledger.DueSoon(now) {
		pr, ok := s.dir.Pairing(d.Pairing)
		if !ok {
			continue
		}
		ns, err := s.notify.planner.PlanDueSoon(ctx, pr, d, now)
		if err != nil {
			return 0, err
		}
		for _, n := range ns {
			if _, err := s.store.Notification(ctx, n.ID); err == nil {
				continue
			}
			batch = append(batch, n)
		}
	}
	return len(batch), s.commitNotifications(ctx, batch)
}

// commitNotifications writes notifications that no record change causes,
// in batches.
func (s *Server) commitNotifications(ctx context.Context, ns []storage.Notification) error {
	const per = 200
	for len(ns) > 0 {
		n := min(per, len(ns))
		if _, err := s.store.Commit(ctx, storage.Batch{Notifications: ns[:n]}); err != nil {
			return err
		}
		ns = ns[n:]
	}
	return nil
}

// digests remembers the last day this process planned the digest.
type digests struct {
	mu  sync.Mutex
	day string
}

// RunDigest plans the daily 待办 digest once the day's 08:30 (Asia/Shanghai)
// has passed at the server's clock: one notification to each officer,
// contact and administrator with anything waiting (readmodel.Ledger.Todos,
// the apps' rule; administrators sum the pairings of their subtree).
// Viewers act on nothing and get none. It returns how many it planned
// (0 before 08:30, and once the day is done in this process; a restart
// plans the same ids again, which the outbox keeps once).
func (s *Server) RunDigest(ctx context.Context) (int, error) {
	if len(s.notify.planner.Channels) == 0 {
		return 0, nil
	}
	now := s.now().UTC()
	day, due := notify.DigestDay(now)
	s.digest.mu.Lock()
	defer s.digest.mu.Unlock()
	if !due || s.digest.day == day {
		return 0, nil
	}
	if err := s.dir.Refresh(ctx); err != nil {
		return 0, err
	}
	if err := s.ledger.Refresh(ctx); err != nil {
		return 0, err
	}
	people, byPairing := s.ledger.Todos(now)
	units, err := s.store.OrgUnits(ctx, "")
	if err != nil {
		return 0, err
	}
	paths := make(map[string]string, len(units))
	for _, u := range units {
		paths[u.ID] = u.Path
	}
	var out []storage.Notification
	plan := func(u storage.User, t readmodel.Todo) error {
		if u.Disabled {
			return nil
		}
		var orgPaths []string
		if p := paths[u.OrgUnit]; p != "" {
			orgPaths = []string{p}
		}
		ns, err := s.notify.planner.PlanDigest(ctx, u, orgPaths, t, day, now)
		out = append(out, ns...)
		return err
	}
	for id, t := range people {
		u, err := s.store.User(ctx, id)
		if err != nil {
			continue // a handler or contact since deleted
		}
		if u.Role != string(pairing.Officer) && u.Role != string(pairing.Contact) {
			continue // an administrator handling an issue: their subtree's digest counts it
		}
		if err := plan(u, t); err != nil {
			return 0, err
		}
	}
	after := ""
	for {
		admins, more, err := s.store.ListUsers(ctx, storage.UserQuery{Role: string(pairing.Admin), After: after, Limit: 500})
		if err != nil {
			return 0, err
		}
		for _, a := range admins {
			root := paths[a.OrgUnit]
			if root == "" {
				continue
			}
			var t readmodel.Todo
			for pid, pt := range byPairing {
				pr, ok := s.dir.Pairing(pid)
				if ok && slices.ContainsFunc(pr.BranchPaths, func(p string) bool { return strings.HasPrefix(p, root) }) {
					t.Add(pt)
				}
			}
			if err := plan(a, t); err != nil {
				return 0, err
			}
		}
		if !more || len(admins) == 0 {
			break
		}
		after = admins[len(admins)-1].Username
	}
	if err := s.commitNotifications(ctx, out); err != nil {
		return 0, err
	}
	s.digest.day = day
	return len(out), nil
}
