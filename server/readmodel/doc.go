// Package readmodel is Pairsync's read model: what every server process
// folds the committed records into, tailing the stores' feeds, so that no
// list, figure or photo check scans records.
//
//   - Ledger (ledger.go): every pairing's records as compact summaries
//     (visits.go, visitmap.go: a visit in 48 bytes), the lists (Visits,
//     Issues, Projects, Ratings) and the issue states derived from their
//     events; the KPIs kept per (pairing, month) as changes commit (kpi.go:
//     Figures, Trend, the 三率); the SLA's due work (SLADue); 待办 (todo.go:
//     Todos, DueSoon); the photos stored, cited and granted (photos.go) and
//     the grants migration's plan (photogrants.go); the tombstones for the
//     sweep (tombstones.go).
//   - Records are read by skimming the stored JSON (syncproto.Skim, next to
//     the encoder it must match; skim.go here reads issues and events,
//     visits.go visits), in full only when a record is not as Encode writes
//     it.
//
// It depends on server/pairing for every rule it applies (issue states by
// pairing.DeriveIssue, the overdue rule pairing.Deadline.OverdueAt, the due
// soon rule IssueState.DueSoonAt, the raise an issue record stands for
// pairing.IssueRaise, the photo scope's records, the directory of
// pairings), and never the other way: pairing is what a write may be, this
// package what the committed writes add up to. The server asks it, and
// pairing's admission reaches it only through the interfaces the server
// implements (pairing.Resolver).
package readmodel
