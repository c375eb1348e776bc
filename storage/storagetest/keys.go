package storagetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

func (s suite) signingKeys(t *testing.T) {
	t.Run("Rotate", s.signingKeysRotate)
	t.Run("Prune", s.signingKeysPrune)
	t.Run("ConcurrentFirstKey", s.signingKeysConcurrentFirst)
}

// signingKey returns a key created at the given time, with a private key
// derived from its id.
func signingKey(id string, created time.Time) storage.SigningKey {
	seed := sha256.Sum256([]byte("seed " + id))
	return storage.SigningKey{ID: id, Algorithm: "EdDSA", Private: seed[:], CreatedAt: created}
}

// briefKey renders a key: "id active" or "id retired <time>", then the rest.
func briefKey(k storage.SigningKey) string {
	state := "active"
	if !k.RetiredAt.IsZero() {
		state = "retired " + k.RetiredAt.UTC().String()
	}
	return fmt.Sprintf("%s %s alg %s created %s private %x", k.ID, state, k.Algorithm, k.CreatedAt.UTC(), k.Private)
}

// keyTimes renders a key set as "id(created,retired)" with times as
// offsets from t0, oldest first as returned.
func keyTimes(keys []storage.SigningKey) string {
	var out []string
	for _, k := range keys {
		retired := "active"
		if !k.RetiredAt.IsZero() {
			retired = k.RetiredAt.Sub(t0).String()
		}
		out = append(out, fmt.Sprintf("%s(%s,%s)", k.ID, k.CreatedAt.Sub(t0), retired))
	}
	return strings.Join(out, " ")
}

func mustKeys(t *testing.T, sk storage.SigningKeys) []storage.SigningKey {
	t.Helper()
	keys, err := sk.SigningKeys(t.Context())
	if err != nil {
		t.Fatalf("signing keys: got error %v, want none", err)
	}
	return keys
}

func (s suite) signingKeysRotate(t *testing.T) {
	sk := s.open(t)
	equal(t, "keys of an empty store", keyTimes(mustKeys(t, sk)), "")
	// Steps run in order on one store; each shows the key set after it.
	for _, step := range []struct {
		name   string
		key    storage.SigningKey
		ifNone bool
		want   error
		keys   string
	}{
		{"first key, if none", signingKey("k1", t0), true, nil, "k1(0s,active)"},
		{"second key, if none", signingKey("k2", t0.Add(time.Hour)), true, storage.ErrExists, "k1(0s,active)"},
		{"rotate", signingKey("k2", t0.Add(time.Hour)), false, nil, "k1(0s,1h0m0s) k2(1h0m0s,active)"},
		{"rotate to a taken id", signingKey("k1", t0.Add(2*time.Hour)), false, storage.ErrExists, "k1(0s,1h0m0s) k2(1h0m0s,active)"},
		{"rotate again", signingKey("k3", t0.Add(2*time.Hour)), false, nil, "k1(0s,1h0m0s) k2(1h0m0s,2h0m0s) k3(2h0m0s,active)"},
		{"empty id", signingKey("", t0.Add(3*time.Hour)), false, storage.ErrInvalid, "k1(0s,1h0m0s) k2(1h0m0s,2h0m0s) k3(2h0m0s,active)"},
		{"if none, with keys retired and active", signingKey("k4", t0.Add(3*time.Hour)), true, storage.ErrExists, "k1(0s,1h0m0s) k2(1h0m0s,2h0m0s) k3(2h0m0s,active)"},
	} {
		t.Run(step.name, func(t *testing.T) {
			err := sk.RotateSigningKey(t.Context(), step.key, step.ifNone)
			wantErr(t, "rotate", err, step.want)
			equal(t, "keys, oldest first", keyTimes(mustKeys(t, sk)), step.keys)
		})
	}
	// Keys are whole, and the returned bytes belong to the caller.
	keys := mustKeys(t, sk)
	for _, k := range keys {
		want := signingKey(k.ID, k.CreatedAt)
		if k.Algorithm != want.Algorithm || !bytes.Equal(k.Private, want.Private) {
			t.Fatalf("stored key: got %s, want %s", briefKey(k), briefKey(want))
		}
	}
	keys[0].Private[0] ^= 0xff
	if again := mustKeys(t, sk); !bytes.Equal(again[0].Private, signingKey("k1", t0).Private) {
		t.Fatalf("key after changing a returned Private: got %x, want it unchanged", again[0].Private)
	}
}

func (s suite) signingKeysPrune(t *testing.T) {
	for _, tc := range []struct {
		name          string
		retiredBefore time.Time
		want          string
	}{
		{"before any retirement", t0, "k1(0s,1h0m0s) k2(1h0m0s,2h0m0s) k3(2h0m0s,active)"},
		{"at the first retirement", t0.Add(time.Hour), "k1(0s,1h0m0s) k2(1h0m0s,2h0m0s) k3(2h0m0s,active)"},
		{"just after the first retirement", t0.Add(time.Hour + time.Millisecond), "k2(1h0m0s,2h0m0s) k3(2h0m0s,active)"},
		{"after both retirements", t0.Add(3 * time.Hour), "k3(2h0m0s,active)"},
		{"far future: the active key stays", t0.AddDate(10, 0, 0), "k3(2h0m0s,active)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sk := s.open(t)
			for i, k := range []storage.SigningKey{signingKey("k1", t0), signingKey("k2", t0.Add(time.Hour)), signingKey("k3", t0.Add(2*time.Hour))} {
				if err := sk.RotateSigningKey(t.Context(), k, i == 0); err != nil {
					t.Fatalf("rotate to %s: got error %v, want none", k.ID, err)
				}
			}
			wantErr(t, "prune", sk.PruneSigningKeys(t.Context(), tc.retiredBefore), nil)
			equal(t, "keys after prune", keyTimes(mustKeys(t, sk)), tc.want)
		})
	}
}

// signingKeysConcurrentFirst starts several processes at once on an empty
// key set: exactly one first key is stored.
func (s suite) signingKeysConcurrentFirst(t *testing.T) {
	s.needConcurrency(t)
	sk := s.open(t)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = sk.RotateSigningKey(t.Context(), signingKey(fmt.Sprint("k", i), t0), true) })
	}
	wg.Wait()
	stored := 0
	for i, err := range errs {
		switch {
		case err == nil:
			stored++
		case !errors.Is(err, storage.ErrExists):
			t.Fatalf("first key %d: got error %v, want none or ErrExists", i, err)
		}
	}
	equal(t, "first keys stored", stored, 1)
	keys := mustKeys(t, sk)
	if len(keys) != 1 || !keys[0].RetiredAt.IsZero() {
		t.Fatalf("keys: got %s, want one active key", keyTimes(keys))
	}
}
