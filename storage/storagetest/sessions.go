package storagetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

func (s suite) sessions(t *testing.T) {
	t.Run("Create", s.sessionsCreate)
	t.Run("Rotate", s.sessionsRotate)
	t.Run("RotateRefused", s.sessionsRotateRefused)
	t.Run("Reuse", s.sessionsReuse)
	t.Run("ConcurrentRotate", s.sessionsConcurrentRotate)
	t.Run("Revoke", s.sessionsRevoke)
	t.Run("BindDevice", s.sessionsBindDevice)
	t.Run("Live", s.sessionsLive)
}

// sessionsLive: a family is live while one of its tokens, used or not, is
// neither revoked nor expired; revoking it (by family, user or device)
// or its expiry ends it, and other families are untouched.
func (s suite) sessionsLive(t *testing.T) {
	ss := s.open(t)
	ctx := t.Context()
	now := t0.Add(time.Hour)
	mustCreateSession(t, ss, session("L1a", "L1", "u1", "D1"))
	mustRotate(t, ss, "L1a", "L1b", t0.Add(time.Minute))
	mustCreateSession(t, ss, session("L2a", "L2", "u1", ""))
	mustCreateSession(t, ss, session("L3a", "L3", "u2", "D2"))
	liveness := func(now time.Time) string {
		var out []string
		for _, f := range []string{"L1", "L2", "L3", "L9", ""} {
			ok, err := ss.SessionLive(ctx, f, now)
			wantErr(t, "session live "+f, err, nil)
			out = append(out, fmt.Sprintf("%s:%v", f, ok))
		}
		return strings.Join(out, " ")
	}
	equal(t, "live at first", liveness(now), "L1:true L2:true L3:true L9:false :false")
	equal(t, "live after the families' end", liveness(tExp), "L1:false L2:false L3:false L9:false :false")
	if _, err := ss.RevokeSessions(ctx, storage.SessionFilter{Family: "L1"}, now); err != nil {
		t.Fatal(err)
	}
	equal(t, "after revoking L1", liveness(now), "L1:false L2:true L3:true L9:false :false")
	if _, err := ss.RevokeSessions(ctx, storage.SessionFilter{DeviceID: "D2"}, now); err != nil {
		t.Fatal(err)
	}
	equal(t, "after revoking D2", liveness(now), "L1:false L2:true L3:false L9:false :false")
	if _, err := ss.RevokeSessions(ctx, storage.SessionFilter{UserID: "u1"}, now); err != nil {
		t.Fatal(err)
	}
	equal(t, "after revoking u1", liveness(now), "L1:false L2:false L3:false L9:false :false")
}

// tExp is the end of the suite's session families: sign-in at t0 + 30 days.
var tExp = t0.Add(30 * 24 * time.Hour)

// tok returns the token hash (hex SHA-256) of a named token.
func tok(name string) string { return sum([]byte("token " + name)) }

// session returns token name of a family signed in at t0.
func session(name, family, user, device string) storage.Session {
	return storage.Session{TokenHash: tok(name), Family: family, UserID: user, DeviceID: device, IssuedAt: t0, ExpiresAt: tExp}
}

// briefSession renders a session: "family user device state", then times.
func briefSession(s storage.Session) string {
	device := s.DeviceID
	if device == "" {
		device = "-"
	}
	return fmt.Sprintf("%s %s %s %s issued %s expires %s used %s revoked %s", s.Family, s.UserID, device, sessionState(s),
		s.IssuedAt.UTC(), s.ExpiresAt.UTC(), s.UsedAt.UTC(), s.RevokedAt.UTC())
}

// sessionState is "live", "used", "revoked" or "used+revoked".
func sessionState(s storage.Session) string {
	switch {
	case s.UsedAt.IsZero() && s.RevokedAt.IsZero():
		return "live"
	case s.RevokedAt.IsZero():
		return "used"
	case s.UsedAt.IsZero():
		return "revoked"
	default:
		return "used+revoked"
	}
}

