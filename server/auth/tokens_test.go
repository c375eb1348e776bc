package auth

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pairsync/pairsync/storage/bolt"
)

// TestAccessTokenSize: an access token carries no claim a request does not
// use, and a short kid; it still verifies, and so does one naming the key
// by its whole kid (tokens issued before the change).
func TestAccessTokenSize(t *testing.T) {
	db, err := bolt.Open(t.Context(), bolt.Config{Path: filepath.Join(t.TempDir(), "k.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := func() time.Time { return time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC) }
	ks, err := LoadKeySet(t.Context(), db, AccessTTL+Leeway, now)
	if err != nil {
		t.Fatal(err)
	}
	tokens := NewTokens(ks, "pairsync", "pairsync-api", now)
	claims := Claims{Role: "officer", OrgUnit: "/root/unit-0001/", Device: "01a20328-1c27-7db3-9c66-98296b6b063a", Family: "01a20328-1c27-7db3-9c66-98296b6b0000"}
	tok, _, err := tokens.Issue("01a20324-cb52-783c-9b67-000000000001", claims)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("access token: %d bytes", len(tok))
	if len(tok) > 500 {
		t.Errorf("access token: got %d bytes, want at most 500", len(tok))
	}
	parts := strings.Split(tok, ".")
	var hdr map[string]any
	var body map[string]any
	for i, v := range []any{&hdr, &body} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(raw, v) != nil {
			t.Fatalf("token part %d: %v", i, err)
		}
	}
	if kid, _ := hdr["kid"].(string); len(kid) != shortKIDLen {
		t.Errorf("kid: got %q, want %d characters", kid, shortKIDLen)
	}
	for _, dropped := range []string{"nbf", "jti", "typ"} {
		if _, ok := body[dropped]; ok {
			t.Errorf("claims: got %q, want it left out", dropped)
		}
	}
	for _, kept := range []string{"iss", "sub", "aud", "iat", "exp", "role", "did"} {
		if _, ok := body[kept]; !ok {
			t.Errorf("claims: %q missing", kept)
		}
	}
	if c, err := tokens.Parse(t.Context(), tok); err != nil || c.Device != claims.Device {
		t.Fatalf("parse: got %+v, %v; want the claims back", c, err)
	}

	// The same claims signed under the whole kid verify; with a typ claim
	// other than "access", or a kid prefix of the wrong length, they do not.
	keys, _ := db.SigningKeys(t.Context())
	sign := func(kid string, extra map[string]any) string {
		m := jwt.MapClaims{}
		for k, v := range body {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		j := jwt.NewWithClaims(jwt.SigningMethodEdDSA, m)
		j.Header["kid"], j.Header["typ"] = kid, headerTyp
		s, err := j.SignedString(ks.signKey)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		token string
		ok    bool
	}{
		{"whole kid", sign(keys[0].ID, nil), true},
		{"typ access", sign(keys[0].ID, map[string]any{"typ": "access"}), true},
		{"typ refresh", sign(shortKID(keys[0].ID), map[string]any{"typ": "refresh"}), false},
		{"kid prefix too short", sign(keys[0].ID[:shortKIDLen-1], nil), false},
		{"kid prefix too long", sign(keys[0].ID[:shortKIDLen+1], nil), false},
	} {
		if _, err := tokens.Parse(t.Context(), tc.token); (err == nil) != tc.ok {
			t.Errorf("%s: got error %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
