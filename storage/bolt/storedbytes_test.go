package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// Stored bytes per visit (issue 20: at most 1.2 × the visit's JSON).
//
// "The visit's JSON" is the JSON object of the stored record's current
// field values only, keys sorted, compact: {"counterparty":…,"location":…,
// "notes":…,…,"title":…}, with the received_at the server stamps; no dots,
// HLCs, version vector, collection, id or pairing. What the store holds per
// visit is everything a push commits for it: the record (syncproto's JSON
// with per-field metadata), its log entry, its receipt (the push answer),
// and its share of the per-pairing head, stamp and acked entries, plus the
// file's page overhead.

// benchNotes and benchVisitRecord are syncproto's benchVisit (visit_bench_test.go):
// the visits of fieldctl bench as the server stores them.
const benchNotes = "今日到企业实地走访，与企业负责人就生产经营情况进行了深入交流。企业反映今年订单总体平稳，但原材料价格上涨明显，利润空间受到挤压。联络员详细讲解了最新的减税降费政策和稳岗补贴申报流程。"

// benchVisitRecord returns visit i of a phone, stamped by the server. With
// unique set its notes are not benchNotes four times over (which compresses
// far better than real notes) but as long, made of sentences picked by i.
func benchVisitRecord(tb testing.TB, phone, srv *syncproto.Writer, pairing string, i int, at time.Time, unique bool) syncproto.Record {
	tb.Helper()
	photo := func(n int) string {
		return fmt.Sprintf(`{"height":3000,"sha256":"%064x","size":%d,"taken_at":"2026-11-22T11:31:32Z","type":"image/jpeg","width":4000}`, i*2+n, 200000+n)
	}
	notes := strings.Repeat(benchNotes, 4)
	if unique {
		notes = uniqueNotes(i, len(notes))
	}
	v := map[string]json.RawMessage{
		"title":        json.RawMessage(`"走访企业了解经营情况"`),
		"officers":     json.RawMessage(`["u-officer0001"]`),
		"mode":         json.RawMessage(`"onsite"`),
		"visited_at":   json.RawMessage(`"2026-11-22T10:31:32Z"`),
		"recorded_at":  json.RawMessage(`"2026-11-22T12:04:32Z"`),
		"location":     json.RawMessage(`{"accuracy_m":33,"lat":32.06637377984915,"lng":118.82254369194659}`),
		"participants": json.RawMessage(`[{"name":"王经理","title":"总经理"},{"name":"杨主任","title":"办公室主任"}]`),
		"notes":        json.RawMessage(`"` + notes + `"`),
		"photos":       json.RawMessage(`[` + photo(0) + `,` + photo(1) + `]`),
		"status":       json.RawMessage(`"submitted"`),
		"counterparty": json.RawMessage(`"cp-` + pairing + `"`),
	}
	r, _, err := phone.Set(syncproto.NewRecord("visits", fmt.Sprintf("01a20324-cb52-783c-9b67-%012d", i), pairing), v, at)
	if err != nil {
		tb.Fatal(err)
	}
	if r, _, err = srv.Set(r, map[string]json.RawMessage{"received_at": json.RawMessage(`"2026-11-22T12:05:09.722Z"`)}, at.Add(time.Second)); err != nil {
		tb.Fatal(err)
	}
	return r
}

// uniqueNotes is about n bytes of Chinese text that does not repeat itself
// within a visit: a pseudo-random walk over a few hundred common characters.
func uniqueNotes(i, n int) string {
	const chars = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质"
	rs := []rune(chars)
	var b strings.Builder
	x := uint64(i)*0x9e3779b97f4a7c15 + 1
	for b.Len() < n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b.WriteRune(rs[x%uint64(len(rs))])
		if x%17 == 0 {
			b.WriteString("，")
		}
	}
	return b.String()
}

