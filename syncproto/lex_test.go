package syncproto

import "testing"

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
