package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pairsync/pairsync/storage"
	bbolt "go.etcd.io/bbolt"
)

// Default page limits of Changes (storage.PageLimit zero values).
const (
	DefaultPageRecords = 500
	DefaultPageBytes   = 1 << 20
)

// recordKey encodes a storage.Key for the records bucket and the logs.
func recordKey(k storage.Key) []byte {
	b := make([]byte, 0, len(k.Collection)+len(k.ID)+2)
	return append(appendStr(b, k.Collection), k.ID...)
}

// decodeKey is the inverse of recordKey.
func decodeKey(b []byte) (storage.Key, error) {
	coll, rest, err := readStr(b)
	if err != nil {
		return storage.Key{}, err
	}
	return storage.Key{Collection: coll, ID: string(rest)}, nil
}

// validKey reports whether k can name a record.
func validKey(k storage.Key) error {
	if k.Collection == "" || k.ID == "" {
		return fmt.Errorf("record key %q/%q: empty collection or id: %w", k.Collection, k.ID, storage.ErrInvalid)
	}
	if len(k.Collection)+len(k.ID)+binary.MaxVarintLen64 > bbolt.MaxKeySize {
		return fmt.Errorf("record key %.40q…: too long: %w", k.Collection+"/"+k.ID, storage.ErrInvalid)
	}
	return nil
}

// storedRecord is the decoded value of the records bucket; pairing, and
// data unless owned, alias the transaction's memory until copied.
type storedRecord struct {
	seq     uint64
	pairing []byte
	data    []byte // as committed (decodeRecord), or nil (decodeRecordHead)
	owned   bool   // data is not the transaction's memory
}

// encodeRecord is a records value: u64 seq ‖ str(pairing) ‖ the stored form
// of data (codec.go: compressed when that saves bytes).
func encodeRecord(seq uint64, pairing string, data []byte) []byte {
	b := make([]byte, 8, 8+binary.MaxVarintLen64+len(pairing)+storedCap(len(data)))
	binary.BigEndian.PutUint64(b, seq)
	b = appendStr(b, pairing)
	return appendData(b, data)
}

// decodeRecord decodes a records value, data included (decompressed).
func decodeRecord(v []byte) (storedRecord, error) {
	r, rest, err := decodeRecordHead(v)
	if err != nil {
		return storedRecord{}, err
	}
	if r.data, r.owned, err = decodeData(rest); err != nil {
		return storedRecord{}, fmt.Errorf("record value at seq %d: %w", r.seq, err)
	}
	return r, nil
}

// decodeRecordHead decodes a records value's seq and pairing only, for the
// callers that need no data; rest is the data's stored form.
func decodeRecordHead(v []byte) (r storedRecord, rest []byte, err error) {
	if len(v) < 9 {
		return storedRecord{}, nil, errors.New("corrupt record value")
	}
	n, w := binary.Uvarint(v[8:])
	if w <= 0 || uint64(len(v)-8-w) < n {
		return storedRecord{}, nil, errors.New("corrupt record value")
	}
	p := 8 + w
	return storedRecord{
		seq:     binary.BigEndian.Uint64(v),
		pairing: v[p : p+int(n)],
	}, v[p+int(n):], nil
}

// record copies a stored record out of the transaction's memory.
func (r storedRecord) record(k storage.Key) storage.Record {
	data := r.data
	if !r.owned {
		data = append([]byte{}, r.data...)
	}
	return storage.Record{
		Key:     k,
		Pairing: string(r.pairing),
		Seq:     r.seq,
		Data:    data,
	}
}

// receiptKey encodes (replica, counter) for the receipts bucket.
func receiptKey(replica string, counter uint64) []byte {
	b := appendStr(make([]byte, 0, len(replica)+9), replica)
	return binary.BigEndian.AppendUint64(b, counter)
}