// sameSession fails t unless got equals want, comparing times as instants.
func sameSession(t *testing.T, what string, got, want storage.Session) {
	t.Helper()
	g, w := got, want
	for _, p := range []*storage.Session{&g, &w} {
		p.IssuedAt, p.ExpiresAt, p.UsedAt, p.RevokedAt = p.IssuedAt.UTC(), p.ExpiresAt.UTC(), p.UsedAt.UTC(), p.RevokedAt.UTC()
	}
	if g != w {
		t.Fatalf("%s: got %s, want %s", what, briefSession(got), briefSession(want))
	}
}

// states renders the named tokens as "name:state" ("absent" when unknown).
func states(t *testing.T, ss storage.Sessions, names ...string) string {
	t.Helper()
	var out []string
	for _, name := range names {
		s, err := ss.Session(t.Context(), tok(name))
		switch {
		case errors.Is(err, storage.ErrNotFound):
			out = append(out, name+":absent")
		case err != nil:
			t.Fatalf("session %s: got error %v, want none or ErrNotFound", name, err)
		default:
			out = append(out, name+":"+sessionState(s))
		}
	}
	return strings.Join(out, " ")
}

func mustSession(t *testing.T, ss storage.Sessions, name string) storage.Session {
	t.Helper()
	s, err := ss.Session(t.Context(), tok(name))
	if err != nil {
		t.Fatalf("session %s: got error %v, want none", name, err)
	}
	return s
}

func mustCreateSession(t *testing.T, ss storage.Sessions, s storage.Session) {
	t.Helper()
	if err := ss.CreateSession(t.Context(), s); err != nil {
		t.Fatalf("create session %s…: got error %v, want none", s.TokenHash[:8], err)
	}
}

// mustRotate exchanges token name for next at now.
func mustRotate(t *testing.T, ss storage.Sessions, name, next string, now time.Time) storage.Session {
	t.Helper()
	old, err := ss.RotateSession(t.Context(), tok(name), now, storage.Session{TokenHash: tok(next)})
	if err != nil {
		t.Fatalf("rotate %s → %s: got error %v, want none", name, next, err)
	}
	return old
}

func (s suite) sessionsCreate(t *testing.T) {
	ss := s.open(t)
	ctx := t.Context()
	_, err := ss.Session(ctx, tok("a1"))
	wantErr(t, "absent session", err, storage.ErrNotFound)

	a1 := session("a1", "fa", "u1", "d1")
	mustCreateSession(t, ss, a1)
	sameSession(t, "session a1", mustSession(t, ss, "a1"), a1)
	b1 := session("b1", "fb", "u1", "")
	mustCreateSession(t, ss, b1)
	sameSession(t, "session b1 (no device)", mustSession(t, ss, "b1"), b1)

	// A zero IssuedAt is stamped (another user: nothing of u1's expires).
	before := time.Now().Add(-time.Second)
	z := session("z1", "fz", "u9", "")
	z.IssuedAt, z.ExpiresAt = time.Time{}, time.Now().Add(time.Hour)
	mustCreateSession(t, ss, z)
	if got := mustSession(t, ss, "z1"); got.IssuedAt.Before(before) || got.IssuedAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("session with zero IssuedAt: got IssuedAt %v, want about now", got.IssuedAt)
	}

	for _, tc := range []struct {
		name    string
		session storage.Session
		want    error
	}{
		{"hash taken", session("a1", "fx", "u2", ""), storage.ErrExists},
		{"hash taken in the same family", session("a1", "fa", "u1", "d1"), storage.ErrExists},
		{"empty hash", storage.Session{Family: "fx", UserID: "u2", IssuedAt: t0, ExpiresAt: tExp}, storage.ErrInvalid},
		{"hash not hex SHA-256", storage.Session{TokenHash: "not-a-hash", Family: "fx", UserID: "u2", IssuedAt: t0, ExpiresAt: tExp}, storage.ErrInvalid},
		{"hash in upper case", storage.Session{TokenHash: strings.ToUpper(tok("x1")), Family: "fx", UserID: "u2", IssuedAt: t0, ExpiresAt: tExp}, storage.ErrInvalid},
		{"empty family", session("x1", "", "u2", ""), storage.ErrInvalid},
		{"empty user", session("x1", "fx", "", ""), storage.ErrInvalid},
		{"zero expiry", storage.Session{TokenHash: tok("x1"), Family: "fx", UserID: "u2", IssuedAt: t0}, storage.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ss.CreateSession(ctx, tc.session)
			wantErr(t, "create", err, tc.want)
			sameSession(t, "session a1 after a refused create", mustSession(t, ss, "a1"), a1)
			equal(t, "refused token", states(t, ss, "x1"), "x1:absent")
			n, err := ss.RevokeSessions(ctx, storage.SessionFilter{UserID: "u2"}, t0)
			wantErr(t, "revoke u2's sessions", err, nil)
			equal(t, "u2's sessions revoked after a refused create", n, 0)
		})
	}
}

