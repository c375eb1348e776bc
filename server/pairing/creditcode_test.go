package pairing

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestValidateCreditCode(t *testing.T) {
	for _, tc := range []struct {
		code string
		want error
	}{
		{"91350100M000100Y43", nil}, // the standard's worked example
		{"91350100M000100Y44", ErrCreditCodeCheck},
		{"91350100M000100Y4", ErrCreditCodeLength},
		{"91350100M000100Y433", ErrCreditCodeLength},
		{"91350100M000100I43", ErrCreditCodeChar}, // I is not in the alphabet
		{"91350100m000100Y43", ErrCreditCodeChar}, // not normalized
		{"9135A100M000100Y43", ErrCreditCodeDivision},
		{"", ErrCreditCodeLength},
	} {
		if got := ValidateCreditCode(tc.code); !errors.Is(got, tc.want) || (tc.want == nil && got != nil) {
			t.Errorf("ValidateCreditCode(%q) = %v, want %v", tc.code, got, tc.want)
		}
	}
	if got := NormalizeCreditCode(" 91350100m000100y43 "); got != "91350100M000100Y43" {
		t.Errorf("NormalizeCreditCode: got %q", got)
	}
}

// TestCreditCodeCatchesEveryTypo: for random valid codes, every single
// character replaced by any other of the alphabet is refused.
func TestCreditCodeCatchesEveryTypo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200; n++ {
		b := make([]byte, 18)
		sum := 0
		for i := 0; i < 17; i++ {
			v := rng.IntN(31)
			if i >= 2 && i < 8 {
				v = rng.IntN(10)
			}
			b[i] = creditAlphabet[v]
			sum += v * creditWeights[i]
		}
		b[17] = creditAlphabet[creditCheck(sum)]
		code := string(b)
		if err := ValidateCreditCode(code); err != nil {
			t.Fatalf("generated code %s: %v", code, err)
		}
		for i := 0; i < 18; i++ {
			for j := 0; j < 31; j++ {
				c := []byte(code)
				if c[i] == creditAlphabet[j] {
					continue
				}
				c[i] = creditAlphabet[j]
				if ValidateCreditCode(string(c)) == nil {
					t.Fatalf("%s (from %s, position %d changed) passed; want refused", c, code, i+1)
				}
			}
		}
	}
}
