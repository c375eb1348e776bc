package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// fast keeps unit tests quick; DefaultParams are checked separately.
var fast = Params{MemoryKiB: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(fast, 2)
	phc, err := h.Hash(ctx, "正确的马电池 staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("got hash %q, want argon2id PHC with the params", phc)
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{
		{"正确的马电池 staple", true},
		{"正确的马电池 stapl", false},
		{"", false},
	} {
		ok, err := h.Verify(ctx, tc.pw, phc)
		if err != nil || ok != tc.want {
			t.Errorf("Verify(%q) = %v, %v; want %v, nil", tc.pw, ok, err, tc.want)
		}
	}
	again, _ := h.Hash(ctx, "正确的马电池 staple")
	if again == phc {
		t.Error("two hashes of one password are equal; want distinct salts")
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := NewHasher(fast, 1)
	for _, phc := range []string{
		"", "plain", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=18$m=1024,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=1024,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5",
	} {
		if ok, err := h.Verify(context.Background(), "x", phc); ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v; want false, error", phc, ok, err)
		}
	}
}

func TestDefaultParamsMeetTheBar(t *testing.T) {
	if DefaultParams.MemoryKiB < 19*1024 || DefaultParams.Time < 2 || DefaultParams.Threads != 1 {
		t.Fatalf("got %+v, want m >= 19 MiB, t >= 2, p = 1 (SECURITY.md)", DefaultParams)
	}
	h := NewHasher(DefaultParams, 1)
	phc, err := h.Hash(context.Background(), "password1")
	if err != nil {
		t.Fatal(err)
	}
	if h.NeedsRehash(phc) {
		t.Error("fresh hash needs rehash")
	}
	if !NewHasher(fast, 1).NeedsRehash(phc) {
		t.Error("hash with other params does not need rehash")
	}
}

func TestHashWaitsForSlot(t *testing.T) {
	h := NewHasher(fast, 1)
	h.sem <- struct{}{} // occupy the only slot
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "password1"); err == nil {
		t.Fatal("Hash with a full pool and a cancelled context succeeded; want an error")
	}
}

func TestCheckPassword(t *testing.T) {
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"1234567", false},
		{"12345679", true},
		{"八个汉字的密码好", true},
		{strings.Repeat("xy", 64), true},
		{strings.Repeat("x", 129), false},
		{"abc\xffdefgh", false},
	} {
		if err := CheckPassword(tc.pw); (err == nil) != tc.ok {
			t.Errorf("CheckPassword(%q) = %v; want ok=%v", tc.pw, err, tc.ok)
		}
	}
}

// TestCheckPasswordRefusesCommon: the blocklist (ASVS 5 V6.2.4) and the
// shapes no list needs to hold; ordinary passphrases pass.
func TestCheckPasswordRefusesCommon(t *testing.T) {
	for _, pw := range []string{"12345678", "password", "Password", " password ", "        ", "\t\t\t\t\t\t\t\t",
		"qwertyuiop", "woaini1314", "aaaaaaaaaa", "87654321", "abcdefghij", "P@ssw0rd", "1qaz2wsx"} {
		if err := CheckPassword(pw); !errors.Is(err, ErrCommonPassword) {
			t.Errorf("CheckPassword(%q): got %v, want ErrCommonPassword", pw, err)
		}
	}
	for _, pw := range []string{"correct-horse-9", "我的新密码-2026", "another-horse-10", "bench-Pa55word-结对", "e2e-admin-password", "fault-officer-password"} {
		if err := CheckPassword(pw); err != nil {
			t.Errorf("CheckPassword(%q): got %v, want nil", pw, err)
		}
	}
	if len(commonPasswords) < 100 {
		t.Errorf("the blocklist holds %d passwords, want at least 100", len(commonPasswords))
	}
}