func (s suite) sessionsRotate(t *testing.T) {
	ss := s.open(t)
	ctx := t.Context()
	a1 := session("a1", "fa", "u1", "d1")
	mustCreateSession(t, ss, a1)
	mustCreateSession(t, ss, session("b1", "fb", "u1", "d2"))

	// The server knows only the new token's hash: the rest comes from the
	// old token. A later ExpiresAt does not extend the family.
	now1 := t0.Add(10 * time.Minute)
	old, err := ss.RotateSession(ctx, tok("a1"), now1, storage.Session{TokenHash: tok("a2"), ExpiresAt: tExp.AddDate(1, 0, 0)})
	wantErr(t, "rotate a1", err, nil)
	wantOld := a1
	wantOld.UsedAt = now1
	sameSession(t, "returned old token", old, wantOld)
	sameSession(t, "stored old token", mustSession(t, ss, "a1"), wantOld)
	a2 := storage.Session{TokenHash: tok("a2"), Family: "fa", UserID: "u1", DeviceID: "d1", IssuedAt: now1, ExpiresAt: tExp}
	sameSession(t, "next token (zero IssuedAt: now)", mustSession(t, ss, "a2"), a2)

	// The family and user may be named, if they are the old token's.
	now2 := t0.Add(20 * time.Minute)
	next := storage.Session{TokenHash: tok("a3"), Family: "fa", UserID: "u1", DeviceID: "d1", IssuedAt: now2.Add(time.Second)}
	old, err = ss.RotateSession(ctx, tok("a2"), now2, next)
	wantErr(t, "rotate a2", err, nil)
	a2.UsedAt = now2
	sameSession(t, "returned old token a2", old, a2)
	next.ExpiresAt = tExp
	sameSession(t, "next token a3 (IssuedAt as given)", mustSession(t, ss, "a3"), next)

	equal(t, "tokens", states(t, ss, "a1", "a2", "a3", "b1"), "a1:used a2:used a3:live b1:live")
	// A token may be rotated until its family's end.
	mustRotate(t, ss, "a3", "a4", tExp.Add(-time.Millisecond))
	equal(t, "tokens", states(t, ss, "a3", "a4"), "a3:used a4:live")
}

func (s suite) sessionsRotateRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		hash string
		now  time.Time
		next storage.Session
		want error
	}{
		{"unknown token", tok("nope"), t0.Add(time.Minute), storage.Session{TokenHash: tok("a2")}, storage.ErrNotFound},
		{"malformed token hash", "nope", t0.Add(time.Minute), storage.Session{TokenHash: tok("a2")}, storage.ErrNotFound},
		{"expired family", tok("a1"), tExp, storage.Session{TokenHash: tok("a2")}, storage.ErrNotFound},
		{"malformed next hash", tok("a1"), t0.Add(time.Minute), storage.Session{TokenHash: "a2"}, storage.ErrInvalid},
		{"next names another family", tok("a1"), t0.Add(time.Minute), storage.Session{TokenHash: tok("a2"), Family: "fb"}, storage.ErrInvalid},
		{"next names another user", tok("a1"), t0.Add(time.Minute), storage.Session{TokenHash: tok("a2"), UserID: "u2"}, storage.ErrInvalid},
		{"next names another device", tok("a1"), t0.Add(time.Minute), storage.Session{TokenHash: tok("a2"), DeviceID: "d9"}, storage.ErrInvalid},
		{"next hash taken", tok("a1"), t0.Add(time.Minute), storage.Session{TokenHash: tok("b1")}, storage.ErrExists},
		{"next hash is the old one", tok("a1"), t0.Add(time.Minute), storage.Session{TokenHash: tok("a1")}, storage.ErrExists},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss := s.open(t)
			a1 := session("a1", "fa", "u1", "d1")
			mustCreateSession(t, ss, a1)
			mustCreateSession(t, ss, session("b1", "fb", "u1", ""))
			_, err := ss.RotateSession(t.Context(), tc.hash, tc.now, tc.next)
			wantErr(t, "rotate", err, tc.want)
			// Nothing written: a1 is unused and still rotates.
			equal(t, "tokens after a refused rotation", states(t, ss, "a1", "a2", "b1"), "a1:live a2:absent b1:live")
			sameSession(t, "a1 after a refused rotation", mustSession(t, ss, "a1"), a1)
			mustRotate(t, ss, "a1", "a3", t0.Add(time.Hour))
		})
	}
}

