package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id parameters.
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
	SaltLen   int
	KeyLen    uint32
}

// DefaultParams meet SECURITY.md: m = 19 MiB, t = 2, p = 1 (the OWASP
// baseline for argon2id).
var DefaultParams = Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Password length bounds, in characters. The upper bound keeps a hash
// request from becoming a denial of service while allowing passphrases.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 128
)

// ErrWeakPassword is returned for passwords outside the length bounds.
var ErrWeakPassword = fmt.Errorf("password must be %d to %d characters", MinPasswordLen, MaxPasswordLen)

// errMalformedHash is returned by Verify for a stored hash it cannot read.
var errMalformedHash = errors.New("auth: malformed password hash")

// CheckPassword reports whether pw is acceptable as a new password: the
// length bounds (ErrWeakPassword), and not a common one (ErrCommonPassword,
// blocklist.go). Every way a password is set calls it: activation, password
// change and the first administrator's.
func CheckPassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLen || n > MaxPasswordLen || !utf8.ValidString(pw) {
		return ErrWeakPassword
	}
	if commonPassword(pw) {
		return ErrCommonPassword
	}
	return nil
}

// Hasher hashes and verifies passwords with argon2id, running at most a
// fixed number of hashes at once so a burst of sign-ins cannot exhaust
// memory (each hash holds MemoryKiB). Safe for concurrent use.
type Hasher struct {
	p      Params
	sem    chan struct{}
	hashes atomic.Int64
}

// NewHasher returns a Hasher that runs at most inflight hashes at once
// (inflight < 1 means 1).
func NewHasher(p Params, inflight int) *Hasher {
	if inflight < 1 {
		inflight = 1
	}
	return &Hasher{p: p, sem: make(chan struct{}, inflight)}
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: waiting to hash: %w", ctx.Err())
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the PHC string of pw:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key> (unpadded base64).
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, h.p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, h.p.Time, h.p.MemoryKiB, h.p.Threads, h.p.KeyLen)
	h.release()
	h.hashes.Add(1)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.p.MemoryKiB, h.p.Time, h.p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// Verify reports whether pw matches the PHC hash, using the parameters
// stored in the hash (so older hashes keep working after a change of
// DefaultParams).
func (h *Hasher) Verify(ctx context.Context, pw, phc string) (bool, error) {
	p, salt, key, err := parsePHC(phc)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key)))
	h.release()
	h.hashes.Add(1)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// Hashes counts the argon2 computations done so far (tests use it to
// check that every sign-in path costs the same work).
func (h *Hasher) Hashes() int64 { return h.hashes.Load() }

// Dummy burns the same time as a Verify, for sign-ins of unknown users, so
// that timing does not tell whether an account exists.
func (h *Hasher) Dummy(ctx context.Context, pw string) {
	_, _ = h.Hash(ctx, pw)
}

// NeedsRehash reports whether phc was made with other parameters than the
// Hasher's (then the caller stores a fresh hash after a successful sign-in).
func (h *Hasher) NeedsRehash(phc string) bool {
	p, salt, key, err := parsePHC(phc)
	return err != nil || p.MemoryKiB != h.p.MemoryKiB || p.Time != h.p.Time || p.Threads != h.p.Threads ||
		len(salt) != h.p.SaltLen || uint32(len(key)) != h.p.KeyLen
}

func parsePHC(phc string) (Params, []byte, []byte, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, errMalformedHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return Params{}, nil, nil, errMalformedHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, errMalformedHash
	}
	// Refuse parameters that would let a tampered hash exhaust the machine.
	if p.MemoryKiB == 0 || p.MemoryKiB > 1<<20 || p.Time == 0 || p.Time > 20 || p.Threads == 0 {
		return Params{}, nil, nil, errMalformedHash
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return Params{}, nil, nil, errMalformedHash
	}
	key, err := enc.DecodeString(parts[5])
	if err != nil || len(key) < 16 {
		return Params{}, nil, nil, errMalformedHash
	}
	p.SaltLen, p.KeyLen = len(salt), uint32(len(key))
	return p, salt, key, nil
}
