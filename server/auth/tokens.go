package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token lifetimes and limits (SECURITY.md items 1 and 2).
const (
	AccessTTL  = 10 * time.Minute
	RefreshTTL = 30 * 24 * time.Hour // absolute, from sign-in
	Leeway     = 30 * time.Second
	// MaxTokenLen bounds what the parser will look at; a longer bearer
	// token is refused before any decoding.
	MaxTokenLen = 4096
	accessType  = "access"
	headerTyp   = "at+jwt" // RFC 9068
)

// ErrInvalidToken is the one error every rejected token gets, whatever the
// reason, so answers never tell an attacker which check failed.
var ErrInvalidToken = errors.New("auth: invalid token")

// Claims are the claims of an access token. A token carries only what a
// request needs (every byte of it travels with every request): iss, sub,
// aud, iat, exp and Pairsync's own; no nbf (iat says as much), no jti
// (nothing looks tokens up), and the header's typ "at+jwt" (RFC 9068),
// required, is what separates access tokens from anything else.
type Claims struct {
	jwt.RegisteredClaims
	// Type is no longer issued; a token that carries one must say
	// "access" (tokens issued before the change).
	Type         string `json:"typ,omitempty"`
	Role         string `json:"role"`
	OrgUnit      string `json:"ou,omitempty"`
	Counterparty string `json:"cp,omitempty"`
	Device       string `json:"did,omitempty"`
	// Family is the sign-in (refresh-token family) the token came from.
	Family string `json:"sid,omitempty"`
}

// Tokens issues and checks access tokens. Safe for concurrent use.
type Tokens struct {
	Issuer   string
	Audience string
	keys     *KeySet
	now      func() time.Time
	parser   *jwt.Parser
}

// NewTokens returns a Tokens for the given issuer and audience.
func NewTokens(keys *KeySet, issuer, audience string, now func() time.Time) *Tokens {
	return &Tokens{
		Issuer: issuer, Audience: audience, keys: keys, now: now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{algEdDSA}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithLeeway(Leeway),
			jwt.WithTimeFunc(now),
			jwt.WithStrictDecoding(),
		),
	}
}

// Issue signs an access token for the subject with the given claims (their
// registered part is filled in here) and returns it with its expiry.
func (t *Tokens) Issue(subject string, c Claims) (string, time.Time, error) {
	now := t.now().UTC().Truncate(time.Second)
	exp := now.Add(AccessTTL)
	c.RegisteredClaims = jwt.RegisteredClaims{
		Issuer: t.Issuer, Subject: subject, Audience: jwt.ClaimStrings{t.Audience},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
	}
	c.Type = ""
	kid, key := t.keys.signer()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, &c)
	tok.Header["kid"] = kid
	tok.Header["typ"] = headerTyp
	s, err := tok.SignedString(key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign: %w", err)
	}
	return s, exp, nil
}

// Parse checks an access token: EdDSA only, a kid from the key set (no
// jku/x5u/jwk header is ever consulted), exp required, iat not in the
// future, the right issuer and audience, 30s leeway, header typ "at+jwt"
// and no typ claim other than "access". Every failure is ErrInvalidToken.
func (t *Tokens) Parse(ctx context.Context, token string) (*Claims, error) {
	if token == "" || len(token) > MaxTokenLen {
		return nil, ErrInvalidToken
	}
	var c Claims
	_, err := t.parser.ParseWithClaims(token, &c, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if kid == "" || len(kid) > 64 {
			return nil, ErrInvalidToken
		}
		if typ, _ := tok.Header["typ"].(string); typ != headerTyp {
			return nil, ErrInvalidToken
		}
		pub, ok := t.keys.publicKey(ctx, kid)
		if !ok {
			return nil, ErrInvalidToken
		}
		return pub, nil
	})
	if err != nil || c.Type != "" && c.Type != accessType || c.Subject == "" || c.IssuedAt == nil {
		return nil, ErrInvalidToken
	}
	return &c, nil
}

// NewSecret returns a random opaque secret (refresh tokens, activation
// codes' entropy) of n bytes, base64url-encoded.
func NewSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashSecret is how opaque secrets are stored: hex SHA-256. (They carry
// 256 bits of entropy, so a fast hash is enough; passwords use argon2id.)
func HashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
