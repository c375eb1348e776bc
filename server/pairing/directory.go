package pairing

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// Directory is a server process's index of every pairing: who is in it. It
// is built and kept current by reading the directory scope's changes feed
// after the last sequence it has seen, so it never misses a change and every
// process converges on the same index. Safe for concurrent use.
type Directory struct {
	records storage.Records
	// path resolves an org unit id to its path ("" when unknown).
	path func(ctx context.Context, orgUnit string) (string, error)

	refreshMu sync.Mutex // one refresh at a time

	mu       sync.RWMutex
	seq      uint64
	pairings map[string]Pairing
	paths    map[string]string // org unit id → path (paths never change: units do not move)
}

// NewDirectory returns an empty Directory; call Refresh to load it.
func NewDirectory(records storage.Records, path func(ctx context.Context, orgUnit string) (string, error)) *Directory {
	return &Directory{records: records, path: path, pairings: map[string]Pairing{}, paths: map[string]string{}}
}

// Refresh reads the directory changes committed since the last refresh.
func (d *Directory) Refresh(ctx context.Context) error {
	d.refreshMu.Lock()
	defer d.refreshMu.Unlock()
	d.mu.RLock()
	after := d.seq
	d.mu.RUnlock()
	for {
		page, err := d.records.Changes(ctx, DirectoryScope, after, storage.PageLimit{})
		if err != nil {
			return fmt.Errorf("pairing: refresh directory: %w", err)
		}
		updates := map[string]Pairing{}
		for _, sr := range page.Records {
			if sr.Collection != CollPairings {
				continue
			}
			r, err := syncproto.DecodeRecord(sr.Data, syncproto.Limits{})
			if err != nil {
				return fmt.Errorf("pairing: directory record %s: %w", sr.ID, err)
			}
			p := PairingFromRecord(r)
			for _, b := range p.Branches {
				path, err := d.branchPath(ctx, b)
				if err != nil {
					return err
				}
				if path != "" {
					p.BranchPaths = append(p.BranchPaths, path)
				}
			}
			updates[p.ID] = p
		}
		d.mu.Lock()
		for id, p := range updates {
			d.pairings[id] = p
		}
		d.seq = page.Next
		d.mu.Unlock()
		after = page.Next
		if !page.More {
			return nil
		}
	}
}

func (d *Directory) branchPath(ctx context.Context, id string) (string, error) {
	d.mu.RLock()
	path, ok := d.paths[id]
	d.mu.RUnlock()
	if ok {
		return path, nil
	}
	path, err := d.path(ctx, id)
	if err != nil {
		return "", fmt.Errorf("pairing: org unit %s: %w", id, err)
	}
	if path != "" { // unknown units are asked again: they may be created later
		d.mu.Lock()
		d.paths[id] = path
		d.mu.Unlock()
	}
	return path, nil
}

// Pairing returns a pairing by id.
func (d *Directory) Pairing(id string) (Pairing, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	p, ok := d.pairings[id]
	return p, ok && !p.Deleted
}

// Visible returns the pairings the principal may see, ordered by id.
func (d *Directory) Visible(pr Principal) []Pairing {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []Pairing
	for _, p := range d.pairings {
		if p.Sees(pr) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Pairing) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// SeesDirectoryRecord reports whether a record of the directory scope goes
// to the principal: a pairing they see, or a counterparty of one.
func (d *Directory) SeesDirectoryRecord(pr Principal, collection, id string) bool {
	switch collection {
	case CollPairings:
		p, ok := d.Pairing(id)
		return ok && p.Sees(pr)
	case CollCounterparties:
		if pr.Role == Contact && pr.Counterparty == id {
			return true
		}
		for _, p := range d.Visible(pr) {
			if slices.Contains(p.Counterparties, id) {
				return true
			}
		}
	}
	return false
}

// All returns every pairing, ordered by id.
func (d *Directory) All() []Pairing {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]Pairing, 0, len(d.pairings))
	for _, p := range d.pairings {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Pairing) int { return strings.Compare(a.ID, b.ID) })
	return out
}
