package pairing

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// provinceDirectory is a directory of the province workload's shape
// (deploy/BENCHMARKS.md): pairings across 10 cities × 20 counties each,
// each with two officers, cps counterparties spread over them; officer
// "u-o-0" is in 4 pairings. Built in memory through put, as Refresh does.
func provinceDirectory(pairings, cps int) *Directory {
	d := NewDirectory(nil, nil)
	all := make([]Pairing, pairings)
	for i := range all {
		path := fmt.Sprintf("/root/city-%d/county-%d/", i%10, i%200)
		all[i] = Pairing{ID: fmt.Sprintf("p-%05d", i), Status: StatusActive,
			Branches: []string{fmt.Sprintf("county-%d", i%200)}, BranchPaths: []string{path},
			Officers: []string{fmt.Sprintf("u-o-%d", i%(pairings/4)), fmt.Sprintf("u-o2-%d", i)}, Deleted: i%97 == 5}
	}
	for j := range cps {
		id := fmt.Sprintf("cp-%06d", j)
		d.counterparties[id] = Counterparty{ID: id, Name: "企业 " + id}
		p := &all[j%pairings]
		p.Counterparties = append(p.Counterparties, id)
		if j%pairings == 3 {
			p.Contacts = append(p.Contacts, "u-c-"+id)
		}
	}
	byID := map[string]Pairing{}
	for _, p := range all {
		byID[p.ID] = p
	}
	d.put(byID)
	return d
}

// seesDirectoryRecordByScan is how SeesDirectoryRecord answered before the
// directory indexed pairings by counterparty: every visible pairing
// looked at for each counterparty (issue 19). The reference the index must
// agree with, and the "before" of BenchmarkDirectoryPull.
func seesDirectoryRecordByScan(d *Directory, pr Principal, collection, id string) bool {
	switch collection {
	case CollPairings:
		p, ok := d.Pairing(id)
		return ok && p.Sees(pr)
	case CollCounterparties:
		if pr.Role == Contact && pr.Counterparty == id {
			return true
		}
		for _, pid := range visibleIDsByScan(d, pr) {
			if p, _ := d.Pairing(pid); slices.Contains(p.Counterparties, id) {
				return true
			}
		}
	}
	return false
}

// TestSeesDirectoryRecordAsByScan: the directory's counterparty index
// answers every directory record as going through every visible pairing
// did, for every kind of principal (inside and outside the pairings,
// deleted pairings, unknown ids, a contact's own counterparty in no
// pairing), also after pairings change their counterparties, are deleted
// and are restored.
func TestSeesDirectoryRecordAsByScan(t *testing.T) {
	d := provinceDirectory(400, 1500)
	d.counterparties["cp-alone"] = Counterparty{ID: "cp-alone"}
	principals := []Principal{
		{UserID: "u-admin", Role: Admin, OrgPath: "/root/"},
		{UserID: "u-admin", Role: Admin, OrgPath: "/root/city-3/"},
		{UserID: "u-admin", Role: Admin, OrgPath: "/root/city-3/county-13/"},
		{UserID: "u-viewer", Role: Viewer, OrgPath: "/root/city-4/"},
		{UserID: "u-admin", Role: Admin, OrgPath: "/elsewhere/"},
		{UserID: "", Role: Admin, OrgPath: "/root/"},
		{UserID: "u-o-0", Role: Officer},
		{UserID: "u-o-5", Role: Officer}, // in p-00005, deleted
		{UserID: "u-o2-7", Role: Officer},
		{UserID: "u-o2-8", Role: Officer},
		{UserID: "u-nobody", Role: Officer},
		{UserID: "u-c-cp-000003", Role: Contact, Counterparty: "cp-000003"},
		{UserID: "u-c-cp-000003", Role: Contact}, // listed on p-00003 by name only
		{UserID: "u-contact", Role: Contact, Counterparty: "cp-000010"},
		{UserID: "u-contact", Role: Contact, Counterparty: "cp-alone"},
		{UserID: "u-contact", Role: Contact},
	}
	check := func(t *testing.T) {
		t.Helper()
		type rec struct{ coll, id string }
		var recs []rec
		for _, p := range d.pairings {
			recs = append(recs, rec{CollPairings, p.ID})
		}
		for id := range d.counterparties {
			recs = append(recs, rec{CollCounterparties, id})
		}
		recs = append(recs, rec{CollPairings, "p-none"}, rec{CollCounterparties, "cp-none"}, rec{"visits", "p-00001"}, rec{"visits", "cp-000001"})
		for _, pr := range principals {
			before := d.Scans()
			if got, want := d.VisibleIDs(pr), visibleIDsByScan(d, pr); !slices.Equal(got, want) {
				t.Errorf("%+v: VisibleIDs got %v, want %v (as by scan)", pr, got, want)
			}
			if scans := d.Scans() - before; (pr.Role == Officer || pr.Role == Contact) && scans != 0 {
				t.Errorf("%+v: VisibleIDs made %d passes over every pairing, want 0 (the people index)", pr, scans)
			}
			seen := 0
			for _, r := range recs {
				got, want := d.SeesDirectoryRecord(pr, r.coll, r.id), seesDirectoryRecordByScan(d, pr, r.coll, r.id)
				if got != want {
					t.Errorf("%+v, %s/%s: got %v, want %v (as by scan)", pr, r.coll, r.id, got, want)
				}
				if got {
					seen++
				}
			}
			if pr.UserID == "u-admin" && pr.OrgPath == "/root/" && seen < len(recs)/2 {
				t.Errorf("the province administrator sees %d of %d directory records: the fixture does not exercise the index", seen, len(recs))
			}
		}
	}
	check(t)
	// p-00007 (u-o2-7's) drops its counterparties for another's and one of
	// its own twice; p-00008 (u-o2-8's) is deleted; p-00005 is restored.
	d.mu.Lock()
	p7, _ := d.lookup("p-00007")
	p7.Counterparties = []string{"cp-000010", p7.Counterparties[0], p7.Counterparties[0]}
	p8, _ := d.lookup("p-00008")
	p8.Deleted = true
	p5, _ := d.lookup("p-00005")
	p5.Deleted = false
	// u-o-0 leaves p-00000; p-00003's listed contacts are taken off.
	p0, _ := d.lookup("p-00000")
	p0.Officers = []string{"u-o2-0"}
	p3, _ := d.lookup("p-00003")
	p3.Contacts = nil
	// and a new pairing p-00003a, between the others, for u-o2-7 too.
	d.put(map[string]Pairing{p7.ID: p7, p8.ID: p8, p5.ID: p5, p0.ID: p0, p3.ID: p3, "p-00003a": {ID: "p-00003a", Officers: []string{"u-o2-7"},
		BranchPaths: []string{"/root/city-3/county-3/"}, Counterparties: []string{"cp-new"}}})
	d.mu.Unlock()
	if got := d.Visible(Principal{UserID: "u-o2-7", Role: Officer}); len(got) != 2 || got[0].ID != "p-00003a" || got[1].ID != "p-00007" {
		t.Errorf("u-o2-7 sees %+v, want p-00003a then p-00007", got)
	}
	if ids := d.VisibleIDs(Principal{UserID: "u-o2-7", Role: Officer}); !slices.Equal(ids, []string{"p-00003a", "p-00007"}) {
		t.Errorf("u-o2-7 sees ids %v, want p-00003a then p-00007", ids)
	}
	if all := d.All(); len(all) != 401 || !slices.IsSortedFunc(all, func(a, b Pairing) int { return strings.Compare(a.ID, b.ID) }) {
		t.Errorf("All: got %d pairings (sorted: %v), want 401 by id", len(all), slices.IsSortedFunc(all, func(a, b Pairing) int { return strings.Compare(a.ID, b.ID) }))
	}
	if !d.SeesDirectoryRecord(Principal{UserID: "u-o2-7", Role: Officer}, CollCounterparties, "cp-000010") ||
		d.SeesDirectoryRecord(Principal{UserID: "u-o2-7", Role: Officer}, CollCounterparties, "cp-000407") ||
		d.SeesDirectoryRecord(Principal{UserID: "u-o2-8", Role: Officer}, CollCounterparties, "cp-000008") {
		t.Errorf("after the changes, officers see what their pairings held before")
	}
	check(t)
}

