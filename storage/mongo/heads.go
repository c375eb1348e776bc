package mongo

import (
	"context"
	"errors"
	"fmt"
	"math"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pairsync/pairsync/storage"
)

// DefaultHeadsPage is HeadsSince's page size when limit is 0.
const DefaultHeadsPage = 1000

// commitStampID is the meta document holding the last store-wide commit
// stamp.
const commitStampID = "commit_stamp"

// stampHead gives a pairing that a commit advances the next store-wide
// commit stamp. In a transaction it is the commit's last record write, so
// the stamp document is held from there to the commit only: two commits
// (of any pairings) collide on it and one retries, which makes stamps
// follow commit order, and a majority read that sees stamp s sees every
// lower one. (The cost: commits of a store serialize on one document for
// that short window; see ARCHITECTURE.md "Catch-up".)
func (db *DB) stampHead(ctx context.Context, pairing string) error {
	var doc struct {
		V int64 `bson:"v"`
	}
	err := db.meta.FindOneAndUpdate(ctx, d("_id", commitStampID), d("$inc", d("v", int64(1))),
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&doc)
	if err != nil {
		return fmt.Errorf("commit stamp: %w", err)
	}
	if _, err := db.heads.UpdateOne(ctx, d("_id", pairing), d("$set", d("stamp", doc.V))); err != nil {
		return fmt.Errorf("head stamp: %w", err)
	}
	return nil
}

// stampUnstamped stamps the heads of a database written before the heads
// feed (run on Open; a no-op once every head has a stamp).
func (db *DB) stampUnstamped(ctx context.Context) error {
	heads, err := find[headDoc](ctx, db.heads, bson.D{{Key: "stamp", Value: d("$exists", false)}, {Key: "seq", Value: d("$gt", int64(0))}},
		options.Find().SetProjection(d("_id", 1)))
	if err != nil {
		return fmt.Errorf("unstamped heads: %w", mapErr(err))
	}
	for _, h := range heads {
		if err := db.stampHead(ctx, h.Pairing); err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// HeadsSince returns the pairings whose last advancing commit has a stamp
// after the cursor, in stamp order: one query on the stamp index and one
// read of the stamp document, at read concern majority.
func (db *DB) HeadsSince(ctx context.Context, after uint64, limit int) (storage.HeadsPage, error) {
	if limit <= 0 {
		limit = DefaultHeadsPage
	}
	page := storage.HeadsPage{Next: after}
	err := db.run(ctx, func(ctx context.Context) error {
		page.Heads, page.More, page.Last = nil, false, 0
		var last struct {
			V int64 `bson:"v"`
		}
		if err := db.meta.FindOne(ctx, d("_id", commitStampID)).Decode(&last); err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return err
		}
		page.Last = uint64(last.V)
		if after >= math.MaxInt64 || page.Last <= after {
			return nil
		}
		docs, err := find[headDoc](ctx, db.heads, d("stamp", d("$gt", int64(after))),
			options.Find().SetSort(d("stamp", 1)).SetLimit(int64(limit)+1).SetProjection(d("horizon", 0)))
		if err != nil {
			return err
		}
		for i, h := range docs {
			if i == limit {
				page.More = true
				break
			}
			page.Heads = append(page.Heads, storage.HeadStamp{Pairing: h.Pairing, Seq: uint64(h.Seq), Stamp: uint64(h.Stamp)})
			page.Next = uint64(h.Stamp)
		}
		return nil
	})
	if err != nil {
		return storage.HeadsPage{}, fmt.Errorf("mongo: heads since %d: %w", after, err)
	}
	return page, nil
}

// ConfirmedHead reads a pairing's head at read concern linearizable on the
// primary: the server confirms it is still primary with a majority before
// answering, so the answer reflects every commit acknowledged (at majority)
// before the call, across failovers. Without transactions (the test-only
// modes: a standalone server or FerretDB, which have no failover and no
// linearizable reads) it is Head.
func (db *DB) ConfirmedHead(ctx context.Context, pairing string) (uint64, error) {
	if db.noTxn {
		return db.Head(ctx, pairing)
	}
	var h headDoc
	err := db.run(ctx, func(ctx context.Context) error {
		err := db.linearHeads.FindOne(ctx, d("_id", pairing)).Decode(&h)
		if errors.Is(err, mongo.ErrNoDocuments) {
			h = headDoc{}
			return nil
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("mongo: confirmed head %s: %w", pairing, err)
	}
	return uint64(h.Seq), nil
}

// headsOfChunk is how many pairings one HeadsOf query names at most (the
// filter of 10,000 ids is some hundreds of kilobytes, far below a
// command's 16 MiB; a province's 7,000 take one query).
const headsOfChunk = 10_000

// HeadsOf reads the head documents of the pairings named, seq and horizon
// of each together, with one query by _id per headsOfChunk pairings, its
// answer in as few batches as the documents' size allows.
func (db *DB) HeadsOf(ctx context.Context, pairings []string) ([]storage.PairingHead, error) {
	out := make([]storage.PairingHead, len(pairings))
	for i, p := range pairings {
		out[i].Pairing = p
	}
	if len(pairings) == 0 {
		return out, nil
	}
	byID := make(map[string]headDoc, len(pairings))
	err := db.run(ctx, func(ctx context.Context) error {
		for start := 0; start < len(pairings); start += headsOfChunk {
			ids := pairings[start:min(start+headsOfChunk, len(pairings))]
			docs, err := find[headDoc](ctx, db.heads, d("_id", d("$in", ids)),
				options.Find().SetProjection(bson.D{{Key: "seq", Value: 1}, {Key: "horizon", Value: 1}}).SetBatchSize(int32(len(ids))))
			if err != nil {
				return err
			}
			for _, h := range docs {
				byID[h.Pairing] = h
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mongo: heads of %d pairings: %w", len(pairings), err)
	}
	for i := range out {
		if h, ok := byID[out[i].Pairing]; ok {
			out[i].Seq, out[i].Horizon = uint64(h.Seq), uint64(h.Horizon)
		}
	}
	return out, nil
}