// visitJSON is the visit's JSON as defined above.
func visitJSON(tb testing.TB, r syncproto.Record) []byte {
	tb.Helper()
	values := make(map[string]json.RawMessage, len(r.Fields))
	for name, f := range r.Fields {
		values[name] = f.Value
	}
	b, err := json.Marshal(values)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// pushVisitsConfig is one storedVisits run: visits visits over pairings
// pairings (one phone each), pushed in batches of batch as the server
// commits a push (the records, a receipt per change with its answer,
// ExpectHead, Acked the push's lowest counter).
type pushVisitsConfig struct {
	visits, pairings, batch int
	unique                  bool
}

// storedVisitsReport is what storedVisits measured.
type storedVisitsReport struct {
	visits     int
	jsonBytes  int64 // sum of the visits' JSON
	dataBytes  int64 // sum of the stored records' Data as callers see it
	fileBytes  int64
	usedBytes  int64 // the file up to its highest page in use (tx.Size): what it holds without bbolt's growth in 16 MiB steps
	freeBytes  int64 // free pages below that
	buckets    []bucketBytes
	allocBytes int64 // sum over buckets of branch+leaf pages allocated
}

type bucketBytes struct {
	name                 string
	keys                 int
	leafInuse, leafAlloc int64
	branchInuse          int64
	branchAlloc          int64
	leafOverflow         int
	leafPages            int
}

// storedVisits commits cfg's visits into a new store under dir through
// Commit, exactly as pushes do, and measures the file and its buckets.
func storedVisits(tb testing.TB, dir string, cfg pushVisitsConfig) storedVisitsReport {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, "visits.db")
	db, err := Open(ctx, Config{Path: path, NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	srv := &syncproto.Writer{Replica: "srv-abcdefghijkl"}
	phones := make([]*syncproto.Writer, cfg.pairings)
	for p := range phones {
		phones[p] = &syncproto.Writer{Replica: syncproto.ReplicaID(fmt.Sprintf("01a20328-1c27-7db3-9c66-%012d", p))}
	}
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	rep := storedVisitsReport{visits: cfg.visits}
	counters := make([]uint64, cfg.pairings)
	for first := 0; first < cfg.visits; {
		for p := 0; p < cfg.pairings && first < cfg.visits; p++ {
			pairing := fmt.Sprintf("p%05d", p)
			head, err := db.Head(ctx, pairing)
			if err != nil {
				tb.Fatal(err)
			}
			b := storage.Batch{Pairing: pairing, ExpectHead: &head}
			acked := counters[p] + 1
			for j := 0; j < cfg.batch && first < cfg.visits; j++ {
				i := first
				first++
				counters[p]++
				r := benchVisitRecord(tb, phones[p], srv, pairing, i, t0.Add(time.Duration(i)*time.Second), cfg.unique)
				data, err := syncproto.Encode(r)
				if err != nil {
					tb.Fatal(err)
				}
				rep.jsonBytes += int64(len(visitJSON(tb, r)))
				rep.dataBytes += int64(len(data))
				seq := head + uint64(len(b.Puts)) + 1
				answer := fmt.Appendf(nil, `{"dot":"%s:%d","status":"applied","seq":%d}`, phones[p].Replica, counters[p], seq)
				b.Puts = append(b.Puts, storage.Put{Key: storage.Key{Collection: r.Collection, ID: r.ID}, Data: data})
				b.Receipts = append(b.Receipts, storage.Receipt{Replica: string(phones[p].Replica), Counter: counters[p], Answer: answer, Acked: acked})
			}
			if _, err := db.Commit(ctx, b); err != nil {
				tb.Fatal(err)
			}
		}
	}
	err = db.bolt.View(func(tx *bbolt.Tx) error {
		rep.usedBytes = tx.Size()
		rep.freeBytes = int64(db.bolt.Stats().FreePageN+db.bolt.Stats().PendingPageN) * int64(tx.DB().Info().PageSize)
		return tx.ForEach(func(name []byte, bk *bbolt.Bucket) error {
			s := bk.Stats()
			if s.KeyN == 0 {
				return nil
			}
			bb := bucketBytes{name: string(name), keys: s.KeyN,
				leafInuse: int64(s.LeafInuse + s.InlineBucketInuse), leafAlloc: int64(s.LeafAlloc),
				branchInuse: int64(s.BranchInuse), branchAlloc: int64(s.BranchAlloc),
				leafOverflow: s.LeafOverflowN, leafPages: s.LeafPageN}
			rep.buckets = append(rep.buckets, bb)
			rep.allocBytes += bb.leafAlloc + bb.branchAlloc
			return nil
		})
	})
	if err != nil {
		tb.Fatal(err)
	}
	sort.Slice(rep.buckets, func(i, j int) bool { return rep.buckets[i].leafAlloc > rep.buckets[j].leafAlloc })
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	rep.fileBytes = fi.Size()
	return rep
}

func (r storedVisitsReport) perVisit(n int64) float64 { return float64(n) / float64(r.visits) }

// String is the report as a table, per visit.
func (r storedVisitsReport) String() string {
	var b strings.Builder
	j := r.perVisit(r.jsonBytes)
	fmt.Fprintf(&b, "%d visits: visit JSON %.0f B, record Data %.0f B (%.2f×), file %.0f B (%.2f×), used %.0f B (%.2f×, of which free pages %.0f B), pages allocated %.0f B (%.2f×)\n",
		r.visits, j, r.perVisit(r.dataBytes), r.perVisit(r.dataBytes)/j, r.perVisit(r.fileBytes), r.perVisit(r.fileBytes)/j,
		r.perVisit(r.usedBytes), r.perVisit(r.usedBytes)/j, r.perVisit(r.freeBytes), r.perVisit(r.allocBytes), r.perVisit(r.allocBytes)/j)
	fmt.Fprintf(&b, "%-22s %8s %10s %10s %10s %10s %9s\n", "bucket", "keys", "leafInuse", "leafAlloc", "brInuse", "brAlloc", "overflow")
	for _, k := range r.buckets {
		fmt.Fprintf(&b, "%-22s %8d %10.1f %10.1f %10.1f %10.1f %9d\n", k.name, k.keys,
			r.perVisit(k.leafInuse), r.perVisit(k.leafAlloc), r.perVisit(k.branchInuse), r.perVisit(k.branchAlloc), k.leafOverflow)
	}
	return b.String()
}

// TestStoredBytesPerVisit holds issue 20's target on fieldctl bench's
// visits: the pages a pushed visit takes (records, log, receipt, heads: the
// file up to its last page) at most 1.2 × the visit's JSON. Bytes, not
// time: the figure is the same on every run. With -v it prints the
// breakdown by bucket, for notes that do not repeat too (1.21× today: see
// ARCHITECTURE.md); STORED_VISITS sets the count (2,000).
func TestStoredBytesPerVisit(t *testing.T) {
	n := 2000
	if s := os.Getenv("STORED_VISITS"); s != "" {
		if _, err := fmt.Sscan(s, &n); err != nil {
			t.Fatalf("STORED_VISITS=%q: %v", s, err)
		}
	}
	for _, unique := range []bool{false, true} {
		rep := storedVisits(t, t.TempDir(), pushVisitsConfig{visits: n, pairings: 50, batch: 50, unique: unique})
		t.Logf("unique notes %v:\n%s", unique, rep)
		if used, limit := rep.perVisit(rep.usedBytes), 1.2*rep.perVisit(rep.jsonBytes); !unique && used > limit {
			t.Errorf("a pushed visit takes %.0f B of the file, want at most 1.2 × its JSON (%.0f B)", used, limit)
		}
	}
}

// BenchmarkStoredBytes reports the bytes a pushed visit takes in the file
// (file/visit) and in allocated pages (alloc/visit), and their ratio to the
// visit's JSON: a metric, not a timing.
func BenchmarkStoredBytes(b *testing.B) {
	for _, unique := range []bool{false, true} {
		b.Run(fmt.Sprintf("unique=%v", unique), func(b *testing.B) {
			var rep storedVisitsReport
			for b.Loop() {
				rep = storedVisits(b, b.TempDir(), pushVisitsConfig{visits: 5000, pairings: 50, batch: 50, unique: unique})
			}
			j := rep.perVisit(rep.jsonBytes)
			b.ReportMetric(rep.perVisit(rep.fileBytes), "file-B/visit")
			b.ReportMetric(rep.perVisit(rep.usedBytes), "used-B/visit")
			b.ReportMetric(rep.perVisit(rep.allocBytes), "alloc-B/visit")
			b.ReportMetric(j, "json-B/visit")
			b.ReportMetric(rep.perVisit(rep.fileBytes)/j, "file/json")
			b.ReportMetric(rep.perVisit(rep.usedBytes)/j, "used/json")
			b.ReportMetric(rep.perVisit(rep.allocBytes)/j, "alloc/json")
		})
	}
}

// visitData is n encoded visits (unique notes) of one phone in pairing
// p00001, with their push answers.
func visitData(tb testing.TB, n int) (keys []storage.Key, data, answers [][]byte) {
	phone, srv := &syncproto.Writer{Replica: "01a20328-1c27-7db3-9c66-98296b6b063a"}, &syncproto.Writer{Replica: "srv-abcdefghijkl"}
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i := range n {
		r := benchVisitRecord(tb, phone, srv, "p00001", i, t0.Add(time.Duration(i)*time.Second), true)
		d, err := syncproto.Encode(r)
		if err != nil {
			tb.Fatal(err)
		}
		keys = append(keys, storage.Key{Collection: r.Collection, ID: r.ID})
		data = append(data, d)
		answers = append(answers, fmt.Appendf(nil, `{"dot":"%s:%d","status":"applied","seq":%d}`, phone.Replica, i+1, i+1))
	}
	return keys, data, answers
}

// BenchmarkChangesVisits is BenchmarkChanges with visits (~3 KB each,
// notes that do not repeat) instead of 1 KB of one letter: what reading a
// pull page's records costs once they are stored compressed.
func BenchmarkChangesVisits(b *testing.B) {
	const total = 5000
	db, err := Open(context.Background(), Config{Path: filepath.Join(b.TempDir(), "bench.db"), NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	keys, data, _ := visitData(b, total)
	for first := 0; first < total; first += 500 {
		var puts []storage.Put
		for i := first; i < first+500; i++ {
			puts = append(puts, storage.Put{Key: keys[i], Data: data[i]})
		}
		if _, err := db.Commit(ctx, storage.Batch{Pairing: "p00001", Puts: puts}); err != nil {
			b.Fatal(err)
		}
	}
	var after uint64
	records := 0
	b.ReportAllocs()
	for b.Loop() {
		p, err := db.Changes(ctx, "p00001", after, storage.PageLimit{})
		if err != nil {
			b.Fatal(err)
		}
		records += len(p.Records)
		after = p.Next
		if !p.More {
			after = 0
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkCommitPushVisits is BenchmarkCommitPush with visits (notes that
// do not repeat) and their answers, fsync on: one op is a push of 50.
func BenchmarkCommitPushVisits(b *testing.B) {
	const batch = 50
	db, err := Open(context.Background(), Config{Path: filepath.Join(b.TempDir(), "bench.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	keys, data, answers := visitData(b, 1000)
	n := 0
	for b.Loop() {
		head, err := db.Head(ctx, "p00001")
		if err != nil {
			b.Fatal(err)
		}
		bt := storage.Batch{Pairing: "p00001", ExpectHead: &head}
		for range batch {
			i := n % len(keys)
			n++
			k := keys[i]
			k.ID = fmt.Sprintf("%s-%d", k.ID, n) // a new record each time
			bt.Puts = append(bt.Puts, storage.Put{Key: k, Data: data[i]})
			bt.Receipts = append(bt.Receipts, storage.Receipt{Replica: "01a20328-1c27-7db3-9c66-98296b6b063a", Counter: uint64(n), Answer: answers[i]})
		}
		if _, err := db.Commit(ctx, bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