// sessionsReuse presents used and revoked tokens: each time the whole
// family ends revoked (the token just issued included), nothing is stored,
// and the other families are untouched.
func (s suite) sessionsReuse(t *testing.T) {
	ss := s.open(t)
	ctx := t.Context()
	mustCreateSession(t, ss, session("a1", "fa", "u1", "d1"))
	mustCreateSession(t, ss, session("b1", "fb", "u1", "d1"))
	mustCreateSession(t, ss, session("c1", "fc", "u2", "d2"))
	now1, now2 := t0.Add(10*time.Minute), t0.Add(time.Hour)
	mustRotate(t, ss, "a1", "a2", now1) // a2 is the token just issued

	a1 := mustSession(t, ss, "a1")
	old, err := ss.RotateSession(ctx, tok("a1"), now2, storage.Session{TokenHash: tok("a9")})
	wantErr(t, "reuse of used a1", err, storage.ErrConflict)
	sameSession(t, "returned old token (as it was)", old, a1)
	equal(t, "tokens after the reuse", states(t, ss, "a1", "a2", "a9", "b1", "c1"), "a1:used+revoked a2:revoked a9:absent b1:live c1:live")
	for _, name := range []string{"a1", "a2"} {
		sameTime(t, name+" RevokedAt", mustSession(t, ss, name).RevokedAt, now2)
	}
	sameTime(t, "a1 UsedAt after the reuse", mustSession(t, ss, "a1").UsedAt, now1)

	// The thief's and the owner's tokens are both dead now.
	for _, tc := range []struct {
		name, token, next string
		wantOld           string
	}{
		{"revoked a2 (the owner's)", "a2", "a8", "revoked"},
		{"used a1 again", "a1", "a7", "used+revoked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, err := ss.RotateSession(ctx, tok(tc.token), now2.Add(time.Minute), storage.Session{TokenHash: tok(tc.next)})
			wantErr(t, "rotate", err, storage.ErrConflict)
			equal(t, "returned old token", old.TokenHash+" "+sessionState(old), tok(tc.token)+" "+tc.wantOld)
			equal(t, "tokens", states(t, ss, "a1", "a2", tc.next, "b1", "c1"),
				"a1:used+revoked a2:revoked "+tc.next+":absent b1:live c1:live")
			sameTime(t, "a2 RevokedAt (first revocation kept)", mustSession(t, ss, "a2").RevokedAt, now2)
		})
	}

	// A token revoked without ever being used (sign-out) is refused the
	// same way.
	n, err := ss.RevokeSessions(ctx, storage.SessionFilter{Family: "fb"}, now2)
	wantErr(t, "revoke fb", err, nil)
	equal(t, "revoked in fb", n, 1)
	_, err = ss.RotateSession(ctx, tok("b1"), now2.Add(time.Minute), storage.Session{TokenHash: tok("b2")})
	wantErr(t, "rotate revoked b1", err, storage.ErrConflict)
	equal(t, "tokens", states(t, ss, "b1", "b2", "c1"), "b1:revoked b2:absent c1:live")
}

