package mobile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pairsync/pairsync/syncproto"
)

// The local store: one bolt file, these buckets.
//
//	meta      "writer"  → {"replica","counter","clock"}: the Writer's state
//	          "session" → {"server","user_id","username","device_id",
//	                        "access_token","access_expires","refresh_token"}
//	base      coll \0 id              → canonical record JSON (the merge of
//	                                    everything pulled or acknowledged)
//	index     pairing \0 coll \0 id   → "" (records the base or the outbox
//	                                    holds, by pairing; a hint, read views
//	                                    decide)
//	outbox    counter (8 bytes, BE)   → syncproto.Write JSON, counter order
//	pending   coll \0 id \0 counter   → "" (the outbox by record)
//	rejected  counter (8 bytes, BE)   → {"write","error","at"}
//	cursor    pairing                 → last sequence received (8 bytes, BE)
//	resync    pairing                 → "" (base dropped, pull from 0 due)
//	photos    sha256 (hex)            → {"size","type","cited",…}: a photo
//	                                    waiting to be uploaded (photos.go);
//	                                    its bytes are in Config.PhotoDir
//
// Record keys hold no NUL: collections, ids and pairings are
// [A-Za-z0-9_-] (syncproto checks every write and record).
var (
	bucketMeta     = []byte("meta")
	bucketBase     = []byte("base")
	bucketIndex    = []byte("index")
	bucketOutbox   = []byte("outbox")
	bucketPending  = []byte("pending")
	bucketRejected = []byte("rejected")
	bucketCursor   = []byte("cursor")
	bucketResync   = []byte("resync")
	bucketPhotos   = []byte("photos")
	// held: pairing NUL seq → nothing: sequences past the cursor at which
	// the base holds exactly the stored version (the device's own commits,
	// rebuilt from the push answers); pulls name them (syncproto.Held).
	bucketHeld = []byte("held")

	allBuckets = [][]byte{bucketMeta, bucketBase, bucketIndex, bucketOutbox, bucketPending, bucketRejected, bucketCursor, bucketResync, bucketPhotos, bucketHeld}

	keyWriter  = []byte("writer")
	keySession = []byte("session")
)

// The directory scope holds pairing records (server/pairing.DirectoryScope);
// purging a pairing also drops its directory record.
const (
	directoryScope   = "_directory"
	directoryPairing = "pairings"
)

