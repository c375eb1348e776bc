package pairing

import (
	"errors"
	"strings"
)

// 统一社会信用代码 (unified social credit code), GB 32100-2015: 18 characters
// from a 31-character alphabet (digits and capitals without I, O, S, V, Z):
// registration authority (1), category (1), administrative division (6
// digits), organisation code (9), check character (1).
const creditAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var creditWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// Errors of ValidateCreditCode; each names what is wrong, for the user.
var (
	ErrCreditCodeLength   = errors.New("统一社会信用代码 must be 18 characters")
	ErrCreditCodeChar     = errors.New("统一社会信用代码 holds a character outside 0-9 and A-Y without I, O, S, V, Z")
	ErrCreditCodeDivision = errors.New("统一社会信用代码: characters 3 to 8 (administrative division) must be digits")
	ErrCreditCodeCheck    = errors.New("统一社会信用代码: the check character does not match (a character was mistyped)")
)

// NormalizeCreditCode trims spaces and upper-cases a code as people type it.
func NormalizeCreditCode(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// ValidateCreditCode checks a normalized code's length, alphabet, division
// digits and GB 32100 check character. The weights are non-zero modulo the
// prime 31, so every single mistyped character is caught.
func ValidateCreditCode(code string) error {
	if len(code) != 18 {
		return ErrCreditCodeLength
	}
	sum := 0
	for i := 0; i < 18; i++ {
		v := strings.IndexByte(creditAlphabet, code[i])
		if v < 0 {
			return ErrCreditCodeChar
		}
		if i >= 2 && i < 8 && v > 9 {
			return ErrCreditCodeDivision
		}
		if i < 17 {
			sum += v * creditWeights[i]
		}
	}
	if creditAlphabet[creditCheck(sum)] != code[17] {
		return ErrCreditCodeCheck
	}
	return nil
}

// creditCheck is the check character's index for a weighted sum.
func creditCheck(sum int) int {
	return (31 - sum%31) % 31
}

// CompleteCreditCode appends the check character to the first 17
// characters of a code ("" when they hold a character outside the
// alphabet), for test data. No refusal suggests a corrected code: a check
// character that does not match says a character was mistyped, not which.
func CompleteCreditCode(first17 string) string {
	if len(first17) != 17 {
		return ""
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(creditAlphabet, first17[i])
		if v < 0 {
			return ""
		}
		sum += v * creditWeights[i]
	}
	return first17 + string(creditAlphabet[creditCheck(sum)])
}

// CreditCodeReason is the reason code (reasons.go) of an error of
// ValidateCreditCode.
func CreditCodeReason(err error) string {
	switch {
	case errors.Is(err, ErrCreditCodeLength):
		return ReasonCreditCodeLength
	case errors.Is(err, ErrCreditCodeChar):
		return ReasonCreditCodeChar
	case errors.Is(err, ErrCreditCodeDivision):
		return ReasonCreditCodeDivision
	case errors.Is(err, ErrCreditCodeCheck):
		return ReasonCreditCodeCheck
	}
	return ReasonBadValue
}
