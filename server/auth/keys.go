package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// algEdDSA is the one signing algorithm Pairsync issues and accepts.
const algEdDSA = "EdDSA"

// Replicas share the key set through storage. Each re-reads it
// in the background at most every refreshEvery, when a token is signed or
// verified, so a key rotated by another process (or by `pairsyncd
// rotate-key`) signs and verifies everywhere within a few seconds; a token
// whose kid is unknown re-reads it at once, at most every unknownEvery (an
// unknown kid costs an attacker nothing, so it must not cost a read each).
// Both in real time, whatever clock the set is given.
const (
	refreshEvery = 2 * time.Second
	unknownEvery = time.Second
)

// KeySet is the server's token-signing keys: the active one signs, every
// key not yet past its verification window verifies. Keys live in storage
// so that all server processes share them. Safe for concurrent use.
type KeySet struct {
	store storage.SigningKeys
	// keep is how long a retired key still verifies: the access-token
	// lifetime plus leeway.
	keep time.Duration
	now  func() time.Time

	mu       sync.RWMutex
	signKID  string
	signKey  ed25519.PrivateKey
	verify   map[string]ed25519.PublicKey
	short    map[string]string // short kid → kid, for the kids no other key shares
	loadedAt time.Time         // by ks.now, for the retired keys' windows
	// read is when storage was last read (real time); refreshing holds
	// the one background re-read.
	read       time.Time
	refreshing atomic.Bool
}

// shortKIDLen is the length of the kid tokens carry: a prefix of the key's
// thumbprint (48 bits), enough to tell apart the handful of keys a set
// holds, and 35 bytes shorter than the whole. A prefix two keys share is
// not used (tokens then carry the whole kid); both forms verify.
const shortKIDLen = 8

func shortKID(kid string) string {
	if len(kid) <= shortKIDLen {
		return kid
	}
	return kid[:shortKIDLen]
}

// LoadKeySet reads the key set, creating the first key when there is none.
func LoadKeySet(ctx context.Context, store storage.SigningKeys, keep time.Duration, now func() time.Time) (*KeySet, error) {
	ks := &KeySet{store: store, keep: keep, now: now}
	if err := ks.load(ctx); err != nil {
		return nil, err
	}
	if ks.signKey == nil {
		k, err := newSigningKey(now())
		if err != nil {
			return nil, err
		}
		if err := store.RotateSigningKey(ctx, k, true); err != nil && !errors.Is(err, storage.ErrExists) {
			return nil, fmt.Errorf("auth: first signing key: %w", err)
		}
		if err := ks.load(ctx); err != nil {
			return nil, err
		}
	}
	if ks.signKey == nil {
		return nil, errors.New("auth: no active signing key after creating one")
	}
	return ks, nil
}

func newSigningKey(now time.Time) (storage.SigningKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("auth: generate key: %w", err)
	}
	return storage.SigningKey{ID: thumbprint(pub), Algorithm: algEdDSA, Private: priv.Seed(), CreatedAt: now.UTC()}, nil
}

// Rotate makes a new active signing key; the old one keeps verifying until
// its tokens have expired. It returns the new kid. Running server processes
// sign and verify with it within refreshEvery of their next request.
func Rotate(ctx context.Context, store storage.SigningKeys, now time.Time) (string, error) {
	k, err := newSigningKey(now)
	if err != nil {
		return "", err
	}
	if err := store.RotateSigningKey(ctx, k, false); err != nil {
		return "", fmt.Errorf("auth: rotate: %w", err)
	}
	return k.ID, nil
}

