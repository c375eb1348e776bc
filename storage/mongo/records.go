package mongo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pairsync/pairsync/storage"
)

// Default page limits of Changes (storage.PageLimit zero values).
const (
	DefaultPageRecords = 500
	DefaultPageBytes   = 1 << 20
)

// recordDoc is a record's current version in the records collection. The
// collection is also the pairing's changes feed: a record has one document,
// at its latest seq, and the (pairing, seq) index lists them in order.
type recordDoc struct {
	ID         string `bson:"_id"` // recordID(key)
	Collection string `bson:"collection"`
	RecordID   string `bson:"record_id"`
	Pairing    string `bson:"pairing"`
	Seq        int64  `bson:"seq"`
	Data       []byte `bson:"data"`
}

func (r recordDoc) record() storage.Record {
	return storage.Record{
		Key:     storage.Key{Collection: r.Collection, ID: r.RecordID},
		Pairing: r.Pairing,
		Seq:     uint64(r.Seq),
		Data:    bytes.Clone(r.Data),
	}
}

// headDoc is a pairing's counter document in the heads collection: the
// last sequence given to a put, and the highest purged one.
type headDoc struct {
	Pairing string `bson:"_id"`
	Seq     int64  `bson:"seq"`
	Horizon int64  `bson:"horizon"`
	// Stamp is the store-wide commit stamp of the last commit that
	// advanced the pairing (heads.go); absent before the first.
	Stamp int64 `bson:"stamp,omitempty"`
}

// receiptDoc is one stored answer in the receipts collection.
type receiptDoc struct {
	ID      string `bson:"_id"` // receiptID(replica, counter)
	Replica string `bson:"replica"`
	Counter int64  `bson:"counter"`
	Answer  []byte `bson:"answer"`
	Acked   int64  `bson:"acked,omitempty"` // storage.Receipt.Acked
}

// recordID is the _id of a record: the collection's length, the collection
// and the id, so that no two keys share one whatever bytes they hold.
func recordID(k storage.Key) string {
	return strconv.Itoa(len(k.Collection)) + ":" + k.Collection + "/" + k.ID
}

// receiptID is the _id of a receipt: the replica, then the counter in 20
// decimal digits (a fixed-width suffix, so the pair is unambiguous).
func receiptID(replica string, counter uint64) string {
	return fmt.Sprintf("%s/%020d", replica, counter)
}

// validKey reports whether k can name a record.
func validKey(k storage.Key) error {
	if k.Collection == "" || k.ID == "" {
		return fmt.Errorf("record key %q/%q: empty collection or id: %w", k.Collection, k.ID, storage.ErrInvalid)
	}
	return nil
}

// Get returns the current version of a record, or storage.ErrNotFound
// (storage.ErrInvalid for an empty collection or id). The returned Data
// belongs to the caller.
func (db *DB) Get(ctx context.Context, key storage.Key) (storage.Record, error) {
	if err := validKey(key); err != nil {
		return storage.Record{}, fmt.Errorf("mongo: get: %w", err)
	}
	var doc recordDoc
	err := db.run(ctx, func(ctx context.Context) error {
		return found(db.records.FindOne(ctx, d("_id", recordID(key))).Decode(&doc))
	})
	if err != nil {
		return storage.Record{}, fmt.Errorf("mongo: get %s/%s: %w", key.Collection, key.ID, err)
	}
	return doc.record(), nil
}

// Head returns a pairing's current sequence, 0 for an unknown pairing.
func (db *DB) Head(ctx context.Context, pairing string) (uint64, error) {
	h, err := db.head(ctx, pairing)
	if err != nil {
		return 0, fmt.Errorf("mongo: head %s: %w", pairing, err)
	}
	return uint64(h.Seq), nil
}

// head reads a pairing's counter document, retried as db.run retries.
func (db *DB) head(ctx context.Context, pairing string) (h headDoc, err error) {
	err = db.run(ctx, func(ctx context.Context) error {
		h, err = db.readHead(ctx, pairing)
		return err
	})
	return h, err
}

// readHead reads a pairing's counter document; a zero one (empty Pairing)
// when there is none.
func (db *DB) readHead(ctx context.Context, pairing string) (headDoc, error) {
	var h headDoc
	if pairing == "" {
		return h, nil
	}
	err := db.heads.FindOne(ctx, d("_id", pairing)).Decode(&h)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return headDoc{}, nil
	}
	return h, err
}

