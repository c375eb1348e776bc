package readmodel

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// PhotoGrantPlan is what the grants migration (the photos stored before
// grants existed) does for one photo: the pairing of the earliest record
// citing it gets the grant; the other pairings citing it get none (a later
// citation in another pairing is the attack grants close: a hash copied
// from elsewhere opens no bytes).
type PhotoGrantPlan struct {
	SHA256  string
	Pairing string      // the earliest citation's pairing ("" when no record cites the photo)
	Record  storage.Key // the earliest citing record
	At      time.Time   // its citation's stamp (CitedAt)
	Others  []string    // the other pairings citing it, sorted
}

// PlanPhotoGrants reads the photo scope and every record of the given
// pairings, and returns, for each stored photo whose receipt predates
// grants (no "grants": true) and which holds no grant, whom the migration
// grants it to, ordered by hash. It writes nothing: running it again after
// the grants are written returns no plan for those photos.
//
// The earliest citation is the one with the earliest CitedAt, then the
// lowest pairing, collection and id: sequences are per pairing and do not
// order citations across pairings.
func PlanPhotoGrants(ctx context.Context, records storage.Records, pairings []string) ([]PhotoGrantPlan, error) {
	want := map[string]bool{} // stored, predating grants, no grant yet
	granted := map[string]bool{}
	for after := uint64(0); ; {
		page, err := records.Changes(ctx, pairing.PhotoScope, after, storage.PageLimit{})
		if err != nil {
			return nil, fmt.Errorf("pairing: plan photo grants: photos after %d: %w", after, err)
		}
		for _, sr := range page.Records {
			if sr.Collection != pairing.CollPhotos && sr.Collection != pairing.CollPhotoGrants {
				continue
			}
			r, err := syncproto.DecodeRecord(sr.Data, syncproto.Limits{})
			if err != nil {
				return nil, fmt.Errorf("pairing: plan photo grants: %s/%s: %w", sr.Collection, sr.ID, err)
			}
			if r.Deleted() {
				continue
			}
			if sr.Collection == pairing.CollPhotoGrants {
				granted[pairing.Str(r, "sha256")] = true
				continue
			}
			var stored, grants bool
			_ = json.Unmarshal(r.Value("stored"), &stored)
			_ = json.Unmarshal(r.Value("grants"), &grants)
			if stored && !grants && storage.ValidSHA256(sr.ID) {
				want[sr.ID] = true
			}
		}
		after = page.Next
		if !page.More {
			break
		}
	}
	for sum := range granted {
		delete(want, sum)
	}
	if len(want) == 0 {
		return nil, nil
	}
	plans := map[string]*PhotoGrantPlan{}
	citers := map[string]map[string]bool{}
	for sum := range want {
		plans[sum] = &PhotoGrantPlan{SHA256: sum}
		citers[sum] = map[string]bool{}
	}
	pids := slices.Sorted(slices.Values(pairings))
	for _, pid := range slices.Compact(pids) {
		for after := uint64(0); ; {
			page, err := records.Changes(ctx, pid, after, storage.PageLimit{})
			if err != nil {
				return nil, fmt.Errorf("pairing: plan photo grants: %s after %d: %w", pid, after, err)
			}
			for _, sr := range page.Records {
				r, err := syncproto.DecodeRecord(sr.Data, syncproto.Limits{})
				if err != nil {
					return nil, fmt.Errorf("pairing: plan photo grants: %s/%s: %w", sr.Collection, sr.ID, err)
				}
				for _, sum := range citedPhotos(r) {
					p := plans[sum]
					if p == nil {
						continue
					}
					citers[sum][pid] = true
					at := CitedAt(r, sum)
					if p.Pairing == "" || cmp.Or(at.Compare(p.At), cmp.Compare(pid, p.Pairing),
						cmp.Compare(sr.Collection, p.Record.Collection), cmp.Compare(sr.ID, p.Record.ID)) < 0 {
						p.Pairing, p.Record, p.At = pid, sr.Key, at
					}
				}
			}
			after = page.Next
			if !page.More {
				break
			}
		}
	}
	out := make([]PhotoGrantPlan, 0, len(plans))
	for sum, p := range plans {
		for pid := range citers[sum] {
			if pid != p.Pairing {
				p.Others = append(p.Others, pid)
			}
		}
		slices.Sort(p.Others)
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b PhotoGrantPlan) int { return cmp.Compare(a.SHA256, b.SHA256) })
	return out, nil
}

// CitedAt is the earliest stamp of a record's citation of a photo: the
// HLC wall time of the earliest field that cites it (a manifest edited to
// add the photo carries the edit's time, not the record's), and never
// before the record's received_at, the server's own clock when it first
// stored the record (a device clock set back cannot make a new record
// look older than its arrival).
func CitedAt(r syncproto.Record, sum string) time.Time {
	var at time.Time
	for _, f := range photoFields {
		fld, ok := r.Fields[f]
		if !ok || !slices.Contains(citedPhotos(syncproto.Record{Fields: map[string]syncproto.Field{f: fld}}), sum) {
			continue
		}
		if t := fld.HLC.Time(); at.IsZero() || t.Before(at) {
			at = t
		}
	}
	if rcv := pairing.TimeField(r, "received_at"); rcv.After(at) {
		at = rcv
	}
	return at
}