// Get returns the current version of a record, or storage.ErrNotFound
// (storage.ErrInvalid for an empty collection or id). The returned Data
// belongs to the caller.
func (db *DB) Get(ctx context.Context, key storage.Key) (storage.Record, error) {
	if err := validKey(key); err != nil {
		return storage.Record{}, fmt.Errorf("bolt: get: %w", err)
	}
	var rec storage.Record
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketRecords).Get(recordKey(key))
		if v == nil {
			return storage.ErrNotFound
		}
		r, err := decodeRecord(v)
		if err != nil {
			return err
		}
		rec = r.record(key)
		return nil
	})
	if err != nil {
		return storage.Record{}, fmt.Errorf("bolt: get %s/%s: %w", key.Collection, key.ID, err)
	}
	return rec, nil
}

// Head returns a pairing's current sequence, 0 for an unknown pairing.
func (db *DB) Head(ctx context.Context, pairing string) (uint64, error) {
	var head uint64
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		head = readHead(tx, pairing)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: head %s: %w", pairing, err)
	}
	return head, nil
}

func readHead(tx *bbolt.Tx, pairing string) uint64 {
	if pairing == "" {
		return 0
	}
	v := tx.Bucket(bucketHeads).Get([]byte(pairing))
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// Receipt returns the answer stored for (replica, counter), or
// storage.ErrNotFound. The returned slice belongs to the caller.
func (db *DB) Receipt(ctx context.Context, replica string, counter uint64) ([]byte, error) {
	var answer []byte
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketReceipts).Get(receiptKey(replica, counter))
		if v == nil {
			return storage.ErrNotFound
		}
		var err error
		answer, err = decodeAnswer(replica, counter, v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: receipt %s/%d: %w", replica, counter, err)
	}
	return answer, nil
}

// Commit writes b durably, as storage.Records documents: in one fsync'd
// bbolt transaction, which it may share with the batches of concurrent
// Commit calls (group commit, see group.go). Each batch is checked and
// fails on its own: another batch's conflict never fails or changes it. Before writing anything it checks every put's Expect and
// pairing and every receipt's absence; any failure returns
// storage.ErrConflict and nothing is written. A malformed batch — puts with
// an empty Pairing, a put with an empty collection or id, the same key or
// the same (replica, counter) twice in one batch, an empty replica — returns
// storage.ErrInvalid. An empty batch writes nothing and reports the
// pairing's head. ctx is checked before the transaction starts; once it has
// started, the commit runs to its end.
func (db *DB) Commit(ctx context.Context, b storage.Batch) (storage.Committed, error) {
	if err := validBatch(b); err != nil {
		return storage.Committed{}, fmt.Errorf("bolt: commit %s: %w", b.Pairing, err)
	}
	if len(b.Puts) == 0 && len(b.Receipts) == 0 && b.ExpectHead == nil && len(b.Notifications) == 0 {
		head, err := db.Head(ctx, b.Pairing)
		return storage.Committed{Head: head}, err
	}
	if err := db.begin(ctx); err != nil {
		return storage.Committed{}, fmt.Errorf("bolt: commit %s: %w", b.Pairing, err)
	}
	c, err := db.group.commit(db, b)
	if err != nil {
		return storage.Committed{}, fmt.Errorf("bolt: commit %s: %w", b.Pairing, err)
	}
	return c, nil
}

func validBatch(b storage.Batch) error {
	if len(b.Puts) > 0 && b.Pairing == "" {
		return fmt.Errorf("puts without a pairing: %w", storage.ErrInvalid)
	}
	if len(b.Pairing) > bbolt.MaxKeySize {
		return fmt.Errorf("pairing name too long: %w", storage.ErrInvalid)
	}
	seen := make(map[storage.Key]bool, len(b.Puts))
	for _, p := range b.Puts {
		if err := validKey(p.Key); err != nil {
			return err
		}
		if seen[p.Key] {
			return fmt.Errorf("record %s/%s put twice in one batch: %w", p.Collection, p.ID, storage.ErrInvalid)
		}
		seen[p.Key] = true
	}
	type rkey struct {
		replica string
		counter uint64
	}
	seenR := make(map[rkey]bool, len(b.Receipts))
	for _, r := range b.Receipts {
		if r.Replica == "" {
			return fmt.Errorf("receipt with an empty replica: %w", storage.ErrInvalid)
		}
		if len(r.Replica)+binary.MaxVarintLen64+8 > bbolt.MaxKeySize {
			return fmt.Errorf("receipt replica too long: %w", storage.ErrInvalid)
		}
		k := rkey{r.Replica, r.Counter}
		if seenR[k] {
			return fmt.Errorf("receipt %s/%d twice in one batch: %w", r.Replica, r.Counter, storage.ErrInvalid)
		}
		seenR[k] = true
	}
	return validNotifications(b.Notifications)
}

