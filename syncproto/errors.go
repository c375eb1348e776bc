package syncproto

import "fmt"

// Code is a wire error code: the machine-readable half of every error
// Pairsync sends, in HTTP problem bodies ({"code":…,"message":…}) and in
// per-change push answers. Codes are defined here, once, so the server, the
// Go client and the web app agree on them. A code never changes meaning;
// new codes may be added.
type Code string

// The wire error codes.
const (
	// Request-level codes (HTTP problem bodies).
	CodeBadRequest       Code = "bad_request"        // malformed request: syntax, types, missing fields
	CodeInvalidJSON      Code = "invalid_json"       // the body is not valid JSON or breaks the decoder's limits
	CodeTooLarge         Code = "too_large"          // body, array or string over its limit
	CodeUnauthorized     Code = "unauthorized"       // no valid credentials
	CodeForbidden        Code = "forbidden"          // valid credentials, action not allowed
	CodeNotFound         Code = "not_found"          // no such route or object (or not visible to the caller)
	CodeMethodNotAllowed Code = "method_not_allowed" // route exists, method does not
	CodeConflict         Code = "conflict"           // the object changed or already exists
	CodeRateLimited      Code = "rate_limited"       // too many requests; see Retry-After
	CodeUnavailable      Code = "unavailable"        // a dependency is down or slow; see Retry-After
	CodeShuttingDown     Code = "shutting_down"      // the server is draining; retry on another replica
	CodeTimeout          Code = "timeout"            // the request took longer than its deadline
	CodeUnsupportedMedia Code = "unsupported_media"  // wrong Content-Type
	CodeInternal         Code = "internal"           // a server bug; details are in the server log only
	CodeNotConfigured    Code = "not_configured"     // the server lacks a setting this needs; the message names it
	CodeTooManyDevices   Code = "too_many_devices"   // the user has the most devices allowed: revoke an old one first
	CodeAmbiguousLogin   Code = "ambiguous_login"    // the phone number signs in several accounts: sign in with the user name

	// Sync-level codes (per change or per pairing in sync answers).
	CodeValidation     Code = "validation_failed" // a field or transition breaks the domain rules
	CodeDeviceRevoked  Code = "device_revoked"    // refused: wipe local data (nothing more is accepted from it)
	CodeResyncRequired Code = "resync_required"   // the cursor is older than the tombstone horizon
	CodeOutOfScope     Code = "out_of_scope"      // the record's pairing is not one the user may write
)

// Error is a wire error. It is what a client decodes from a problem body and
// what a rejected change carries. Message is for people and may be shown to
// the user as is; Field, when set, names the offending field.
//
// Reason, when set, names the domain rule that refused (a stable snake_case
// code such as "project_move", defined where the rule lives: the server's
// pairing package) and Args the values its message names ({"from":
// "cancelled", "to": "approved"}): a client shows a message of its own for
// the reason, in the person's language, with what to do next.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// RetryAfter, with rate_limited, is how many seconds to wait (the
	// Retry-After header's value, for clients that show it translated).
	RetryAfter int `json:"retry_after,omitempty"`
	// Reason, when set, is a stable machine word that says more precisely
	// than Code why (e.g. "unknown_reference" within validation_failed),
	// for clients to translate (server/pairing/reasons.go lists them); new
	// reasons may be added. Args are its placeholders' values, in words.
	Reason string            `json:"reason,omitempty"`
	Args   map[string]string `json:"args,omitempty"`
}

// Errorf returns a wire error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (field %s)", e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}
