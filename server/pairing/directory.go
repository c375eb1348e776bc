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

	mu             sync.RWMutex
	seq            uint64
	pairings       map[string]Pairing
	counterparties map[string]Counterparty
	paths          map[string]string // org unit id → path (paths never change: units do not move)
}

// Counterparty is what the directory keeps of a counterparty (共建单位):
// enough to list, search and find duplicates without reading records.
type Counterparty struct {
	ID         string
	Kind       string // enterprise | community
	Name       string
	CreditCode string // 统一社会信用代码 (enterprises)
	OrgUnit    string // the managing unit
	OrgPath    string
	Industry   string
	Address    string
	Seq        uint64
	Deleted    bool
}

// CounterpartyFromRecord reads a counterparty record.
func CounterpartyFromRecord(r syncproto.Record) Counterparty {
	return Counterparty{ID: r.ID, Kind: str(r, "kind"), Name: str(r, "name"), CreditCode: str(r, "credit_code"),
		OrgUnit: str(r, "org_unit"), Industry: str(r, "industry"), Address: str(r, "address"), Deleted: r.Deleted()}
}

// NewDirectory returns an empty Directory; call Refresh to load it.
func NewDirectory(records storage.Records, path func(ctx context.Context, orgUnit string) (string, error)) *Directory {
	return &Directory{records: records, path: path, pairings: map[string]Pairing{}, counterparties: map[string]Counterparty{}, paths: map[string]string{}}
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
		cps := map[string]Counterparty{}
		for _, sr := range page.Records {
			if sr.Collection != CollPairings && sr.Collection != CollCounterparties {
				continue
			}
			r, err := syncproto.DecodeRecord(sr.Data, syncproto.Limits{})
			if err != nil {
				return fmt.Errorf("pairing: directory record %s: %w", sr.ID, err)
			}
			if sr.Collection == CollCounterparties {
				cp := CounterpartyFromRecord(r)
				cp.Seq = sr.Seq
				if cp.OrgPath, err = d.branchPath(ctx, cp.OrgUnit); err != nil {
					return err
				}
				cps[cp.ID] = cp
				continue
			}
			p := PairingFromRecord(r)
			p.Seq = sr.Seq
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
		for id, cp := range cps {
			d.counterparties[id] = cp
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
	if id == "" {
		return "", nil
	}
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

// Known reports whether the directory holds the pairing, deleted or not
// (All lists it).
func (d *Directory) Known(id string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, ok := d.pairings[id]
	return ok
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

// Counterparty returns a counterparty by id.
func (d *Directory) Counterparty(id string) (Counterparty, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	cp, ok := d.counterparties[id]
	return cp, ok && !cp.Deleted
}

// Counterparties returns the live counterparties for which keep is true,
// ordered by id.
//
// keep is called without the directory's lock held, so it may ask the
// directory (SeesDirectoryRecord): a second read lock taken while a refresh
// waits to write would deadlock.
func (d *Directory) Counterparties(keep func(Counterparty) bool) []Counterparty {
	d.mu.RLock()
	live := make([]Counterparty, 0, len(d.counterparties))
	for _, cp := range d.counterparties {
		if !cp.Deleted {
			live = append(live, cp)
		}
	}
	d.mu.RUnlock()
	out := live[:0]
	for _, cp := range live {
		if keep(cp) {
			out = append(out, cp)
		}
	}
	slices.SortFunc(out, func(a, b Counterparty) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// ByCreditCode returns the live counterparty with the code, if any.
func (d *Directory) ByCreditCode(code string) (Counterparty, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, cp := range d.counterparties {
		if !cp.Deleted && cp.CreditCode != "" && cp.CreditCode == code {
			return cp, true
		}
	}
	return Counterparty{}, false
}

// LikelyDuplicates returns live counterparties (other than except) whose
// names are the same once the usual suffixes and punctuation are set aside
// (某某科技有限公司 and 某某科技(有限公司)), or that share the credit code.
func (d *Directory) LikelyDuplicates(name, code, except string) []Counterparty {
	key := NameKey(name)
	return d.Counterparties(func(cp Counterparty) bool {
		return cp.ID != except && (key != "" && NameKey(cp.Name) == key || code != "" && cp.CreditCode == code)
	})
}

// nameNoise is what NameKey drops: company-form suffixes, brackets, spaces.
var nameNoise = strings.NewReplacer(
	"股份有限公司", "", "有限责任公司", "", "有限公司", "", "集团", "", "公司", "",
	"（", "", "）", "", "(", "", ")", "", " ", "", "\u3000", "", "·", "", "-", "",
)

// NameKey is a counterparty name reduced for duplicate detection.
func NameKey(name string) string {
	return strings.ToLower(nameNoise.Replace(strings.TrimSpace(name)))
}
