package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// lookupFunc finds a record as this push sees it: changed earlier in the
// same batch, or stored.
type lookupFunc func(ctx context.Context, k storage.Key) (syncproto.Record, bool, error)

// checkDomain applies the domain rules to one change before it is merged:
// pairing.CheckWrite, pairing.CheckRefs (every id the change names resolves
// within the writer's scope), then the contact's code that a confirmation,
// rating or acceptance an officer records on a contact's behalf carries. It
// returns the rejection, or nil.
func (s *Server) checkDomain(ctx context.Context, p pairing.Principal, pid string, stored syncproto.Record, ch syncproto.Change, merged syncproto.Record, refs resolver) (*syncproto.Error, error) {
	if pid == pairing.DirectoryScope {
		// Directory records come through the administrators' routes, which
		// check them there; a device holds no write to them.
		return &syncproto.Error{Code: syncproto.CodeForbidden, Field: "collection", Message: "pairings and counterparties are changed through the administrators' routes"}, nil
	}
	pr, ok := s.dir.Pairing(pid)
	if !ok {
		return &syncproto.Error{Code: syncproto.CodeOutOfScope, Field: "pairing", Message: fmt.Sprintf("pairing %s is not one you may write", pid)}, nil
	}
	op, values := ch.Written()
	w := pairing.Write{Principal: p, Pairing: pr, Stored: stored, Op: op, Values: values, Merged: merged, Now: s.now()}
	if e := pairing.CheckWrite(w); e != nil {
		return e, nil
	}
	if e, err := pairing.CheckRefs(ctx, w, refs); e != nil || err != nil {
		return e, err
	}
	if merged.Deleted() || op != syncproto.OpSet {
		return nil, nil
	}
	switch merged.Collection {
	case pairing.CollIssueEvents:
		typ := pairing.EventType(pairing.Str(merged, "type"))
		if p.Role == pairing.Officer && (typ == pairing.EventConfirmed || typ == pairing.EventDisputed) {
			response := pairing.Str(merged, "response")
			if response == "" {
				return &syncproto.Error{Code: syncproto.CodeValidation, Field: "response", Reason: pairing.ReasonConfirmNeedsAnswer,
					Message: "a confirmation recorded on an officer's phone names the response it answers (response) with the contact's code"}, nil
			}
			issue := pairing.Str(merged, "issue")
			if e, err := s.checkCode(ctx, p, "confirm", issue+"/"+response, pairing.Str(merged, "code")); e != nil || err != nil {
				return e, err
			}
			// Single-use: the code answers the latest response once.
			st, _, err := refs.Issue(ctx, issue)
			if err != nil {
				return nil, err
			}
			if st.Status != pairing.IssueResponded || st.Response != response {
				return codeUsed(), nil
			}
		}
	case pairing.CollRatings:
		if p.Role == pairing.Officer {
			kind, id := pairing.Str(merged, "target_kind"), pairing.Str(merged, "target")
			return s.checkCode(ctx, p, "rate", s.rateSubject(pid, kind, id, refs), pairing.Str(merged, "code"))
		}
	case pairing.CollProjects:
		if _, ok := values["contact_accepted_at"]; ok && p.Role == pairing.Officer {
			if e, err := s.checkCode(ctx, p, "accept", merged.ID, pairing.Str(merged, "code")); e != nil || err != nil {
				return e, err
			}
			if pairing.Str(stored, "contact_accepted_at") != "" {
				return codeUsed(), nil
			}
		}
	}
	return nil, nil
}

// codeUsed refuses a contact's code used a second time (codes are
// single-use: one code, one confirmation or rating).
func codeUsed() *syncproto.Error {
	return &syncproto.Error{Code: syncproto.CodeForbidden, Field: "code", Reason: pairing.ReasonCodeUsed,
		Message: "this confirmation code has been used already: ask the contact for the code their app shows now"}
}

// rateSubject is what a rate code is bound to: the target and how many
// coded ratings it has had (committed, and earlier in this push), so a
// rate code records one rating and the contact's app then shows the next.
func (s *Server) rateSubject(pid, kind, id string, refs resolver) string {
	n := s.ledger.CodedRatings(pid, kind, id)
	if refs.batch != nil {
		for _, r := range refs.batch() {
			if r.Collection == pairing.CollRatings && pairing.Str(r, "target_kind") == kind && pairing.Str(r, "target") == id && pairing.Str(r, "code") != "" {
				n++
			}
		}
	}
	return fmt.Sprintf("%s/%s#%d", kind, id, n)
}