// sessionsConcurrentRotate presents one token from several goroutines at
// once (a client retrying, or a thief racing the owner): exactly one
// rotation succeeds, and the family ends revoked, its new token included.
func (s suite) sessionsConcurrentRotate(t *testing.T) {
	s.needConcurrency(t)
	ss := s.open(t)
	const racers, rounds = 8, 5
	for round := range rounds {
		family := fmt.Sprint("f", round)
		first := family + "-t0"
		mustCreateSession(t, ss, session(first, family, "u1", ""))
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				_, errs[i] = ss.RotateSession(t.Context(), tok(first), t0.Add(time.Minute),
					storage.Session{TokenHash: tok(fmt.Sprintf("%s-n%d", family, i))})
			})
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("round %d: rotations %d and %d both succeeded, want exactly one", round, won, i)
			case err == nil:
				won = i
			case !errors.Is(err, storage.ErrConflict):
				t.Fatalf("round %d: rotation %d: got error %v, want none or ErrConflict", round, i, err)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: got no successful rotation, want exactly one", round)
		}
		want := []string{first + ":used+revoked"}
		names := []string{first}
		for i := range racers {
			name := fmt.Sprintf("%s-n%d", family, i)
			names = append(names, name)
			if i == won {
				want = append(want, name+":revoked")
			} else {
				want = append(want, name+":absent")
			}
		}
		equal(t, fmt.Sprintf("round %d: tokens", round), states(t, ss, names...), strings.Join(want, " "))
	}
}

func (s suite) sessionsRevoke(t *testing.T) {
	now := t0.Add(time.Hour)
	all := []string{"f1a", "f1b", "f2a", "f3a", "f4a", "f5a"}
	// Every case starts from:
	//   f1  u1 on D1: f1a used → f1b
	//   f2  u1, no device: f2a
	//   f3  u2 on D2: f3a
	//   f4  u1 on D1: f4a, expired at now (not live: never counted)
	//   f5  u1 on D1: f5a, already revoked (not counted again)
	setup := func(t *testing.T) storage.Sessions {
		ss := s.open(t)
		mustCreateSession(t, ss, session("f1a", "f1", "u1", "D1"))
		mustRotate(t, ss, "f1a", "f1b", t0.Add(time.Minute))
		mustCreateSession(t, ss, session("f2a", "f2", "u1", ""))
		mustCreateSession(t, ss, session("f3a", "f3", "u2", "D2"))
		mustCreateSession(t, ss, session("f5a", "f5", "u1", "D1"))
		if n, err := ss.RevokeSessions(t.Context(), storage.SessionFilter{Family: "f5"}, t0.Add(time.Minute)); err != nil || n != 1 {
			t.Fatalf("revoke f5: got %d, %v, want 1, no error", n, err)
		}
		expired := session("f4a", "f4", "u1", "D1")
		expired.ExpiresAt = now
		mustCreateSession(t, ss, expired)
		return ss
	}
	const before = "f1a:used f1b:live f2a:live f3a:live f4a:live f5a:revoked"
	for _, tc := range []struct {
		name   string
		filter storage.SessionFilter
		want   int
		after  string
	}{
		{"family", storage.SessionFilter{Family: "f1"}, 2, "f1a:used+revoked f1b:revoked f2a:live f3a:live f4a:live f5a:revoked"},
		{"user", storage.SessionFilter{UserID: "u1"}, 3, "f1a:used+revoked f1b:revoked f2a:revoked f3a:live f4a:live f5a:revoked"},
		{"other user", storage.SessionFilter{UserID: "u2"}, 1, "f1a:used f1b:live f2a:live f3a:revoked f4a:live f5a:revoked"},
		{"device", storage.SessionFilter{DeviceID: "D1"}, 2, "f1a:used+revoked f1b:revoked f2a:live f3a:live f4a:live f5a:revoked"},
		{"other device", storage.SessionFilter{DeviceID: "D2"}, 1, "f1a:used f1b:live f2a:live f3a:revoked f4a:live f5a:revoked"},
		{"unknown family", storage.SessionFilter{Family: "f9"}, 0, before},
		{"user id that prefixes others", storage.SessionFilter{UserID: "u"}, 0, before},
		{"expired family", storage.SessionFilter{Family: "f4"}, 0, before},
		{"revoked family", storage.SessionFilter{Family: "f5"}, 0, before},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss := setup(t)
			// f4a may have been pruned once expired; it is never revoked.
			got := strings.Replace(states(t, ss, all...), "f4a:absent", "f4a:live", 1)
			equal(t, "tokens before", got, before)
			n, err := ss.RevokeSessions(t.Context(), tc.filter, now)
			wantErr(t, "revoke", err, nil)
			equal(t, "revoked", n, tc.want)
			got = strings.Replace(states(t, ss, all...), "f4a:absent", "f4a:live", 1)
			equal(t, "tokens after", got, tc.after)
			for _, name := range all {
				if sess, err := ss.Session(t.Context(), tok(name)); err == nil && !sess.RevokedAt.IsZero() && name != "f5a" {
					sameTime(t, name+" RevokedAt", sess.RevokedAt, now)
				}
			}
			n, err = ss.RevokeSessions(t.Context(), tc.filter, now.Add(time.Minute))
			wantErr(t, "revoke again", err, nil)
			equal(t, "revoked again", n, 0)
		})
	}
	t.Run("invalid filters", func(t *testing.T) {
		ss := setup(t)
		for _, f := range []storage.SessionFilter{
			{},
			{Family: "f1", UserID: "u1"},
			{UserID: "u1", DeviceID: "D1"},
			{Family: "f1", UserID: "u1", DeviceID: "D1"},
		} {
			n, err := ss.RevokeSessions(t.Context(), f, now)
			wantErr(t, fmt.Sprintf("revoke %+v", f), err, storage.ErrInvalid)
			equal(t, fmt.Sprintf("revoked by %+v", f), n, 0)
		}
		got := strings.Replace(states(t, ss, all...), "f4a:absent", "f4a:live", 1)
		equal(t, "tokens after refused revocations", got, before)
	})
}

