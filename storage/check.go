package storage

import (
	"fmt"
	"strings"
)

// The checks below are what every adapter refuses with ErrInvalid before
// it stores anything, as the contracts say; the adapters call them so that
// the rule is written once.

// MaxIdent bounds ids, user names, phones and device ids (well under
// bbolt's key limit).
const MaxIdent = 1024

// CheckIdent refuses an empty identifier, or one over MaxIdent bytes; what
// names it in the error.
func CheckIdent(what, s string) error {
	if s == "" {
		return fmt.Errorf("empty %s: %w", what, ErrInvalid)
	}
	if len(s) > MaxIdent {
		return fmt.Errorf("%s longer than %d bytes: %w", what, MaxIdent, ErrInvalid)
	}
	return nil
}

// CheckUser is what CreateUser and UpdateUser refuse: an ID or Username
// that is empty or over MaxIdent bytes, a Phone over MaxIdent bytes.
func CheckUser(u User) error {
	if err := CheckIdent("id", u.ID); err != nil {
		return err
	}
	if err := CheckIdent("username", u.Username); err != nil {
		return err
	}
	if len(u.Phone) > MaxIdent {
		return fmt.Errorf("phone longer than %d bytes: %w", MaxIdent, ErrInvalid)
	}
	return nil
}

// CheckOrgUnit is what CreateOrgUnit and UpdateOrgUnit refuse: an ID that
// is empty, over MaxIdent bytes or holds a "/", an empty Name.
func CheckOrgUnit(u OrgUnit) error {
	if err := CheckIdent("id", u.ID); err != nil {
		return err
	}
	if strings.Contains(u.ID, "/") {
		return fmt.Errorf("id %q holds a \"/\": %w", u.ID, ErrInvalid)
	}
	if u.Name == "" {
		return fmt.Errorf("empty name: %w", ErrInvalid)
	}
	return nil
}

// CheckSession is what CreateSession and RotateSession refuse to store: a
// malformed TokenHash, a Family or UserID that is empty or over MaxIdent
// bytes, a DeviceID over MaxIdent bytes, a zero ExpiresAt.
func CheckSession(s Session) error {
	if !ValidSHA256(s.TokenHash) {
		return fmt.Errorf("token hash is not a lowercase hex SHA-256: %w", ErrInvalid)
	}
	if err := CheckIdent("family", s.Family); err != nil {
		return err
	}
	if err := CheckIdent("user id", s.UserID); err != nil {
		return err
	}
	if len(s.DeviceID) > MaxIdent {
		return fmt.Errorf("device id longer than %d bytes: %w", MaxIdent, ErrInvalid)
	}
	if s.ExpiresAt.IsZero() {
		return fmt.Errorf("zero expiry: %w", ErrInvalid)
	}
	return nil
}