// Receipt returns the answer stored for (replica, counter), or
// storage.ErrNotFound. The returned slice belongs to the caller.
func (db *DB) Receipt(ctx context.Context, replica string, counter uint64) ([]byte, error) {
	var doc receiptDoc
	err := db.run(ctx, func(ctx context.Context) error {
		if counter > math.MaxInt64 {
			return storage.ErrNotFound
		}
		return found(db.receipts.FindOne(ctx, d("_id", receiptID(replica, counter))).Decode(&doc))
	})
	if err != nil {
		return nil, fmt.Errorf("mongo: receipt %s/%d: %w", replica, counter, err)
	}
	return bytes.Clone(doc.Answer), nil
}

// Commit writes b in one transaction, as storage.Records documents, and
// returns once a majority has it journaled. The transaction reads the
// pairing's counter document, checks ExpectHead, every put's Expect and
// pairing and every receipt's absence (storage.ErrConflict, nothing
// written, on any failure), then bumps the counter, writes each record at
// its new seq and inserts the receipts. Two commits of one pairing both
// write its counter document, so MongoDB lets only one of them commit; the
// other is retried from the start (it then reads the new head), so
// sequences are handed out in commit order without gaps.
//
// A malformed batch (puts with an empty Pairing, a put with an empty
// collection or id, the same key or the same (replica, counter) twice, an
// empty replica, a counter above 2⁶³-1) returns storage.ErrInvalid. An empty
// batch writes nothing and reports the pairing's head.
func (db *DB) Commit(ctx context.Context, b storage.Batch) (storage.Committed, error) {
	if err := validBatch(b); err != nil {
		return storage.Committed{}, fmt.Errorf("mongo: commit %s: %w", b.Pairing, err)
	}
	if len(b.Puts) == 0 && len(b.Receipts) == 0 && b.ExpectHead == nil && len(b.Notifications) == 0 {
		head, err := db.Head(ctx, b.Pairing)
		return storage.Committed{Head: head}, err
	}
	var c storage.Committed
	err := db.write(ctx, func(ctx context.Context) error {
		var err error
		c, err = db.commit(ctx, b, !db.noTxn)
		return err
	})
	if err != nil {
		return storage.Committed{}, fmt.Errorf("mongo: commit %s: %w", b.Pairing, err)
	}
	return c, nil
}