// commit is the body of Commit's transaction: all checks, then all writes.
// dirty reports that it failed after it began writing: the transaction
// then holds part of b and must be rolled back. An error with dirty false
// (a failed check) leaves the transaction as it was.
func commit(tx *bbolt.Tx, b storage.Batch) (c storage.Committed, dirty bool, err error) {
	pl, err := checkBatch(tx, b)
	if err != nil {
		return storage.Committed{}, false, err
	}
	c, err = writeBatch(tx, b, pl)
	if err != nil {
		return storage.Committed{}, true, err
	}
	return c, false, nil
}

// plan is what checkBatch found for writeBatch: the encoded keys of the
// puts and receipts, and the seq each put replaces (0 if new).
type plan struct {
	keys, rkeys [][]byte
	prev        []uint64
}

// checkBatch makes every check of commit; it writes nothing.
func checkBatch(tx *bbolt.Tx, b storage.Batch) (plan, error) {
	records := tx.Bucket(bucketRecords)
	receipts := tx.Bucket(bucketReceipts)

	// Check everything before writing anything.
	if b.ExpectHead != nil {
		if head := readHead(tx, b.Pairing); head != *b.ExpectHead {
			return plan{}, fmt.Errorf("expected head %d, stored %d: %w", *b.ExpectHead, head, storage.ErrConflict)
		}
	}
	keys := make([][]byte, len(b.Puts))
	prev := make([]uint64, len(b.Puts)) // the seq each put replaces, 0 if new
	for i, p := range b.Puts {
		keys[i] = recordKey(p.Key)
		v := records.Get(keys[i])
		if v == nil {
			if p.Expect != 0 {
				return plan{}, fmt.Errorf("put %s/%s: expected seq %d, record absent: %w", p.Collection, p.ID, p.Expect, storage.ErrConflict)
			}
			continue
		}
		r, _, err := decodeRecordHead(v)
		if err != nil {
			return plan{}, fmt.Errorf("put %s/%s: %w", p.Collection, p.ID, err)
		}
		if string(r.pairing) != b.Pairing {
			return plan{}, fmt.Errorf("put %s/%s: record belongs to pairing %s: %w", p.Collection, p.ID, r.pairing, storage.ErrConflict)
		}
		if r.seq != p.Expect {
			return plan{}, fmt.Errorf("put %s/%s: expected seq %d, stored %d: %w", p.Collection, p.ID, p.Expect, r.seq, storage.ErrConflict)
		}
		prev[i] = r.seq
	}
	rkeys := make([][]byte, len(b.Receipts))
	for i, r := range b.Receipts {
		rkeys[i] = receiptKey(r.Replica, r.Counter)
		if receipts.Get(rkeys[i]) != nil {
			return plan{}, fmt.Errorf("receipt %s/%d exists: %w", r.Replica, r.Counter, storage.ErrConflict)
		}
	}

	return plan{keys: keys, rkeys: rkeys, prev: prev}, nil
}