func createBuckets(tx *bolt.Tx) error {
	for _, b := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

// writerState is the persisted state of the device's syncproto.Writer.
type writerState struct {
	Replica syncproto.ReplicaID `json:"replica"`
	Counter uint64              `json:"counter"`
	Clock   syncproto.HLC       `json:"clock"`
}

// session is who the engine is signed in as, and where.
type session struct {
	Server        string    `json:"server"`
	UserID        string    `json:"user_id"`
	Username      string    `json:"username"`
	Name          string    `json:"name,omitempty"`
	Role          string    `json:"role,omitempty"`
	DeviceID      string    `json:"device_id"`
	AccessToken   string    `json:"access_token"`
	AccessExpires time.Time `json:"access_expires"`
	RefreshToken  string    `json:"refresh_token"`
}

func loadJSON(tx *bolt.Tx, key []byte, v any) (bool, error) {
	b := tx.Bucket(bucketMeta).Get(key)
	if b == nil {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("meta %s: %w", key, err)
	}
	return true, nil
}

func saveJSON(tx *bolt.Tx, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(key, b)
}

func loadWriter(tx *bolt.Tx) (writerState, bool, error) {
	var w writerState
	ok, err := loadJSON(tx, keyWriter, &w)
	return w, ok, err
}

func loadSession(tx *bolt.Tx) (session, bool, error) {
	var s session
	ok, err := loadJSON(tx, keySession, &s)
	return s, ok, err
}

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

func recKey(coll, id string) []byte { return []byte(coll + "\x00" + id) }

func indexKey(pairing, coll, id string) []byte {
	return []byte(pairing + "\x00" + coll + "\x00" + id)
}

func pendingKey(coll, id string, counter uint64) []byte {
	return append(recKey(coll, id+"\x00"), u64(counter)...)
}

// getBase returns the base of a record (the zero Record if none).
func getBase(tx *bolt.Tx, coll, id string) (syncproto.Record, error) {
	b := tx.Bucket(bucketBase).Get(recKey(coll, id))
	if b == nil {
		return syncproto.Record{}, nil
	}
	var r syncproto.Record
	if err := r.UnmarshalJSON(b); err != nil {
		return syncproto.Record{}, fmt.Errorf("base %s/%s: %w", coll, id, err)
	}
	return r, nil
}

// putBase stores a record's base.
func putBase(tx *bolt.Tx, r syncproto.Record) error {
	data, err := syncproto.Encode(r)
	if err != nil {
		return fmt.Errorf("base %s/%s: %w", r.Collection, r.ID, err)
	}
	return putBaseEncoded(tx, r, data)
}

// putBaseEncoded stores a record's base given its canonical encoding
// (which the bucket keeps: bolt holds data until the transaction ends).
func putBaseEncoded(tx *bolt.Tx, r syncproto.Record, data []byte) error {
	if err := tx.Bucket(bucketBase).Put(recKey(r.Collection, r.ID), data); err != nil {
		return err
	}
	if err := notePhotoCites(tx, r); err != nil {
		return err
	}
	return tx.Bucket(bucketIndex).Put(indexKey(r.Pairing, r.Collection, r.ID), nil)
}

// outboxLimits decode outbox entries: the engine wrote them, with values
// its Writer checked.
var outboxLimits = syncproto.Limits{MaxBytes: -1, MaxArray: -1, MaxKeys: -1, MaxString: -1, MaxFields: -1}

// decodeWrite decodes an outbox entry (written by syncproto.Encode, or by
// encoding/json before it).
func decodeWrite(b []byte) (syncproto.Write, error) {
	w, err := syncproto.DecodeWrite(b, outboxLimits)
	if err != nil {
		return syncproto.Write{}, fmt.Errorf("outbox entry: %w", err)
	}
	return w, nil
}

// pendingFor returns the outbox writes of one record, in counter order.
func pendingFor(tx *bolt.Tx, coll, id string) ([]syncproto.Write, error) {
	return pendingWith(tx, coll, id, nil)
}

// pendingWith is pendingFor given one of the writes decoded already.
func pendingWith(tx *bolt.Tx, coll, id string, known *syncproto.Write) ([]syncproto.Write, error) {
	prefix := recKey(coll, id+"\x00")
	out := tx.Bucket(bucketOutbox)
	var ws []syncproto.Write
	c := tx.Bucket(bucketPending).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) != len(prefix)+8 {
			continue
		}
		if known != nil && binary.BigEndian.Uint64(k[len(prefix):]) == known.Dot.Counter {
			ws = append(ws, *known)
			continue
		}
		v := out.Get(k[len(prefix):])
		if v == nil {
			continue
		}
		w, err := decodeWrite(v)
		if err != nil {
			return nil, err
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// viewOf is what the user sees of a record: Rebuild(base, pending), the
// zero Record when neither exists.
func viewOf(tx *bolt.Tx, coll, id string) (syncproto.Record, error) {
	view, _, err := viewWith(tx, coll, id)
	return view, err
}

// viewWith is viewOf, also saying whether the view is the base (no pending
// write).
func viewWith(tx *bolt.Tx, coll, id string) (view syncproto.Record, isBase bool, err error) {
	base, err := getBase(tx, coll, id)
	if err != nil {
		return syncproto.Record{}, false, err
	}
	pending, err := pendingFor(tx, coll, id)
	if err != nil {
		return syncproto.Record{}, false, err
	}
	if len(pending) == 0 {
		return base, true, nil
	}
	view, _, err = syncproto.Rebuild(base, pending)
	if err != nil {
		return syncproto.Record{}, false, fmt.Errorf("rebuild %s/%s: %w", coll, id, err)
	}
	return view, false, nil
}

// addWrite appends a write to the outbox and returns its entry.
func addWrite(tx *bolt.Tx, w syncproto.Write) ([]byte, error) {
	b, err := syncproto.Encode(w)
	if err != nil {
		return nil, fmt.Errorf("outbox %s: %w", w.Dot, err)
	}
	if err := tx.Bucket(bucketOutbox).Put(u64(w.Dot.Counter), b); err != nil {
		return nil, err
	}
	if err := tx.Bucket(bucketPending).Put(pendingKey(w.Collection, w.ID, w.Dot.Counter), nil); err != nil {
		return nil, err
	}
	return b, tx.Bucket(bucketIndex).Put(indexKey(w.Pairing, w.Collection, w.ID), nil)
}

// removeWrite deletes a write from the outbox.
func removeWrite(tx *bolt.Tx, w syncproto.Write) error {
	if err := tx.Bucket(bucketOutbox).Delete(u64(w.Dot.Counter)); err != nil {
		return err
	}
	return tx.Bucket(bucketPending).Delete(pendingKey(w.Collection, w.ID, w.Dot.Counter))
}

// rejectedEntry is a write the server refused, kept for the user.
type rejectedEntry struct {
	Write syncproto.Write  `json:"write"`
	Error *syncproto.Error `json:"error"`
	At    time.Time        `json:"at"`
}

func putRejected(tx *bolt.Tx, w syncproto.Write, e *syncproto.Error, at time.Time) error {
	b, err := json.Marshal(rejectedEntry{Write: w, Error: e, At: at.UTC()})
	if err != nil {
		return err
	}
	return tx.Bucket(bucketRejected).Put(u64(w.Dot.Counter), b)
}

func readCursor(tx *bolt.Tx) syncproto.Cursor {
	cur := syncproto.Cursor{}
	_ = tx.Bucket(bucketCursor).ForEach(func(k, v []byte) error {
		if len(v) == 8 {
			cur[string(k)] = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return cur
}

func heldKey(pairing string, seq uint64) []byte {
	return append([]byte(pairing+"\x00"), u64(seq)...)
}

// putHeld records sequences of own (per pairing) past the cursor cur, in
// pairings cur holds.
func putHeld(tx *bolt.Tx, own map[string][]uint64, cur syncproto.Cursor) error {
	b := tx.Bucket(bucketHeld)
	for p, seqs := range own {
		pos, ok := cur[p]
		if !ok {
			continue
		}
		for _, s := range seqs {
			if s > pos {
				if err := b.Put(heldKey(p, s), nil); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// readHeld returns the held sequences, per pairing.
func readHeld(tx *bolt.Tx) map[string][]uint64 {
	var own map[string][]uint64
	_ = tx.Bucket(bucketHeld).ForEach(func(k, _ []byte) error {
		if i := bytes.IndexByte(k, 0); i >= 0 && len(k) == i+9 {
			if own == nil {
				own = map[string][]uint64{}
			}
			own[string(k[:i])] = append(own[string(k[:i])], binary.BigEndian.Uint64(k[i+1:]))
		}
		return nil
	})
	return own
}

// pruneHeld forgets held sequences the cursor has passed, and those of
// pairings it no longer holds (resynced, purged).
func pruneHeld(tx *bolt.Tx, cur syncproto.Cursor) error {
	b := tx.Bucket(bucketHeld)
	var gone [][]byte
	_ = b.ForEach(func(k, _ []byte) error {
		i := bytes.IndexByte(k, 0)
		if i < 0 || len(k) != i+9 {
			gone = append(gone, bytes.Clone(k))
			return nil
		}
		if pos, ok := cur[string(k[:i])]; !ok || binary.BigEndian.Uint64(k[i+1:]) <= pos {
			gone = append(gone, bytes.Clone(k))
		}
		return nil
	})
	for _, k := range gone {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// dropHeld forgets the held sequences of a pairing.
func dropHeld(tx *bolt.Tx, pairing string) error {
	prefix := []byte(pairing + "\x00")
	b := tx.Bucket(bucketHeld)
	var gone [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		gone = append(gone, bytes.Clone(k))
	}
	for _, k := range gone {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// writeCursor replaces the stored cursor, and forgets held sequences it
// has passed.
func writeCursor(tx *bolt.Tx, cur syncproto.Cursor) error {
	if err := pruneHeld(tx, cur); err != nil {
		return err
	}
	b := tx.Bucket(bucketCursor)
	var stale [][]byte
	_ = b.ForEach(func(k, _ []byte) error {
		if _, ok := cur[string(k)]; !ok {
			stale = append(stale, bytes.Clone(k))
		}
		return nil
	})
	for _, k := range stale {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	for p, s := range cur {
		if err := b.Put([]byte(p), u64(s)); err != nil {
			return err
		}
	}
	return nil
}

// indexed lists the (collection, id) pairs the index holds under a prefix
// (a pairing, or a pairing and collection).
func indexed(tx *bolt.Tx, pairing, coll string) [][2]string {
	prefix := []byte(pairing + "\x00")
	if coll != "" {
		prefix = append(prefix, coll+"\x00"...)
	}
	var out [][2]string
	c := tx.Bucket(bucketIndex).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		parts := bytes.SplitN(k[len(pairing)+1:], []byte{0}, 2)
		if len(parts) == 2 {
			out = append(out, [2]string{string(parts[0]), string(parts[1])})
		}
	}
	return out
}

// dropBase forgets the base of every record of a pairing (Resync), keeping
// the outbox: index entries of records with pending writes stay.
func dropBase(tx *bolt.Tx, pairing string) error {
	if err := dropHeld(tx, pairing); err != nil {
		return err
	}
	base, index, pend := tx.Bucket(bucketBase), tx.Bucket(bucketIndex), tx.Bucket(bucketPending)
	for _, k := range indexed(tx, pairing, "") {
		if err := base.Delete(recKey(k[0], k[1])); err != nil {
			return err
		}
		prefix := recKey(k[0], k[1]+"\x00")
		if pk, _ := pend.Cursor().Seek(prefix); pk != nil && bytes.HasPrefix(pk, prefix) {
			continue
		}
		if err := index.Delete(indexKey(pairing, k[0], k[1])); err != nil {
			return err
		}
	}
	return nil
}

// hasPending reports whether the outbox holds a write of the pairing.
func hasPending(tx *bolt.Tx, pairing string) (bool, error) {
	for _, k := range indexed(tx, pairing, "") {
		ws, err := pendingFor(tx, k[0], k[1])
		if err != nil {
			return false, err
		}
		if len(ws) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// purgePairing drops everything of a pairing: its base, outbox entries,
// rejected writes, cursor entry, resync mark and its directory record.
func purgePairing(tx *bolt.Tx, pairing string) error {
	for _, k := range indexed(tx, pairing, "") {
		ws, err := pendingFor(tx, k[0], k[1])
		if err != nil {
			return err
		}
		for _, w := range ws {
			if err := removeWrite(tx, w); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketBase).Delete(recKey(k[0], k[1])); err != nil {
			return err
		}
		if err := tx.Bucket(bucketIndex).Delete(indexKey(pairing, k[0], k[1])); err != nil {
			return err
		}
	}
	rej := tx.Bucket(bucketRejected)
	var gone [][]byte
	err := rej.ForEach(func(k, v []byte) error {
		var e rejectedEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("rejected entry: %w", err)
		}
		if e.Write.Pairing == pairing {
			gone = append(gone, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range gone {
		if err := rej.Delete(k); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketCursor).Delete([]byte(pairing)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketResync).Delete([]byte(pairing)); err != nil {
		return err
	}
	if err := dropHeld(tx, pairing); err != nil {
		return err
	}
	// The pairing's own record lives in the directory scope; the server
	// stops sending it once the user may not see the pairing.
	if err := tx.Bucket(bucketBase).Delete(recKey(directoryPairing, pairing)); err != nil {
		return err
	}
	return tx.Bucket(bucketIndex).Delete(indexKey(directoryScope, directoryPairing, pairing))
}