func validBatch(b storage.Batch) error {
	if len(b.Puts) > 0 && b.Pairing == "" {
		return fmt.Errorf("puts without a pairing: %w", storage.ErrInvalid)
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
	seenR := make(map[string]bool, len(b.Receipts))
	for _, r := range b.Receipts {
		if r.Replica == "" {
			return fmt.Errorf("receipt with an empty replica: %w", storage.ErrInvalid)
		}
		if r.Counter > math.MaxInt64 {
			return fmt.Errorf("receipt %s/%d: counter above 2^63-1: %w", r.Replica, r.Counter, storage.ErrInvalid)
		}
		id := receiptID(r.Replica, r.Counter)
		if seenR[id] {
			return fmt.Errorf("receipt %s/%d twice in one batch: %w", r.Replica, r.Counter, storage.ErrInvalid)
		}
		seenR[id] = true
	}
	return validNotifications(b.Notifications)
}

// commit is the body of Commit's transaction: all checks, then all writes.
// It keeps no state across calls (the transaction may run again).
//
// In a transaction its first statement takes the pairing: it increments
// the counter document (returning the head before) when there are puts, so
// that a concurrent commit of the pairing collides there, before any other
// work, and the transaction holding the counter commits soon; a failed
// check then aborts the increment with the rest. Without transactions it
// checks first and moves the counter by compare-and-set, so that a refused
// batch writes nothing.
func (db *DB) commit(ctx context.Context, b storage.Batch, inTxn bool) (storage.Committed, error) {
	var (
		head headDoc
		err  error
	)
	take := inTxn && len(b.Puts) > 0
	if take {
		err = db.heads.FindOneAndUpdate(ctx, d("_id", b.Pairing), d("$inc", d("seq", int64(len(b.Puts)))),
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.Before)).Decode(&head)
		if errors.Is(err, mongo.ErrNoDocuments) {
			head, err = headDoc{}, nil // created by the upsert
		}
	} else {
		head, err = db.readHead(ctx, b.Pairing)
	}
	if err != nil {
		return storage.Committed{}, fmt.Errorf("head: %w", err)
	}
	if b.ExpectHead != nil && uint64(head.Seq) != *b.ExpectHead {
		return storage.Committed{}, fmt.Errorf("expected head %d, stored %d: %w", *b.ExpectHead, head.Seq, storage.ErrConflict)
	}

	// Check everything before writing anything else.
	ids := make([]string, len(b.Puts))
	for i, p := range b.Puts {
		ids[i] = recordID(p.Key)
	}
	stored := make(map[string]recordDoc, len(b.Puts))
	if len(ids) > 0 {
		docs, err := find[recordDoc](ctx, db.records, d("_id", d("$in", ids)),
			options.Find().SetProjection(d("data", 0)))
		if err != nil {
			return storage.Committed{}, fmt.Errorf("read records: %w", err)
		}
		for _, r := range docs {
			stored[r.ID] = r
		}
	}
	for i, p := range b.Puts {
		r, ok := stored[ids[i]]
		switch {
		case !ok && p.Expect != 0:
			return storage.Committed{}, fmt.Errorf("put %s/%s: expected seq %d, record absent: %w", p.Collection, p.ID, p.Expect, storage.ErrConflict)
		case !ok:
		case r.Pairing != b.Pairing:
			return storage.Committed{}, fmt.Errorf("put %s/%s: record belongs to pairing %s: %w", p.Collection, p.ID, r.Pairing, storage.ErrConflict)
		case uint64(r.Seq) != p.Expect:
			return storage.Committed{}, fmt.Errorf("put %s/%s: expected seq %d, stored %d: %w", p.Collection, p.ID, p.Expect, r.Seq, storage.ErrConflict)
		}
	}
	rids := make([]string, len(b.Receipts))
	for i, r := range b.Receipts {
		rids[i] = receiptID(r.Replica, r.Counter)
	}
	if len(rids) > 0 {
		var dup receiptDoc
		err := db.receipts.FindOne(ctx, d("_id", d("$in", rids)), options.FindOne().SetProjection(d("answer", 0))).Decode(&dup)
		if err == nil {
			return storage.Committed{}, fmt.Errorf("receipt %s/%d exists: %w", dup.Replica, dup.Counter, storage.ErrConflict)
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return storage.Committed{}, fmt.Errorf("read receipts: %w", err)
		}
	}

	// Write: the counter (unless taken above), the records, the receipts.
	c := storage.Committed{Head: uint64(head.Seq)}
	if len(b.Puts) > 0 {
		next := head.Seq + int64(len(b.Puts))
		if !take {
			if err := db.bumpHead(ctx, b.Pairing, head, next); err != nil {
				return storage.Committed{}, err
			}
		}
		c.Head = uint64(next)
		c.Seqs = make([]uint64, len(b.Puts))
		models := make([]mongo.WriteModel, len(b.Puts))
		for i, p := range b.Puts {
			seq := head.Seq + int64(i) + 1
			c.Seqs[i] = uint64(seq)
			doc := recordDoc{ID: ids[i], Collection: p.Collection, RecordID: p.ID, Pairing: b.Pairing, Seq: seq, Data: p.Data}
			if doc.Data == nil {
				doc.Data = []byte{}
			}
			if _, ok := stored[ids[i]]; ok {
				// Replaced only if still at the seq checked above.
				models[i] = mongo.NewReplaceOneModel().SetFilter(bson.D{{Key: "_id", Value: ids[i]}, {Key: "seq", Value: int64(p.Expect)}}).SetReplacement(doc)
			} else {
				models[i] = mongo.NewInsertOneModel().SetDocument(doc)
			}
		}
		res, err := db.records.BulkWrite(ctx, models)
		if mongo.IsDuplicateKeyError(err) {
			return storage.Committed{}, fmt.Errorf("a new record was created concurrently: %w", storage.ErrConflict)
		}
		if err != nil {
			return storage.Committed{}, fmt.Errorf("write records: %w", err)
		}
		if n := res.InsertedCount + res.MatchedCount; n != int64(len(models)) {
			return storage.Committed{}, fmt.Errorf("a record changed concurrently (%d of %d written): %w", n, len(models), storage.ErrConflict)
		}
		if err := db.stampHead(ctx, b.Pairing); err != nil {
			return storage.Committed{}, err
		}
	}
	if len(b.Receipts) > 0 {
		docs := make([]receiptDoc, len(b.Receipts))
		for i, r := range b.Receipts {
			docs[i] = receiptDoc{ID: rids[i], Replica: r.Replica, Counter: int64(r.Counter), Answer: r.Answer, Acked: int64(r.Acked)}
			if docs[i].Answer == nil {
				docs[i].Answer = []byte{}
			}
		}
		_, err := db.receipts.InsertMany(ctx, docs)
		if mongo.IsDuplicateKeyError(err) {
			return storage.Committed{}, fmt.Errorf("a receipt was written concurrently: %w", storage.ErrConflict)
		}
		if err != nil {
			return storage.Committed{}, fmt.Errorf("write receipts: %w", err)
		}
	}
	if err := db.writeNotifications(ctx, b.Notifications, inTxn); err != nil {
		return storage.Committed{}, err
	}
	return c, nil
}

