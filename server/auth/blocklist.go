package auth

import (
	_ "embed"
	"errors"
	"strings"
	"unicode"
)

// ErrCommonPassword is returned by CheckPassword for a password that is
// among the most common ones, or made of nothing but spaces, one repeated
// character or a run of consecutive digits or letters (ASVS 5 V6.2.4).
var ErrCommonPassword = errors.New("this password is too common and easy to guess: choose another (a phrase of a few words is easy to remember)")

//go:embed common_passwords.txt
var commonPasswordsText string

// commonPasswords is the set of common_passwords.txt.
var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonPasswordsText, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			m[strings.ToLower(line)] = true
		}
	}
	return m
}()

// commonPassword reports whether pw is too easy to guess.
func commonPassword(pw string) bool {
	p := strings.ToLower(strings.TrimSpace(pw))
	if p == "" || commonPasswords[p] {
		return true
	}
	rs := []rune(p)
	same, up, down := true, true, true
	for i := 1; i < len(rs); i++ {
		same = same && rs[i] == rs[0]
		up = up && rs[i] == rs[i-1]+1
		down = down && rs[i] == rs[i-1]-1
	}
	if same {
		return true
	}
	if (up || down) && (unicode.IsDigit(rs[0]) || rs[0] >= 'a' && rs[0] <= 'z') {
		return true
	}
	return false
}
