package pairing

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

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

	mu  sync.RWMutex
	seq uint64
	// pairings holds every pairing, deleted or not, in order of id (so
	// Visible and All list without sorting); at is each one's place.
	pairings       []Pairing
	at             map[string]int
	counterparties map[string]Counterparty
	// holders indexes pairings by counterparty: the ids of the pairings
	// (deleted or not) whose record lists it (put keeps it).
	holders map[string][]string
	// members indexes pairings by the people they list: the ids of the
	// pairings (deleted or not) whose record names the user as an officer
	// or a contact (put keeps it), so an officer's or a contact's pairings
	// are found without a pass over all of them (visible).
	members map[string][]string
	paths   map[string]string // org unit id → path (paths never change: units do not move)

	scans atomic.Uint64 // see Scans
}

// Scans is how many times the directory has gone through all its pairings
// for one principal (Visible, VisibleIDs). At province scale (7,000 pairings) each
// costs ~100 µs or more: tests count them to show a request does this once,
// not once per record it answers with.
func (d *Directory) Scans() uint64 { return d.scans.Load() }

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
	return &Directory{records: records, path: path, at: map[string]int{}, counterparties: map[string]Counterparty{},
		holders: map[string][]string{}, members: map[string][]string{}, paths: map[string]string{}}
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
		d.put(updates)
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

// put stores versions of pairings, in the order of ids and indexed by
// their counterparties and people. d.mu is held for writing.
func (d *Directory) put(ps map[string]Pairing) {
	added := false
	for _, p := range ps {
		if i, ok := d.at[p.ID]; ok {
			old := d.pairings[i]
			unindex(d.holders, old.Counterparties, p.ID)
			unindex(d.members, old.Officers, p.ID)
			unindex(d.members, old.Contacts, p.ID)
			d.pairings[i] = p
		} else {
			d.at[p.ID] = len(d.pairings)
			d.pairings = append(d.pairings, p)
			added = true
		}
		index(d.holders, p.Counterparties, p.ID)
		index(d.members, p.Officers, p.ID)
		index(d.members, p.Contacts, p.ID)
	}
	if added {
		slices.SortFunc(d.pairings, func(a, b Pairing) int { return strings.Compare(a.ID, b.ID) })
		for i, p := range d.pairings {
			d.at[p.ID] = i
		}
	}
}

// index adds pairing id under each key (once); unindex takes it away.
func index(m map[string][]string, keys []string, id string) {
	for _, k := range keys {
		if !slices.Contains(m[k], id) {
			m[k] = append(m[k], id)
		}
	}
}

func unindex(m map[string][]string, keys []string, id string) {
	for _, k := range keys {
		h := slices.DeleteFunc(m[k], func(x string) bool { return x == id })
		if len(h) == 0 {
			delete(m, k)
		} else {
			m[k] = h
		}
	}
}

// lookup returns a pairing by id, deleted or not. d.mu is held.
func (d *Directory) lookup(id string) (Pairing, bool) {
	i, ok := d.at[id]
	if !ok {
		return Pairing{}, false
	}
	return d.pairings[i], true
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
	p, ok := d.lookup(id)
	return p, ok && !p.Deleted
}

// Known reports whether the directory holds the pairing, deleted or not
// (All lists it).
func (d *Directory) Known(id string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, ok := d.at[id]
	return ok
}

// Visible returns the pairings the principal may see, ordered by id. The
// pairings seen are copied once, into a slice of their number: a province
// administrator sees all 7,000 (~2 MB).
func (d *Directory) Visible(pr Principal) []Pairing {
	d.mu.RLock()
	defer d.mu.RUnlock()
	seen := d.visible(pr)
	if len(seen) == 0 {
		return nil
	}
	out := make([]Pairing, len(seen))
	for j, i := range seen {
		out[j] = d.pairings[i]
	}
	return out
}

// VisibleIDs returns the ids of the pairings the principal may see, ordered
// (Visible's, without copying the pairings: the pull asks for each page, and
// a province administrator sees all 7,000).
func (d *Directory) VisibleIDs(pr Principal) []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	seen := d.visible(pr)
	if len(seen) == 0 {
		return nil
	}
	out := make([]string, len(seen))
	for j, i := range seen {
		out[j] = d.pairings[i].ID
	}
	return out
}

// visible returns the indexes in d.pairings, in order, of the pairings pr
// sees (Visible's and VisibleIDs'): an officer's or a contact's from the
// indexes (members, holders), each still asked Sees; an administrator's
// or a viewer's by one pass over every pairing (counted by Scans). The
// caller holds d.mu.
func (d *Directory) visible(pr Principal) []int {
	if pr.Role == Officer || pr.Role == Contact {
		if pr.UserID == "" {
			return nil
		}
		ids := d.members[pr.UserID]
		if pr.Role == Contact && pr.Counterparty != "" {
			ids = append(slices.Clip(ids), d.holders[pr.Counterparty]...)
		}
		var seen []int
		for _, id := range ids {
			if i, ok := d.at[id]; ok && d.pairings[i].Sees(pr) {
				seen = append(seen, i)
			}
		}
		slices.Sort(seen)
		return slices.Compact(seen)
	}
	d.scans.Add(1)
	var seen []int
	for i := range d.pairings {
		if d.pairings[i].Sees(pr) {
			seen = append(seen, i)
		}
	}
	return seen
}

// SeesDirectoryRecord reports whether a record of the directory scope goes
// to the principal: a pairing they see, or a counterparty of one. It asks
// only the pairings that hold the counterparty (the directory's index), not
// every pairing: a pull page and the counterparty list ask it for each of
// their records (issue 19: 7,000 pairings × 60,000 counterparties).
func (d *Directory) SeesDirectoryRecord(pr Principal, collection, id string) bool {
	switch collection {
	case CollPairings:
		p, ok := d.Pairing(id)
		return ok && p.Sees(pr)
	case CollCounterparties:
		if pr.Role == Contact && pr.Counterparty == id {
			return true
		}
		return d.SeesPairingOf(pr, id)
	}
	return false
}

// SeesPairingOf reports whether the principal sees a pairing that lists the
// counterparty. It asks only the pairings that hold it (the directory's
// index), not every pairing.
func (d *Directory) SeesPairingOf(pr Principal, counterparty string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, pid := range d.holders[counterparty] {
		if p, _ := d.lookup(pid); p.Sees(pr) {
			return true
		}
	}
	return false
}

// All returns every pairing, ordered by id.
func (d *Directory) All() []Pairing {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return slices.Clone(d.pairings)
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
