package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// oldRecordValue is a records value as written before stored forms (codec.go):
// u64 seq ‖ str(pairing) ‖ data, the data as committed. Written out here,
// not with encodeRecord, so the test keeps the old layout whatever the
// code does.
func oldRecordValue(seq uint64, pairing string, data []byte) []byte {
	b := binary.BigEndian.AppendUint64(nil, seq)
	b = binary.AppendUvarint(b, uint64(len(pairing)))
	b = append(b, pairing...)
	return append(b, data...)
}

// writeOldFormat stores a visit, its log entry, head and receipt the way
// the previous format did, straight into the buckets.
func writeOldFormat(t *testing.T, db *DB, key storage.Key, pairing string, data []byte, replica string, counter uint64, answer []byte) {
	t.Helper()
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		rk := recordKey(key)
		if err := tx.Bucket(bucketRecords).Put(rk, oldRecordValue(1, pairing, data)); err != nil {
			return err
		}
		log, err := tx.Bucket(bucketLog).CreateBucketIfNotExists([]byte(pairing))
		if err != nil {
			return err
		}
		if err := log.Put(u64(1), rk); err != nil {
			return err
		}
		if err := tx.Bucket(bucketHeads).Put([]byte(pairing), u64(1)); err != nil {
			return err
		}
		return tx.Bucket(bucketReceipts).Put(receiptKey(replica, counter), answer)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// storedValue returns the records value of key as the file holds it.
func storedValue(t *testing.T, db *DB, key storage.Key) []byte {
	t.Helper()
	var v []byte
	if err := db.bolt.View(func(tx *bbolt.Tx) error {
		v = bytes.Clone(tx.Bucket(bucketRecords).Get(recordKey(key)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestOldFormatReadsAndIsRewritten: a file written before stored forms
// (records and receipts as committed) reads identically through Get,
// Changes and Receipt, and a record is rewritten in the compact form by its
// next write (lazily: no migration touches it before).
func TestOldFormatReadsAndIsRewritten(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	phone, srv := &syncproto.Writer{Replica: "01a20328-1c27-7db3-9c66-98296b6b063a"}, &syncproto.Writer{Replica: "srv-abcdefghijkl"}
	r := benchVisitRecord(t, phone, srv, "p00001", 1, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), true)
	data, err := syncproto.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	key := storage.Key{Collection: r.Collection, ID: r.ID}
	answer := []byte(`{"dot":"01a20328-1c27-7db3-9c66-98296b6b063a:1","status":"applied","seq":1}`)
	writeOldFormat(t, db, key, "p00001", data, string(phone.Replica), 1, answer)
	old := storedValue(t, db, key)

	got, err := db.Get(ctx, key)
	if err != nil {
		t.Fatalf("get old-format record: got error %v, want none", err)
	}
	if want := (storage.Record{Key: key, Pairing: "p00001", Seq: 1, Data: data}); !recordsEqual(got, want) {
		t.Fatalf("get old-format record: got %v (%d bytes), want the %d bytes written", got.Key, len(got.Data), len(data))
	}
	page, err := db.Changes(ctx, "p00001", 0, storage.PageLimit{})
	if err != nil || len(page.Records) != 1 || !bytes.Equal(page.Records[0].Data, data) {
		t.Fatalf("changes of an old-format record: got %d records, error %v; want the record as written", len(page.Records), err)
	}
	a, err := db.Receipt(ctx, string(phone.Replica), 1)
	if err != nil || !bytes.Equal(a, answer) {
		t.Fatalf("old-format receipt: got %q, %v; want %q", a, err, answer)
	}

	// The next write of the record stores it compactly; reads are unchanged.
	if _, err := db.Commit(ctx, storage.Batch{Pairing: "p00001", Puts: []storage.Put{{Key: key, Expect: 1, Data: data}},
		Receipts: []storage.Receipt{{Replica: string(phone.Replica), Counter: 2, Answer: []byte(`{"dot":"01a20328-1c27-7db3-9c66-98296b6b063a:2","status":"applied","seq":2}`)}}}); err != nil {
		t.Fatalf("rewrite: got error %v, want none", err)
	}
	now := storedValue(t, db, key)
	if _, rest, err := decodeRecordHead(now); err != nil || len(now) >= len(old) || rest[0] != tagS2 {
		t.Errorf("rewritten record: %d bytes stored (error %v), want fewer than the %d of the old format, s2-compressed", len(now), err, len(old))
	}
	if _, rest, _ := decodeRecordHead(old); rest[0] != '{' {
		t.Fatalf("old-format record stored as %q…, want its JSON as committed", rest[:8])
	}
	got, err = db.Get(ctx, key)
	if err != nil || !bytes.Equal(got.Data, data) || got.Seq != 2 {
		t.Fatalf("get rewritten record: got seq %d, %d bytes, error %v; want seq 2 and the bytes written", got.Seq, len(got.Data), err)
	}
	a, err = db.Receipt(ctx, string(phone.Replica), 2)
	if want := `{"dot":"01a20328-1c27-7db3-9c66-98296b6b063a:2","status":"applied","seq":2}`; err != nil || string(a) != want {
		t.Fatalf("new receipt: got %q, %v; want %q", a, err, want)
	}
	var stored []byte
	_ = db.bolt.View(func(tx *bbolt.Tx) error {
		stored = bytes.Clone(tx.Bucket(bucketReceipts).Get(receiptKey(string(phone.Replica), 2)))
		return nil
	})
	if want := "\x01applied\",\"seq\":2}"; string(stored) != want {
		t.Errorf("new receipt stored as %q, want %q (the dot left to the key)", stored, want)
	}
}

func recordsEqual(a, b storage.Record) bool {
	return a.Key == b.Key && a.Pairing == b.Pairing && a.Seq == b.Seq && bytes.Equal(a.Data, b.Data)
}

// TestCorruptStoredData: a stored form that does not decode is an error
// naming the corruption from Get, Changes and Receipt, never a panic or a
// huge allocation.
func TestCorruptStoredData(t *testing.T) {
	ctx := context.Background()
	good := appendData(nil, []byte(`{"notes":"`+strings.Repeat("走访企业了解经营情况", 40)+`"}`))
	if good[0] != tagS2 {
		t.Fatalf("test data stored with tag %#x, want s2 (%#x)", good[0], tagS2)
	}
	huge := binary.AppendUvarint([]byte{tagS2}, 1<<31) // s2 accepts up to 4 GiB
	for name, stored := range map[string][]byte{
		"truncated s2":   good[:len(good)/2],
		"s2 garbage":     {tagS2, 0x40, 0xff, 0xff, 0xff, 0xff},
		"huge length":    append(huge, 0, 0, 0),
		"unknown format": {0x7f, 'x'},
	} {
		t.Run(name, func(t *testing.T) {
			db := openTemp(t)
			key := storage.Key{Collection: "visits", ID: "v1"}
			err := db.bolt.Update(func(tx *bbolt.Tx) error {
				v := append(oldRecordValue(1, "p1", nil), stored...)
				if err := tx.Bucket(bucketRecords).Put(recordKey(key), v); err != nil {
					return err
				}
				log, err := tx.Bucket(bucketLog).CreateBucketIfNotExists([]byte("p1"))
				if err != nil {
					return err
				}
				if err := log.Put(u64(1), recordKey(key)); err != nil {
					return err
				}
				if err := tx.Bucket(bucketHeads).Put([]byte("p1"), u64(1)); err != nil {
					return err
				}
				return tx.Bucket(bucketReceipts).Put(receiptKey("dev", 1), []byte{0x7f, 'x'})
			})
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err = decodeData(stored)
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; err == nil || n > 1<<20 {
				t.Errorf("decode: got error %v after allocating %d bytes, want an error and under 1 MiB", err, n)
			}
			if _, err := db.Get(ctx, key); !errors.Is(err, errCorruptData) {
				t.Errorf("get: got error %v, want one wrapping %q", err, errCorruptData)
			}
			if _, err := db.Changes(ctx, "p1", 0, storage.PageLimit{}); !errors.Is(err, errCorruptData) {
				t.Errorf("changes: got error %v, want one wrapping %q", err, errCorruptData)
			}
			if _, err := db.Receipt(ctx, "dev", 1); !errors.Is(err, errCorruptData) {
				t.Errorf("receipt: got error %v, want one wrapping %q", err, errCorruptData)
			}
		})
	}
}

// TestStoredFormsRoundTrip: whatever the bytes, a record's data and a
// receipt's answer come back as committed, and JSON worth compressing is
// stored compressed.
func TestStoredFormsRoundTrip(t *testing.T) {
	rnd := make([]byte, 3000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range rnd {
		rnd[i] = byte(rng.Uint32())
	}
	visit := []byte(`{"notes":"` + strings.Repeat(benchNotes, 4) + `"}`)
	for name, data := range map[string][]byte{
		"nil": nil, "empty": {}, "short": []byte("a1"), "short JSON": []byte(`{"a":1}`),
		"tag raw first": append([]byte{tagRaw}, visit...), "tag s2 first": append([]byte{tagS2}, visit...),
		"random": rnd, "random JSON-looking": append([]byte{'{'}, rnd...), "visit": visit,
	} {
		// Appended to a short buffer, and to one with storedCap's room
		// (encodeRecord's: s2 writes into it).
		for _, prefix := range [][]byte{[]byte("prefix"), append(make([]byte, 0, 6+storedCap(len(data))), "prefix"...)} {
			stored := appendData(prefix, data)
			if !bytes.HasPrefix(stored, []byte("prefix")) {
				t.Fatalf("%s: appendData lost what it appends to", name)
			}
			got, _, err := decodeData(stored[len("prefix"):])
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s: got %d bytes back, error %v; want the %d committed", name, len(got), err, len(data))
			}
			if name == "visit" && len(stored)-len("prefix") > len(data)/2 {
				t.Errorf("visit stored in %d bytes, want it compressed to under half of %d", len(stored)-len("prefix"), len(data))
			}
		}
	}
	for _, answer := range []string{
		`{"dot":"dev-1:7","status":"applied","seq":12}`,
		`{"dot":"dev-1:7","status":"rejected","error":{"code":"invalid","message":"x"}}`,
		`{"dot":"dev-1:8","status":"applied","seq":12}`, // another counter's dot
		`{"dot":"dev-2:7","status":"applied"}`,          // another replica's
		`{"dot":"dev-1:7"}`, "applied", "", "\x01applied", "\x00",
	} {
		stored := encodeAnswer("dev-1", 7, []byte(answer))
		got, err := decodeAnswer("dev-1", 7, stored)
		if err != nil || string(got) != answer {
			t.Errorf("answer %q: got %q back, error %v", answer, got, err)
		}
	}
}

// FuzzStoredData: a stored form decodes or fails, never panics; data round
// trips.
func FuzzStoredData(f *testing.F) {
	f.Add([]byte(`{"a":1}`))
	f.Add(appendData(nil, bytes.Repeat([]byte("走访"), 40)))
	f.Add([]byte{tagS2, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = decodeData(b)
		_, _ = decodeAnswer("r", 1, b)
		for _, buf := range [][]byte{nil, make([]byte, 0, storedCap(len(b)))} {
			got, _, err := decodeData(appendData(buf, b))
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("round trip of %q: got %q, %v", b, got, err)
			}
		}
		a, err := decodeAnswer("r", 1, encodeAnswer("r", 1, b))
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("answer round trip of %q: got %q, %v", b, a, err)
		}
	})
}
