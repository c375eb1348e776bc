package pairing

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pairsync/pairsync/syncproto"
)

// Admit is the one entry point of the domain rules: every write, whether a
// REST route makes it (server.writeAs) or a device pushes it
// (server.commitChanges), is admitted here before it is committed, in this
// order:
//
//  1. a pushed write names a pairing the writer may write (Pushed: the
//     directory scope takes no device writes; an unknown pairing is out of
//     scope);
//  2. CheckWrite: the fields, the allowed moves, the issue events' rules;
//  3. CheckRefs: every id the write names resolves within the writer's scope;
//  4. the contact's code that a confirmation, dispute, rating or acceptance
//     an officer records on the contact's behalf must carry, single-use;
//  5. the stamp: received_at on a record the server stores for the first
//     time (Verdict.Stamp), which the committer writes as the server's own
//     write in the same commit.
//
// It returns the refusal (Verdict.Refusal) or what to stamp.
func Admit(ctx context.Context, w Write, env Env) (Verdict, error) {
	if w.Pushed {
		switch pid := w.Merged.Pairing; {
		case pid == DirectoryScope:
			// Directory records come through the administrators' routes,
			// which admit them there; a device holds no write to them.
			return refuse(&syncproto.Error{Code: syncproto.CodeForbidden, Field: "collection", Message: "pairings and counterparties are changed through the administrators' routes"})
		case w.Pairing.ID != pid:
			return refuse(&syncproto.Error{Code: syncproto.CodeOutOfScope, Field: "pairing", Message: fmt.Sprintf("pairing %s is not one you may write", pid)})
		}
	}
	if e := CheckWrite(w); e != nil {
		return refuse(e)
	}
	if e, err := CheckRefs(ctx, w, env.Refs); e != nil || err != nil {
		return Verdict{Refusal: e}, err
	}
	if e, err := checkCodes(ctx, w, env); e != nil || err != nil {
		return Verdict{Refusal: e}, err
	}
	return Verdict{Stamp: receiptStamp(w)}, nil
}

// Env is what the domain rules read besides the write: the references as
// the write sees them, and the contacts' codes.
type Env struct {
	Refs  Resolver
	Codes Codes
}

// Codes verifies a contact's one-time code. The server derives the codes
// from a secret it keeps (an HMAC: kept out of this package, which the
// phone's WebAssembly links) and throttles wrong guesses.
type Codes interface {
	// Verify refuses a missing or wrong code for (what, subject), or any
	// code after too many wrong ones; nil when the code is right.
	Verify(ctx context.Context, p Principal, what, subject, code string) (*syncproto.Error, error)
}

// Verdict is Admit's answer: a refusal, or the values the server stamps.
type Verdict struct {
	Refusal *syncproto.Error
	// Stamp are the server's own values to set in the same commit (nil:
	// none).
	Stamp map[string]json.RawMessage
}

func refuse(e *syncproto.Error) (Verdict, error) { return Verdict{Refusal: e}, nil }

// checkCodes is Admit's step 4: what an officer records on a contact's
// behalf carries the contact's code, bound to what it confirms and used
// once.
func checkCodes(ctx context.Context, w Write, env Env) (*syncproto.Error, error) {
	merged, p := w.Merged, w.Principal
	if merged.Deleted() || w.Op != syncproto.OpSet || p.Role != Officer {
		return nil, nil
	}
	switch merged.Collection {
	case CollIssueEvents:
		typ := EventType(Str(merged, "type"))
		if typ != EventConfirmed && typ != EventDisputed {
			return nil, nil
		}
		response := Str(merged, "response")
		if response == "" {
			return &syncproto.Error{Code: syncproto.CodeValidation, Field: "response", Reason: ReasonConfirmNeedsAnswer,
				Message: "a confirmation recorded on an officer's phone names the response it answers (response) with the contact's code"}, nil
		}
		issue := Str(merged, "issue")
		if e, err := env.Codes.Verify(ctx, p, "confirm", issue+"/"+response, Str(merged, "code")); e != nil || err != nil {
			return e, err
		}
		// Single-use: the code answers the latest response once.
		st, _, err := env.Refs.Issue(ctx, issue)
		if err != nil {
			return nil, err
		}
		if st.Status != IssueResponded || st.Response != response {
			return codeUsed(), nil
		}
	case CollRatings:
		kind, id := Str(merged, "target_kind"), Str(merged, "target")
		return env.Codes.Verify(ctx, p, "rate", RateSubject(env.Refs, merged.Pairing, kind, id), Str(merged, "code"))
	case CollProjects:
		if _, ok := w.Values["contact_accepted_at"]; !ok {
			return nil, nil
		}
		if e, err := env.Codes.Verify(ctx, p, "accept", merged.ID, Str(merged, "code")); e != nil || err != nil {
			return e, err
		}
		if Str(w.Stored, "contact_accepted_at") != "" {
			return codeUsed(), nil
		}
	}
	return nil, nil
}

// codeUsed refuses a contact's code used a second time (issue 18 M2).
func codeUsed() *syncproto.Error {
	return &syncproto.Error{Code: syncproto.CodeForbidden, Field: "code", Reason: ReasonCodeUsed,
		Message: "this confirmation code has been used already: ask the contact for the code their app shows now"}
}

// RateSubject is what a rate code is bound to: the target and how many
// coded ratings it has had (committed, and earlier in this write), so a
// rate code records one rating and the contact's app then shows the next.
func RateSubject(r Resolver, pid, kind, id string) string {
	n := r.CodedRatings(pid, kind, id)
	for _, rec := range r.Pending() {
		if rec.Collection == CollRatings && Str(rec, "target_kind") == kind && Str(rec, "target") == id && Str(rec, "code") != "" {
			n++
		}
	}
	return fmt.Sprintf("%s/%s#%d", kind, id, n)
}

// StampsReceipt reports whether records of the collection keep the
// server's receipt time beside the device's own (received_at, DOMAIN.md).
func StampsReceipt(collection string) bool {
	spec, ok := Spec(collection)
	if !ok {
		return false
	}
	_, has := spec.Field("received_at")
	return has
}

// receiptStamp is Admit's step 5: received_at, at w.Now, on a record of
// such a collection that the server stores for the first time.
func receiptStamp(w Write) map[string]json.RawMessage {
	if !w.Stored.IsZero() || w.Merged.Deleted() || !StampsReceipt(w.Merged.Collection) || w.Merged.Value("received_at") != nil {
		return nil
	}
	v, _ := json.Marshal(w.Now.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	return map[string]json.RawMessage{"received_at": v}
}
