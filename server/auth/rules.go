package auth

// PasswordRules describes to people, before they choose a password, what
// CheckPassword accepts: the apps show them on the activation and
// change-password screens (GET /v1/auth/password-rules), so the rule stays
// here alone.
type PasswordRules struct {
	MinLength int `json:"min_length"` // in characters
	MaxLength int `json:"max_length"`
}

// Rules returns the rules CheckPassword applies.
func Rules() PasswordRules {
	return PasswordRules{MinLength: MinPasswordLen, MaxLength: MaxPasswordLen}
}