// BenchmarkDirectoryPull is the visibility work of one officer's or one
// province administrator's first full pull of the directory scope at
// province scale (7,000 pairings, 60,000 counterparties): every directory
// record asked once, in pages of 500, each page first listing the user's
// pairings (VisibleIDs) as the pull handler does. "index" asks
// SeesDirectoryRecord, one op being the whole pull (67,000 records);
// "scan-page" asks as it did before the index (every visible pairing for
// each counterparty), one op being only the first page (500 counterparty
// records): the whole pull that way takes minutes.
func BenchmarkDirectoryPull(b *testing.B) {
	d := provinceDirectory(7000, 60000)
	type rec struct{ coll, id string }
	var recs []rec
	for _, p := range d.pairings {
		recs = append(recs, rec{CollPairings, p.ID})
	}
	for id := range d.counterparties {
		recs = append(recs, rec{CollCounterparties, id})
	}
	slices.SortFunc(recs, func(a, b rec) int { return strings.Compare(a.id, b.id) })
	for _, who := range []struct {
		name string
		pr   Principal
	}{
		{"officer", Principal{UserID: "u-o-0", Role: Officer}},
		{"province-admin", Principal{UserID: "u-admin", Role: Admin, OrgPath: "/root/"}},
	} {
		for _, how := range []struct {
			name string
			sees func(d *Directory, pr Principal, collection, id string) bool
			n    int // records asked
		}{{"index", (*Directory).SeesDirectoryRecord, len(recs)}, {"scan-page", seesDirectoryRecordByScan, 500}} {
			b.Run(who.name+"/"+how.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					n := 0
					for i, r := range recs[:how.n] {
						if i%500 == 0 && len(d.VisibleIDs(who.pr)) == 0 {
							b.Fatal("sees no pairing")
						}
						if how.sees(d, who.pr, r.coll, r.id) {
							n++
						}
					}
					if n == 0 {
						b.Fatal("sees nothing")
					}
				}
			})
		}
	}
}

// visibleIDsByScan is VisibleIDs as it was before the people index: every
// pairing asked, in order of id.
func visibleIDsByScan(d *Directory, pr Principal) []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []string
	for _, p := range d.pairings {
		if p.Sees(pr) {
			out = append(out, p.ID)
		}
	}
	return out
}

// BenchmarkVisibleIDs: who sees which pairings at province scale (7,000
// pairings), as every pull page asks: an officer's from the people index,
// a province administrator's by a pass over every pairing.
func BenchmarkVisibleIDs(b *testing.B) {
	d := provinceDirectory(7000, 60000)
	for _, who := range []struct {
		name string
		pr   Principal
	}{
		{"officer", Principal{UserID: "u-o-0", Role: Officer}},
		{"contact", Principal{UserID: "u-c-cp-000003", Role: Contact, Counterparty: "cp-000003"}},
		{"province-admin", Principal{UserID: "u-admin", Role: Admin, OrgPath: "/root/"}},
	} {
		b.Run(who.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(d.VisibleIDs(who.pr)) == 0 {
					b.Fatal("sees no pairing")
				}
			}
		})
	}
}
