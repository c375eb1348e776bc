package pairing

import "github.com/pairsync/pairsync/syncproto"

// Reason codes: why the domain refused a write, one stable snake_case code
// per rule (syncproto.Error.Reason), with the values its message names in
// Error.Args. Clients show their own message for each, in the person's
// language, saying what to do next (mobile/web/src/errors.js; a test there
// parses this file and fails on a reason without a Chinese and an English
// message); the server's own message for it follows Accept-Language
// (server/messages.go). A reason never changes meaning; new ones may be
// added.
const (
	ReasonUnknownCollection   = "unknown_collection"     // no such kind of record
	ReasonAppendOnly          = "append_only"            // events, ratings, comments are never changed or deleted
	ReasonContactNoDelete     = "contact_no_delete"      // contacts delete nothing
	ReasonUnknownOperation    = "unknown_operation"      // not set, delete or keep
	ReasonUnknownField        = "unknown_field"          // args: field
	ReasonServerOnly          = "server_only"            // args: field
	ReasonRoleMayNotSet       = "role_may_not_set"       // args: field, role
	ReasonImmutable           = "immutable"              // args: field
	ReasonRequired            = "required"               // args: field
	ReasonCodeNeeded          = "code_needed"            // the contact's confirmation code is needed
	ReasonNotYourself         = "not_yourself"           // args: field
	ReasonNotPairingOfficer   = "not_pairing_officer"    // args: field
	ReasonAdminReturnsVisit   = "admin_returns_visit"    // only an administrator returns a visit
	ReasonReturnNeedsComment  = "return_needs_comment"   // a returned visit needs a comment
	ReasonContactOwnIssues    = "contact_own_issues"     // contacts edit only the issues they raised
	ReasonNotCounterparty     = "not_counterparty"       // args: field
	ReasonContactOwnParty     = "contact_own_party"      // contacts raise issues for their own counterparty only
	ReasonEventInvalid        = "event_invalid"          // a malformed issue event; args: field
	ReasonEventNotAllowed     = "event_not_allowed"      // args: type, role
	ReasonEventNeeds          = "event_needs"            // args: type, field
	ReasonAcceptNotCompleted  = "accept_not_completed"   // args: status
	ReasonProjectMove         = "project_move"           // args: from, to
	ReasonProjectMoveRole     = "project_move_role"      // args: from, to, role
	ReasonStatusReason        = "status_reason"          // args: to
	ReasonVerifyNeedsAccept   = "verify_needs_accept"    // verified needs the contact's acceptance and an admin
	ReasonCreditCodeMissing   = "credit_code_missing"    // an enterprise needs its 统一社会信用代码
	ReasonCreditCodeLength    = "credit_code_length"     // not 18 characters
	ReasonCreditCodeChar      = "credit_code_char"       // a character outside the code's alphabet
	ReasonCreditCodeDivision  = "credit_code_division"   // characters 3–8 are not digits
	ReasonCreditCodeCheck     = "credit_code_check"      // the check character does not match
	ReasonBadValue            = "bad_value"              // args: field
	ReasonNotAChoice          = "not_a_choice"           // args: field, value
	ReasonTooLong             = "too_long"               // args: field, max
	ReasonOneLine             = "one_line"               // args: field
	ReasonTooMany             = "too_many"               // args: field, max
	ReasonOutOfRange          = "out_of_range"           // args: field, min, max
	ReasonBadTime             = "bad_time"               // args: field
	ReasonTimeTooEarly        = "time_too_early"         // args: field
	ReasonTimeInFuture        = "time_in_future"         // args: field
	ReasonTimeTooFar          = "time_too_far"           // args: field
	ReasonBadPhoto            = "bad_photo"              // args: field
	ReasonMissingParent       = "missing_parent"         // the issue or project named is not (yet) on the server; args: field
	ReasonConfirmNeedsAnswer  = "confirm_needs_response" // a confirmation on an officer's phone names the response
	ReasonReturnComment       = "return_comment"         // the console's return needs a comment
	ReasonNoSuchUser          = "no_such_user"           // args: field
	ReasonWrongRole           = "wrong_role"             // args: field, role, want
	ReasonNoSuchOrgUnit       = "no_such_org_unit"       // args: field
	ReasonNoSuchCounterparty  = "no_such_counterparty"   // args: field
	ReasonPairingNeedsParties = "pairing_needs_parties"  // a pairing needs a branch and a counterparty
	// The photo channel's refusals (server/imaging's policy).
	ReasonPhotoTypeMismatch = "photo_type_mismatch" // the bytes are not of the declared type
	ReasonPhotoTypeRefused  = "photo_type_refused"  // a type the server does not take
	ReasonPhotoTooLarge     = "photo_too_large"     // too many bytes or pixels
	ReasonPhotoUnreadable   = "photo_unreadable"    // the image cannot be read
	ReasonPhotoMismatch     = "photo_mismatch"      // the bytes do not hash to the photo's SHA-256 or have another size
	// A request body's own encoding (server/inflate.go, issue 20).
	ReasonInflatedTooLarge    = "inflated_too_large"   // a compressed body over the route's limit once decoded; args: max
	ReasonUnsupportedEncoding = "unsupported_encoding" // a Content-Encoding other than gzip; args: encoding
	ReasonBadCompression      = "bad_compression"      // a gzip body that does not decode
	// References and figures people are judged by (SECURITY.md 11 and 13;
	// refs.go, validate.go).
	ReasonUnknownRef   = "unknown_reference" // names nothing the writer may name here (unknown or out of scope alike); args: field
	ReasonNotRatable   = "not_ratable"       // a rating's target is not yet responded/closed/completed
	ReasonCodeUsed     = "code_used"         // a confirmation/rating code was used already
	ReasonDueInPast    = "due_in_past"       // a dispatch whose due date is not after the dispatch
	ReasonBeforeStart  = "before_pairing"    // a device time before the pairing existed
	ReasonFutureTime   = "future_time"       // a time later than the server's clock allows
	ReasonBidi         = "bidi_control"      // text holding bidirectional control characters
	ReasonPairingEnded = "pairing_ended"     // a write into an ended pairing
	ReasonNotApplied   = "not_applied"       // an administrator's event that would not take effect
	ReasonIDTaken      = "id_taken"          // a pushed record's id is used in another pairing

	// A credit code taken already: named only inside the writer's scope.
	ReasonCreditCodeTaken          = "credit_code_taken"           // a counterparty the writer sees has it; args: name
	ReasonCreditCodeTakenElsewhere = "credit_code_taken_elsewhere" // one outside the writer's scope has it (never named)
)

// why sets the reason and its args (key, value, key, value…) on e.
func why(e *syncproto.Error, reason string, kv ...string) *syncproto.Error {
	e.Reason = reason
	if len(kv) > 1 {
		e.Args = make(map[string]string, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			e.Args[kv[i]] = kv[i+1]
		}
	}
	return e
}

// Why is why for the server's own checks of the same rules (references
// that need storage): it sets reason and args on e and returns it.
func Why(e *syncproto.Error, reason string, kv ...string) *syncproto.Error {
	return why(e, reason, kv...)
}