// writeBatch is the writing half of commit, after checkBatch.
func writeBatch(tx *bbolt.Tx, b storage.Batch, pl plan) (storage.Committed, error) {
	records := tx.Bucket(bucketRecords)
	receipts := tx.Bucket(bucketReceipts)
	records.FillPercent, receipts.FillPercent = fillRecords, fillReceipts
	keys, rkeys, prev := pl.keys, pl.rkeys, pl.prev
	acked := tx.Bucket(bucketAcked)
	for i, r := range b.Receipts {
		if err := receipts.Put(rkeys[i], encodeAnswer(r.Replica, r.Counter, r.Answer)); err != nil {
			return storage.Committed{}, fmt.Errorf("receipt %s/%d: %w", r.Replica, r.Counter, err)
		}
		if r.Acked > 0 && r.Acked > readU64(acked, r.Replica) {
			if err := acked.Put([]byte(r.Replica), u64(r.Acked)); err != nil {
				return storage.Committed{}, fmt.Errorf("receipt %s/%d: acked: %w", r.Replica, r.Counter, err)
			}
		}
	}
	if err := writeNotifications(tx, b.Notifications); err != nil {
		return storage.Committed{}, err
	}
	head := readHead(tx, b.Pairing)
	if len(b.Puts) == 0 {
		return storage.Committed{Head: head}, nil
	}
	log, err := tx.Bucket(bucketLog).CreateBucketIfNotExists([]byte(b.Pairing))
	if err != nil {
		return storage.Committed{}, fmt.Errorf("log bucket: %w", err)
	}
	log.FillPercent = fillLog
	seqs := make([]uint64, len(b.Puts))
	for i, p := range b.Puts {
		head++
		seqs[i] = head
		if prev[i] != 0 {
			if err := log.Delete(u64(prev[i])); err != nil {
				return storage.Committed{}, fmt.Errorf("put %s/%s: unlog seq %d: %w", p.Collection, p.ID, prev[i], err)
			}
		}
		if err := log.Put(u64(head), keys[i]); err != nil {
			return storage.Committed{}, fmt.Errorf("put %s/%s: log: %w", p.Collection, p.ID, err)
		}
		if err := records.Put(keys[i], encodeRecord(head, b.Pairing, p.Data)); err != nil {
			return storage.Committed{}, fmt.Errorf("put %s/%s: %w", p.Collection, p.ID, err)
		}
	}
	if err := tx.Bucket(bucketHeads).Put([]byte(b.Pairing), u64(head)); err != nil {
		return storage.Committed{}, fmt.Errorf("head: %w", err)
	}
	if err := stampHead(tx, b.Pairing); err != nil {
		return storage.Committed{}, err
	}
	return storage.Committed{Seqs: seqs, Head: head}, nil
}

// Changes lists a pairing's records committed after the cursor, in ascending
// Seq, each at its latest version, as storage.Records documents. A page holds
// at most limit.Records records (default 500) and at most limit.Bytes bytes
// of Data (default 1 MiB), and always at least one record when one follows
// the cursor. The page is read from one consistent snapshot.
func (db *DB) Changes(ctx context.Context, pairing string, after uint64, limit storage.PageLimit) (storage.Page, error) {
	maxRecords, maxBytes := limit.Records, limit.Bytes
	if maxRecords <= 0 {
		maxRecords = DefaultPageRecords
	}
	if maxBytes <= 0 {
		maxBytes = DefaultPageBytes
	}
	page := storage.Page{Next: after}
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		if pairing == "" || after >= readHead(tx, pairing) {
			return nil
		}
		log := tx.Bucket(bucketLog).Bucket([]byte(pairing))
		if log == nil {
			return errors.New("pairing has a head but no log")
		}
		records := tx.Bucket(bucketRecords)
		size := 0
		c := log.Cursor()
		k, v := c.Seek(u64(after + 1))
		for ; k != nil; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			rv := records.Get(v)
			if rv == nil {
				return fmt.Errorf("log seq %d names missing record %x", seq, v)
			}
			r, err := decodeRecord(rv)
			if err != nil {
				return fmt.Errorf("log seq %d: %w", seq, err)
			}
			if r.seq != seq {
				return fmt.Errorf("log seq %d names record at seq %d", seq, r.seq)
			}
			if n := len(page.Records); n > 0 && (n >= maxRecords || size+len(r.data) > maxBytes) {
				page.More = true
				break
			}
			key, err := decodeKey(v)
			if err != nil {
				return fmt.Errorf("log seq %d: %w", seq, err)
			}
			page.Records = append(page.Records, r.record(key))
			size += len(r.data)
			page.Next = seq
		}
		return nil
	})
	if err != nil {
		return storage.Page{}, fmt.Errorf("bolt: changes %s after %d: %w", pairing, after, err)
	}
	return page, nil
}