// bumpHead moves a pairing's counter from head (as read) to next, if it is
// still there (without transactions: a concurrent commit makes it
// storage.ErrConflict).
func (db *DB) bumpHead(ctx context.Context, pairing string, head headDoc, next int64) error {
	if head.Pairing == "" {
		_, err := db.heads.InsertOne(ctx, headDoc{Pairing: pairing, Seq: next})
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("head of %s created concurrently: %w", pairing, storage.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("write head: %w", err)
		}
		return nil
	}
	res, err := db.heads.UpdateOne(ctx, bson.D{{Key: "_id", Value: pairing}, {Key: "seq", Value: head.Seq}},
		d("$set", d("seq", next)))
	if err != nil {
		return fmt.Errorf("write head: %w", err)
	}
	if res.MatchedCount != 1 {
		return fmt.Errorf("head of %s moved concurrently: %w", pairing, storage.ErrConflict)
	}
	return nil
}

// Changes lists a pairing's records committed after the cursor, in
// ascending Seq, each at its latest version, as storage.Records documents:
// one query on the (pairing, seq) index, at read concern majority, so a
// page holds only committed puts and, since a pairing's puts commit in seq
// order, none is ever behind a cursor that a page returned. A page holds at
// most limit.Records records (default 500) and at most limit.Bytes bytes of
// Data (default 1 MiB), and always at least one record when one follows the
// cursor.
func (db *DB) Changes(ctx context.Context, pairing string, after uint64, limit storage.PageLimit) (storage.Page, error) {
	maxRecords, maxBytes := limit.Records, limit.Bytes
	if maxRecords <= 0 {
		maxRecords = DefaultPageRecords
	}
	if maxBytes <= 0 {
		maxBytes = DefaultPageBytes
	}
	page := storage.Page{Next: after}
	err := db.run(ctx, func(ctx context.Context) error {
		if pairing == "" || after >= math.MaxInt64 {
			return nil
		}
		cur, err := db.records.Find(ctx,
			bson.D{{Key: "pairing", Value: pairing}, {Key: "seq", Value: d("$gt", int64(after))}},
			options.Find().SetSort(d("seq", 1)).SetLimit(int64(maxRecords)+1).SetBatchSize(int32(min(maxRecords+1, 1000))))
		if err != nil {
			return err
		}
		defer cur.Close(context.WithoutCancel(ctx))
		size := 0
		for cur.Next(ctx) {
			var r recordDoc
			if err := cur.Decode(&r); err != nil {
				return err
			}
			if n := len(page.Records); n > 0 && (n >= maxRecords || size+len(r.Data) > maxBytes) {
				page.More = true
				break
			}
			page.Records = append(page.Records, r.record())
			size += len(r.Data)
			page.Next = uint64(r.Seq)
		}
		return cur.Err()
	})
	if err != nil {
		return storage.Page{}, fmt.Errorf("mongo: changes %s after %d: %w", pairing, after, err)
	}
	return page, nil
}
