package syncproto

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// TestScanNumber: JSON's number grammar, and where it stops or fails.
func TestScanNumber(t *testing.T) {
	for _, c := range []struct {
		in  string
		end int
		ok  bool
	}{
		{"0", 1, true}, {"-0", 2, true}, {"12,", 2, true}, {"01", 1, true},
		{"1.5e+3]", 6, true}, {"1E9", 3, true}, {"-1.25", 5, true},
		{"", 0, false}, {"-", 1, false}, {"-a", 1, false}, {".5", 0, false},
		{"1.", 2, false}, {"1.e3", 2, false}, {"1e", 2, false}, {"1e+", 3, false}, {"+1", 0, false},
	} {
		end, ok := ScanNumber([]byte(c.in), 0)
		if end != c.end || ok != c.ok {
			t.Errorf("ScanNumber(%q) = %d, %v; want %d, %v", c.in, end, ok, c.end, c.ok)
		}
	}
}

// TestScanPlainAndSkipSpace: a plain run stops at '"', '\\' and control
// characters and checks UTF-8; SkipSpace skips only JSON's four spaces.
func TestScanPlainAndSkipSpace(t *testing.T) {
	for _, c := range []struct {
		in    string
		end   int
		valid bool
	}{
		{`abc"`, 3, true}, {`a\n`, 1, true}, {"a\x01", 1, true}, {"héllo", 6, true},
		{"", 0, true}, {"a\xff\"", 2, false}, {"\xed\xa0\x80", 3, false},
	} {
		end, valid := ScanPlain([]byte(c.in), 0)
		if end != c.end || valid != c.valid {
			t.Errorf("ScanPlain(%q) = %d, %v; want %d, %v", c.in, end, valid, c.end, c.valid)
		}
	}
	if got := SkipSpace([]byte(" \t\r\n\v1"), 0); got != 4 {
		t.Errorf("SkipSpace stops at %d, want 4 (\\v is not JSON space)", got)
	}
}

// TestScanPlainAgainstBytes: ScanPlain (eight bytes at a time) against a
// byte-by-byte reference, on every start of strings made of bytes around
// the ones that stop a run, ASCII and not, valid UTF-8 and not.
func TestScanPlainAgainstBytes(t *testing.T) {
	ref := func(b []byte, i int) (int, bool) {
		run := i
		for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 {
			i++
		}
		return i, utf8.Valid(b[run:i])
	}
	alphabet := []byte{0x00, 0x01, 0x1f, 0x20, 0x21, '"', 0x23, 0x5b, '\\', 0x5d, 'a', 0x7f, 0x80, 0xbf, 0xc3, 0xa9, 0xe4, 0xbb, 0x8a, 0xff}
	rng := rand.New(rand.NewPCG(7, 9))
	for n := range 20000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			switch {
			case n%3 == 0 && rng.IntN(8) > 0:
				b[i] = 'a' + byte(rng.IntN(26))
			case n%3 == 1 && rng.IntN(8) > 0:
				b = append(b[:i], "今"...)[:len(b)]
			default:
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		for i := 0; i <= len(b); i++ {
			ge, gv := ScanPlain(b, i)
			we, wv := ref(b, i)
			if ge != we || gv != wv {
				t.Fatalf("ScanPlain(%q, %d) = %d, %v; want %d, %v", b, i, ge, gv, we, wv)
			}
		}
	}
}
