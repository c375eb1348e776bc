package readmodel

import (
	"encoding/json"
	"unsafe"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/syncproto"
)

// The Ledger reads records from their feeds by skimming the stored JSON
// (syncproto.Skim, next to the encoder it must match) for the fields it
// keeps: visits by skimVisit (visits.go), issues and issue events by
// skimToRecord; each in full only when it is not as Encode writes it.

// skimToRecord reads a stored record as DecodeRecord would, but only the
// fields named in want (their values; the dot and HLC of the field named
// order only, the others' left zero): enough for the functions that read
// those fields of a live record. It returns false when syncproto.Skim does,
// or a field is not as Encode writes it.
func skimToRecord(data []byte, want []string, order string, s *syncproto.Skimmed) (syncproto.Record, bool) {
	if !syncproto.Skim(data, want, s) || s.Conflicts { // a conflict entry may cite photos (citedPhotos)
		return syncproto.Record{}, false
	}
	// The pairing is only compared (it aliases data); the collection is
	// one of a few.
	var coll string
	switch string(s.Collection) {
	case pairing.CollIssues:
		coll = pairing.CollIssues
	case pairing.CollIssueEvents:
		coll = pairing.CollIssueEvents
	default:
		coll = string(s.Collection)
	}
	r := syncproto.Record{Collection: coll, ID: string(s.ID), Pairing: unsafeString(s.Pairing),
		Fields: make(map[string]syncproto.Field, len(want))}
	for i, name := range want {
		f := s.Fields[i]
		if f.Value == nil {
			continue
		}
		if name != order {
			r.Fields[name] = syncproto.Field{Value: json.RawMessage(f.Value)}
			continue
		}
		dot, h, ok := f.Entry()
		if !ok {
			return syncproto.Record{}, false
		}
		r.Fields[name] = syncproto.Field{Value: json.RawMessage(f.Value), Dot: dot, HLC: h}
	}
	return r, true
}

// issueWant and eventWant are the fields the Ledger reads of issues and
// issue events (issueFromRecord, IssueEventFromRecord, citedPhotos).
var (
	issueWant = []string{"counterparty", "title", "category", "priority", "raised_by", "visit", "raised_at", "received_at",
		"photos", "evidence"}
	eventWant = []string{"issue", "type", "role", "by", "reason", "handler", "handler_name", "resolution", "note",
		"response", "code", "at", "received_at", "due", "evidence", "photos"}
)

// unsafeString views bytes as a string, for as long as the bytes are not
// changed.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
