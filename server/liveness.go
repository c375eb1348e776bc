package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/storage"
)

// Session liveness (SECURITY.md item 12). An access token is
// signed for ten minutes, but the sign-in behind it can end before that:
// logout, a password change, a reused refresh token, an administrator
// disabling the user or revoking the device. Every authenticated request
// therefore checks, after the signature, that
//
//   - the user exists and is not disabled,
//   - the device the token is bound to (if any) is the user's and is not
//     revoked,
//   - the sign-in (refresh-token family, the token's "sid") is live.
//
// The state is read from storage (User, Device, SessionLive), so every
// server process of a scale-out deployment agrees on it. To keep
// the sync hot path cheap, a process caches each (user, device, family)
// answer for liveTTL: a burst of pushes, pull pages and photo parts costs
// three point reads, not three per request. A process that ends a session
// itself (logout, disable, revoke, password change) forgets its whole cache
// at once, so the refusal is immediate there; other processes see it within
// liveTTL. The choice over a generation number kept in the token: that
// would still need a read per request to compare against, and would add a
// counter to keep in step on every revocation path.
const (
	liveTTL = time.Second
	// liveMaxEntries bounds the cache: one entry per active sign-in and
	// device. When full, expired entries go first, then all of them (a
	// cache: forgetting costs reads, never correctness).
	liveMaxEntries = 50_000
)

type liveKey struct{ user, device, family string }

type liveAnswer struct {
	at  time.Time
	err error // nil, errUnauthorized or deviceRevoked()
}

// liveness is the per-process cache in front of the stored session state.
// Safe for concurrent use.
type liveness struct {
	mu      sync.Mutex
	entries map[liveKey]liveAnswer
	// epoch counts forget calls: an answer read from storage before a
	// forget is not cached after it (it may predate the revocation).
	epoch uint64
}

// forget drops every cached answer: called by whatever ends a session in
// this process, so that its next request is checked against storage.
func (l *liveness) forget() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = nil
	l.epoch++
}

func (l *liveness) get(k liveKey, now time.Time) (liveAnswer, uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.entries[k]
	fresh := ok && !now.Before(a.at) && now.Sub(a.at) < liveTTL
	return a, l.epoch, fresh
}

func (l *liveness) put(k liveKey, a liveAnswer, epoch uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if epoch != l.epoch {
		return
	}
	if l.entries == nil {
		l.entries = map[liveKey]liveAnswer{}
	}
	if len(l.entries) >= liveMaxEntries {
		for key, old := range l.entries {
			if a.at.Sub(old.at) >= liveTTL || a.at.Before(old.at) {
				delete(l.entries, key)
			}
		}
		if len(l.entries) >= liveMaxEntries {
			clear(l.entries)
		}
	}
	l.entries[k] = a
}

// checkLive answers nil when the token's sign-in is live, errUnauthorized
// when the user is gone or disabled or the sign-in ended, deviceRevoked()
// when its device was revoked (the client then wipes its local data), or a
// storage error (503 when storage is down: not cached).
func (s *Server) checkLive(ctx context.Context, cl *auth.Claims) error {
	k := liveKey{user: cl.Subject, device: cl.Device, family: cl.Family}
	now := s.now()
	a, epoch, fresh := s.live.get(k, now)
	if !fresh {
		verdict, err := s.readLive(ctx, k, now)
		if err != nil {
			return err
		}
		a = liveAnswer{at: now}
		if verdict != nil {
			a.err = verdict
		}
		s.live.put(k, a, epoch)
	}
	return a.err
}

// readLive reads the state behind a token from storage: the verdict (nil:
// live), or a failure to read it.
func (s *Server) readLive(ctx context.Context, k liveKey, now time.Time) (*Error, error) {
	u, err := s.store.User(ctx, k.user)
	if errors.Is(err, storage.ErrNotFound) {
		return errUnauthorized, nil
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return errUnauthorized, nil
	}
	if k.device != "" {
		d, err := s.store.Device(ctx, k.device)
		if errors.Is(err, storage.ErrNotFound) || err == nil && d.UserID != u.ID {
			return errUnauthorized, nil
		}
		if err != nil {
			return nil, err
		}
		if !d.RevokedAt.IsZero() {
			return deviceRevoked(), nil
		}
	}
	// Every token the server issues names its sign-in; one that does not
	// cannot be ended by logout, so it is not accepted.
	live, err := s.store.SessionLive(ctx, k.family, now.UTC())
	if err != nil {
		return nil, err
	}
	if !live {
		return errUnauthorized, nil
	}
	return nil, nil
}

// forgettingStore is the store as the server uses it: every write that can
// end a session (revoking sessions, a reused refresh token, changing a user,
// revoking a device) makes this process forget its cached liveness after
// the write, in this one place, whichever handler made it.
type forgettingStore struct {
	storage.Store
	live *liveness
}

func (f forgettingStore) RevokeSessions(ctx context.Context, filter storage.SessionFilter, now time.Time) (int, error) {
	n, err := f.Store.RevokeSessions(ctx, filter, now)
	f.live.forget()
	return n, err
}

func (f forgettingStore) RotateSession(ctx context.Context, hash string, now time.Time, next storage.Session) (storage.Session, error) {
	old, err := f.Store.RotateSession(ctx, hash, now, next)
	if err != nil {
		f.live.forget() // a reused token revoked its family
	}
	return old, err
}

func (f forgettingStore) UpdateUser(ctx context.Context, u storage.User) (storage.User, error) {
	nu, err := f.Store.UpdateUser(ctx, u)
	f.live.forget()
	return nu, err
}

func (f forgettingStore) UpdateDevice(ctx context.Context, d storage.Device) (storage.Device, error) {
	nd, err := f.Store.UpdateDevice(ctx, d)
	if !d.RevokedAt.IsZero() {
		f.live.forget()
	}
	return nd, err
}