// stampsReceipt reports whether records of collection keep the server's
// receipt time (received_at) beside the device's own (DOMAIN.md).
func stampsReceipt(collection string) bool {
	spec, ok := pairing.Spec(collection)
	if !ok {
		return false
	}
	_, has := spec.Field("received_at")
	return has
}

// stampReceived sets received_at on a record the server stores for the
// first time, as a write of the server's own replica in the same commit.
func (s *Server) stampReceived(stored, merged syncproto.Record) (syncproto.Record, error) {
	next, _, err := s.stamp(stored, merged)
	return next, err
}

// stamp is stampReceived that also returns the server's writes it made
// (none, or the received_at write), for a push answer's Result.Stamp.
func (s *Server) stamp(stored, merged syncproto.Record) (syncproto.Record, []syncproto.Write, error) {
	if !stored.IsZero() || merged.Deleted() || !stampsReceipt(merged.Collection) || merged.Value("received_at") != nil {
		return merged, []syncproto.Write{}, nil
	}
	now := s.now().UTC()
	v, _ := json.Marshal(now.Format("2006-01-02T15:04:05.000Z07:00"))
	s.writer.mu.Lock()
	defer s.writer.mu.Unlock()
	next, w, err := s.writer.w.Set(merged, map[string]json.RawMessage{"received_at": v}, now)
	if err != nil {
		return syncproto.Record{}, nil, err
	}
	return next, []syncproto.Write{w}, nil
}

// codeKeyName names the stored secret that derives confirmation codes.
const codeKeyName = "confirmation-codes"

// codeKey is the secret behind contacts' one-time confirmation codes,
// loaded (or created) once.
type codeKey struct {
	once sync.Once
	key  []byte
	err  error
}

func (s *Server) codeSecret(ctx context.Context) ([]byte, error) {
	s.codes.once.Do(func() {
		s.codes.key, s.codes.err = s.store.Secret(ctx, codeKeyName, []byte(rand.Text()+rand.Text()))
	})
	if s.codes.err != nil {
		err := s.codes.err
		s.codes = &codeKey{} // try again next time
		return nil, err
	}
	return s.codes.key, nil
}

// confirmationCode is the 6-digit code a contact reads out to an officer
// so that the officer's phone may record the contact's confirmation,
// dispute, rating or acceptance of one thing (what: "confirm" with
// "issue/response", "rate" with "kind/id", "accept" with a project id).
// It is bound to that thing, so a new response needs a new code; the
// server alone can compute it.
func (s *Server) confirmationCode(ctx context.Context, what, subject string) (string, error) {
	key, err := s.codeSecret(ctx)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(what + "\x00" + subject))
	n := binary.BigEndian.Uint32(m.Sum(nil)) % 1_000_000
	return fmt.Sprintf("%06d", n), nil
}

// Wrong confirmation codes allowed per throttle window (15 min): a code
// has six digits, so guessing through pushes (500 changes each) would
// otherwise take minutes. Each code given is reserved before it is checked
// and given back when right (SECURITY.md 14), on counters in storage that
// every server process shares: past the limit every attempt is
// refused, a right code too, until the window ends.
const (
	maxWrongCodesSubject = 5  // per issue response, rating target or project
	maxWrongCodesUser    = 20 // per officer, across everything they confirm
)

func (s *Server) checkCode(ctx context.Context, p pairing.Principal, what, subject, code string) (*syncproto.Error, error) {
	wrong := &syncproto.Error{Code: syncproto.CodeForbidden, Field: "code",
		Message: "the contact's confirmation code is missing or wrong: ask the contact for the code their app shows"}
	if code == "" {
		return wrong, nil // no guess: nothing to count
	}
	thing, _, _ := strings.Cut(subject, "#") // guesses count per thing, across its codes
	limits := []auth.Limit{{Key: "c|" + what + "|" + thing, Max: maxWrongCodesSubject}, {Key: "cu|" + p.UserID, Max: maxWrongCodesUser}}
	wait, ok, err := s.throttle.Reserve(ctx, limits...)
	if err != nil {
		return nil, err
	}
	if !ok {
		return &syncproto.Error{Code: syncproto.CodeRateLimited, Field: "code",
			Message: fmt.Sprintf("too many wrong confirmation codes: try again in %d minutes", int(wait.Minutes())+1)}, nil
	}
	want, err := s.confirmationCode(ctx, what, subject)
	if err != nil {
		s.refund(ctx, limits...)
		return nil, err
	}
	if !hmac.Equal([]byte(code), []byte(want)) {
		return wrong, nil // the reserved attempt stays counted
	}
	s.refund(ctx, limits...)
	return nil, nil
}
