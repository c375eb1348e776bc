// Package pairing is Pairsync's domain: the people (roles), the things they
// work on (org units, counterparties, pairings, visits, issues, practical
// projects) and the one policy that decides who may do what.
//
// Every handler and the sync filter ask the same question of Policy:
//
//	if err := pairing.Policy(who, pairing.Manage, pairing.Object{Kind: pairing.KindUser, ID: id, OrgPath: path}); err != nil {
//		// ErrNotVisible: answer 404 (no existence oracle)
//		// ErrForbidden:  answer 403
//	}
//
// It holds the rules of what a write may be (schema, validation, admission,
// references, policy, scope, the issue state machine, SLA and deadline
// rules). What the committed records add up to (the ledger, KPIs, lists,
// 待办, photo tracking) is server/readmodel, which depends on this package
// and never the other way.
package pairing
