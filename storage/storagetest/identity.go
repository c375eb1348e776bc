package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// sameTime fails t unless got and want are the same instant.
func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func identityState(t *testing.T, st storage.Store) string {
	t.Helper()
	ctx := t.Context()
	var b strings.Builder
	units, err := st.OrgUnits(ctx, "")
	wantErr(t, "org units", err, nil)
	for _, u := range units {
		fmt.Fprintf(&b, "unit %s\n", briefUnit(u))
	}
	keys, err := st.SigningKeys(ctx)
	wantErr(t, "signing keys", err, nil)
	for _, k := range keys {
		fmt.Fprintf(&b, "key %s\n", briefKey(k))
	}
	for _, name := range []string{"a1", "a2", "b1"} {
		s, err := st.Session(ctx, tok(name))
		wantErr(t, "session "+name, err, nil)
		fmt.Fprintf(&b, "session %s %s\n", name, briefSession(s))
	}
	events, more, err := st.AuditLog(ctx, storage.AuditQuery{})
	wantErr(t, "audit log", err, nil)
	fmt.Fprintf(&b, "audit %s more %v\n", briefEvents(events), more)
	for _, e := range events {
		e.Time = e.Time.UTC()
		fmt.Fprintf(&b, "event %+v\n", e)
	}
	return b.String()
}

// durabilityIdentity writes to every identity store, closes, reopens, and
// checks that everything is there and the audit Seq continues.
func (s suite) durabilityIdentity(t *testing.T) {
	if s.opts.Reopen == nil {
		t.Skip("storagetest: durability case skipped: Options.Reopen is not set")
	}
	st := s.open(t)
	ctx := t.Context()
	mustCreateUnit(t, st, storage.OrgUnit{ID: "c", Name: "Committee", SLADays: map[string]int{"water": 3}, CreatedAt: t0})
	mustCreateUnit(t, st, storage.OrgUnit{ID: "d", ParentID: "c", Name: "Dept", CreatedAt: t0})
	wantErr(t, "first key", st.RotateSigningKey(ctx, signingKey("k1", t0), true), nil)
	wantErr(t, "rotate", st.RotateSigningKey(ctx, signingKey("k2", t0.Add(time.Hour)), false), nil)
	wantErr(t, "create session", st.CreateSession(ctx, session("a1", "fa", "u1", "")), nil)
	_, err := st.RotateSession(ctx, tok("a1"), t0.Add(time.Minute), storage.Session{TokenHash: tok("a2")})
	wantErr(t, "rotate session", err, nil)
	wantErr(t, "create session b1", st.CreateSession(ctx, session("b1", "fb", "u1", "d1")), nil)
	_, err = st.RevokeSessions(ctx, storage.SessionFilter{DeviceID: "d1"}, t0.Add(time.Hour))
	wantErr(t, "revoke", err, nil)
	wantErr(t, "create activation", st.CreateActivation(ctx, activation("x", "u2", t0.Add(time.Hour))), nil)
	wantErr(t, "audit", st.AppendAudit(ctx, auditEvent(t0, "alice", "login", "/c/"), auditEvent(t0, "bob", "login", "/c/d/")), nil)

	before := identityState(t, st)
	if err := st.Close(); err != nil {
		t.Fatalf("close: got error %v, want none", err)
	}
	re := s.opts.Reopen(t, st)
	if after := identityState(t, re); after != before {
		t.Fatalf("state after reopening:\ngot\n%s\nwant\n%s", after, before)
	}
	for _, want := range []string{"unit /c/d/ d<-c", "key k1 retired", "session a1 fa u1 - used", "session b1 fb u1 d1 revoked",
		"audit [bob login /c/d/, alice login /c/]"} {
		if !strings.Contains(before, want) {
			t.Fatalf("state before closing:\n%s\nwant it to hold %q", before, want)
		}
	}
	a, err := re.ConsumeActivation(ctx, code("x"), t0)
	wantErr(t, "consume activation created before reopening", err, nil)
	equal(t, "activation's user", a.UserID, "u2")
	old, _, err := re.AuditLog(ctx, storage.AuditQuery{Limit: 1})
	wantErr(t, "audit log", err, nil)
	wantErr(t, "audit after reopening", re.AppendAudit(ctx, auditEvent(t0, "carol", "logout", "")), nil)
	events, _, err := re.AuditLog(ctx, storage.AuditQuery{Limit: 1})
	wantErr(t, "audit log", err, nil)
	equal(t, "audit after reopening", briefEvents(events), "[carol logout ]")
	if events[0].Seq <= old[0].Seq {
		t.Fatalf("audit seq after reopening: got %d, want above %d (the newest before)", events[0].Seq, old[0].Seq)
	}
	_, err = re.RotateSession(ctx, tok("a1"), t0.Add(2*time.Minute), storage.Session{TokenHash: tok("a3")})
	wantErr(t, "reuse of a token used before reopening", err, storage.ErrConflict)
}

