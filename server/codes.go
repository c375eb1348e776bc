package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/syncproto"
)

// The server's half of contacts' one-time codes (pairing.Codes): the stored
// secret they derive from and the throttle of wrong guesses.
// Which writes need a code, bound to what, and used once, is the domain's
// (pairing.Admit).

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
// "issue/response", "rate" with pairing.RateSubject, "accept" with a
// project id). It is bound to that thing, so a new response needs a new
// code; the server alone can compute it.
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

// contactCodes is pairing.Codes over the server's secret and throttle.
type contactCodes struct{ s *Server }

var _ pairing.Codes = contactCodes{}

func (cc contactCodes) Verify(ctx context.Context, p pairing.Principal, what, subject, code string) (*syncproto.Error, error) {
	s := cc.s
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