// thumbprint is the RFC 7638 JWK thumbprint of an Ed25519 public key,
// used as its kid.
func thumbprint(pub ed25519.PublicKey) string {
	x := base64.RawURLEncoding.EncodeToString(pub)
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (ks *KeySet) load(ctx context.Context) error {
	keys, err := ks.store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("auth: load signing keys: %w", err)
	}
	now := ks.now()
	verify := make(map[string]ed25519.PublicKey, len(keys))
	var signKID string
	var signKey ed25519.PrivateKey
	for _, k := range keys {
		if k.Algorithm != algEdDSA || len(k.Private) != ed25519.SeedSize {
			continue
		}
		priv := ed25519.NewKeyFromSeed(k.Private)
		if k.RetiredAt.IsZero() {
			signKID, signKey = k.ID, priv
		} else if now.Sub(k.RetiredAt) > ks.keep {
			continue // every token it signed has expired
		}
		verify[k.ID] = priv.Public().(ed25519.PublicKey)
	}
	short := make(map[string]string, len(verify))
	shared := map[string]bool{}
	for kid := range verify {
		sk := shortKID(kid)
		if _, dup := short[sk]; dup || shared[sk] {
			delete(short, sk)
			shared[sk] = true
			continue
		}
		short[sk] = kid
	}
	ks.mu.Lock()
	ks.signKID, ks.signKey, ks.verify, ks.short, ks.loadedAt = signKID, signKey, verify, short, now
	ks.read = time.Now()
	ks.mu.Unlock()
	return nil
}

// refresh re-reads storage in the background when the last read is
// refreshEvery old; the caller goes on with the keys it has. A failed read
// is tried again at the next call after refreshEvery.
func (ks *KeySet) refresh() {
	ks.mu.RLock()
	due := time.Since(ks.read) >= refreshEvery
	ks.mu.RUnlock()
	if !due || !ks.refreshing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer ks.refreshing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ks.load(ctx); err != nil {
			ks.mu.Lock()
			ks.read = time.Now() // not before refreshEvery again
			ks.mu.Unlock()
		}
	}()
}

// signer returns the active key and the kid tokens carry: its short form
// when no other key shares it.
func (ks *KeySet) signer() (string, ed25519.PrivateKey) {
	ks.refresh()
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.tokenKID(ks.signKID), ks.signKey
}

// tokenKID is the kid a token signed by kid carries (ks.mu held).
func (ks *KeySet) tokenKID(kid string) string {
	if sk := shortKID(kid); ks.short[sk] == kid {
		return sk
	}
	return kid
}

// lookup finds the key of a kid, whole or short (ks.mu held).
func (ks *KeySet) lookup(kid string) (ed25519.PublicKey, bool) {
	if pub, ok := ks.verify[kid]; ok {
		return pub, true
	}
	if full, ok := ks.short[kid]; ok && len(kid) == shortKIDLen {
		return ks.verify[full], true
	}
	return nil, false
}

// publicKey returns the verification key for kid, re-reading storage at
// most every unknownEvery when the kid is unknown (another process rotated).
func (ks *KeySet) publicKey(ctx context.Context, kid string) (ed25519.PublicKey, bool) {
	ks.refresh()
	ks.mu.RLock()
	pub, ok := ks.lookup(kid)
	stale := time.Since(ks.read) >= unknownEvery
	ks.mu.RUnlock()
	if ok || !stale {
		return pub, ok
	}
	if err := ks.load(ctx); err != nil {
		return nil, false
	}
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.lookup(kid)
}

// JWK is one public key as published at the JWKS endpoint.
type JWK struct {
	KeyType   string `json:"kty"`
	Curve     string `json:"crv"`
	X         string `json:"x"`
	KeyID     string `json:"kid"`
	Use       string `json:"use"`
	Algorithm string `json:"alg"`
}

// JWKS is the published key set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns the public keys that currently verify tokens, each with the
// kid its tokens carry.
func (ks *KeySet) JWKS() JWKS {
	ks.refresh()
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	out := JWKS{Keys: []JWK{}}
	for kid, pub := range ks.verify {
		out.Keys = append(out.Keys, JWK{KeyType: "OKP", Curve: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), KeyID: ks.tokenKID(kid), Use: "sig", Algorithm: algEdDSA})
	}
	return out
}

// Reload re-reads the key set from storage (after a rotation).
func (ks *KeySet) Reload(ctx context.Context) error { return ks.load(ctx) }