// lifecycleClosedIdentity checks that every identity call after Close fails
// with storage.ErrUnavailable, without a panic.
func (s suite) lifecycleClosedIdentity(t *testing.T) {
	st := s.open(t)
	if err := st.Close(); err != nil {
		t.Fatalf("close: got error %v, want none", err)
	}
	for _, tc := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"CreateOrgUnit", func(ctx context.Context) error {
			_, err := st.CreateOrgUnit(ctx, storage.OrgUnit{ID: "c", Name: "C"})
			return err
		}},
		{"OrgUnit", func(ctx context.Context) error { _, err := st.OrgUnit(ctx, "c"); return err }},
		{"UpdateOrgUnit", func(ctx context.Context) error {
			_, err := st.UpdateOrgUnit(ctx, storage.OrgUnit{ID: "c", Name: "C", Rev: 1})
			return err
		}},
		{"OrgUnits", func(ctx context.Context) error { _, err := st.OrgUnits(ctx, ""); return err }},
		{"SigningKeys", func(ctx context.Context) error { _, err := st.SigningKeys(ctx); return err }},
		{"Secret", func(ctx context.Context) error { _, err := st.Secret(ctx, "s", []byte("x")); return err }},
		{"RotateSigningKey", func(ctx context.Context) error { return st.RotateSigningKey(ctx, signingKey("k1", t0), false) }},
		{"PruneSigningKeys", func(ctx context.Context) error { return st.PruneSigningKeys(ctx, t0) }},
		{"CreateSession", func(ctx context.Context) error { return st.CreateSession(ctx, session("a1", "f", "u1", "")) }},
		{"RotateSession", func(ctx context.Context) error {
			_, err := st.RotateSession(ctx, tok("a1"), t0, storage.Session{TokenHash: tok("a2")})
			return err
		}},
		{"Session", func(ctx context.Context) error { _, err := st.Session(ctx, tok("a1")); return err }},
		{"RevokeSessions", func(ctx context.Context) error {
			_, err := st.RevokeSessions(ctx, storage.SessionFilter{UserID: "u1"}, t0)
			return err
		}},
		{"BindSessionDevice", func(ctx context.Context) error { return st.BindSessionDevice(ctx, "f", "d1") }},
		{"CreateActivation", func(ctx context.Context) error {
			return st.CreateActivation(ctx, activation("x", "u1", t0.Add(time.Hour)))
		}},
		{"ConsumeActivation", func(ctx context.Context) error { _, err := st.ConsumeActivation(ctx, code("x"), t0); return err }},
		{"LiveActivation", func(ctx context.Context) error { _, err := st.LiveActivation(ctx, code("x"), t0); return err }},
		{"AppendAudit", func(ctx context.Context) error { return st.AppendAudit(ctx, auditEvent(t0, "a", "login", "")) }},
		{"AppendAudit none", func(ctx context.Context) error { return st.AppendAudit(ctx) }},
		{"AuditLog", func(ctx context.Context) error { _, _, err := st.AuditLog(ctx, storage.AuditQuery{}); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(t.Context())
			if !errors.Is(err, storage.ErrUnavailable) {
				t.Fatalf("%s after Close: got error %v, want ErrUnavailable", tc.name, err)
			}
		})
	}
}