func (s suite) sessionsBindDevice(t *testing.T) {
	ss := s.open(t)
	ctx := t.Context()
	devices := func(t *testing.T, names ...string) string {
		t.Helper()
		var out []string
		for _, name := range names {
			out = append(out, name+":"+mustSession(t, ss, name).DeviceID)
		}
		return strings.Join(out, " ")
	}
	revokeDevice := func(t *testing.T, device string, want int) {
		t.Helper()
		n, err := ss.RevokeSessions(ctx, storage.SessionFilter{DeviceID: device}, t0.Add(time.Hour))
		wantErr(t, "revoke device "+device, err, nil)
		equal(t, "revoked on device "+device, n, want)
	}
	mustCreateSession(t, ss, session("a1", "fa", "u1", ""))
	mustRotate(t, ss, "a1", "a2", t0.Add(time.Minute))
	mustCreateSession(t, ss, session("b1", "fb", "u1", ""))

	wantErr(t, "bind fa to D1", ss.BindSessionDevice(ctx, "fa", "D1"), nil)
	equal(t, "devices after binding fa", devices(t, "a1", "a2", "b1"), "a1:D1 a2:D1 b1:")
	mustRotate(t, ss, "a2", "a3", t0.Add(2*time.Minute))
	equal(t, "devices after a rotation", devices(t, "a1", "a2", "a3"), "a1:D1 a2:D1 a3:D1")

	// Binding again moves the family to the new device.
	wantErr(t, "bind fa to D2", ss.BindSessionDevice(ctx, "fa", "D2"), nil)
	equal(t, "devices after rebinding fa", devices(t, "a1", "a2", "a3", "b1"), "a1:D2 a2:D2 a3:D2 b1:")
	revokeDevice(t, "D1", 0)
	equal(t, "tokens", states(t, ss, "a1", "a2", "a3", "b1"), "a1:used a2:used a3:live b1:live")
	revokeDevice(t, "D2", 3)
	equal(t, "tokens", states(t, ss, "a1", "a2", "a3", "b1"), "a1:used+revoked a2:used+revoked a3:revoked b1:live")

	for _, tc := range []struct {
		name, family, device string
		want                 error
	}{
		{"revoked family", "fa", "D3", storage.ErrNotFound},
		{"unknown family", "fz", "D3", storage.ErrNotFound},
		{"empty family", "", "D3", storage.ErrInvalid},
		{"empty device", "fb", "", storage.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "bind", ss.BindSessionDevice(ctx, tc.family, tc.device), tc.want)
			equal(t, "devices after a refused bind", devices(t, "a1", "a2", "a3", "b1"), "a1:D2 a2:D2 a3:D2 b1:")
			revokeDevice(t, "D3", 0)
		})
	}
}
