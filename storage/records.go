package storage

import "context"

// Key names a record: its collection ("visits", "issue_events", …) and its
// client-generated id (UUIDv7 or ULID). Keys are unique across pairings; a
// record belongs to one pairing for its whole life.
type Key struct {
	Collection string
	ID         string
}

// Record is one stored record version.
type Record struct {
	Key
	// Pairing is the scope the record lives in; set by the first commit and
	// never changed (a put naming another pairing gets ErrConflict).
	Pairing string
	// Seq is the pairing sequence number at which this version was committed.
	// It is also the record's version for compare-and-set.
	Seq uint64
	// Data is the encoded record version (syncproto JSON).
	Data []byte
}

// Put writes one record version in a Batch.
type Put struct {
	Key
	// Expect is the Seq of the version the writer read and merged with, or 0
	// when the record must not exist yet. A mismatch fails the whole batch
	// with ErrConflict.
	Expect uint64
	Data   []byte
}

// Receipt is the answer the server gave to one pushed change, kept so that a
// retried or duplicated push gets the same answer and changes nothing.
// (Replica, Counter) is the idempotency key: a receipt is written once.
type Receipt struct {
	Replica string
	Counter uint64
	Answer  []byte
	// Acked is the lowest counter of the push that carried the change (0:
	// unknown). A device sends its outbox in counter order and drops an
	// entry only once it has the answer, so the lowest counter of a push
	// says it holds the answers of every change below: their receipts are
	// no longer needed (PruneReceipts).
	Acked uint64
}

// Batch is one atomic commit into one pairing. Puts each take the next
// sequence number, in order. Receipts are written in the same transaction; a
// batch may hold receipts only (rejected changes), and then Pairing may be
// empty and no sequence advances.
type Batch struct {
	Pairing  string
	Puts     []Put
	Receipts []Receipt
	// ExpectHead, when set, makes the commit conditional on the pairing's
	// sequence being exactly *ExpectHead (ErrConflict otherwise). Puts then
	// take *ExpectHead+1, +2, … — a writer that must record the sequences
	// in its receipts knows them before it commits.
	ExpectHead *uint64
	// Notifications are written to the outbox in the same transaction,
	// pending and due at their NextAt (CreatedAt when zero). One whose ID
	// is already stored, or earlier in the batch, is left as it is: not an
	// error. ErrInvalid for an empty ID, Channel or Recipient.
	Notifications []Notification
}

// Committed reports a successful commit.
type Committed struct {
	// Seqs holds the sequence number given to each put, in the order of
	// Batch.Puts.
	Seqs []uint64
	// Head is the pairing's sequence after the commit.
	Head uint64
}

// PageLimit bounds one page of changes. Bytes counts len(Data) of the
// records on the page (inclusive limit); a page is filled as far as both
// limits allow, and always holds at least one record when there is one to
// return, even if that record alone is over Bytes. Zero values mean the
// adapter's defaults (500 records, 1 MiB).
type PageLimit struct {
	Records int
	Bytes   int
}

// Page is one page of a pairing's changes feed.
type Page struct {
	// Records are the latest versions of records committed after the cursor,
	// in ascending Seq. A record changed several times appears once, at its
	// latest Seq.
	Records []Record
	// Next is the cursor for the following page: the Seq of the last record
	// returned, or the requested cursor when the page is empty.
	Next uint64
	// More reports whether records committed after Next existed when the page
	// was read.
	More bool
}

// Records stores record versions with a per-pairing, gap-free commit
// sequence. Implementations are safe for concurrent use. Returned slices
// belong to the caller.
type Records interface {
	// Get returns the current version of a record, or ErrNotFound.
	Get(ctx context.Context, key Key) (Record, error)
	// Commit writes a batch atomically and durably (fsync'd, or acknowledged
	// by a majority) before it returns. It returns ErrConflict, having
	// written nothing, when a put's Expect does not match, a put names a
	// pairing other than the record's, a receipt already exists, or the
	// pairing's head differs from ExpectHead; the
	// caller re-reads and retries. It returns ErrInvalid for a malformed
	// batch (puts without a pairing, an empty collection or id, the same key
	// or receipt twice). Sequence numbers advance in commit order:
	// once Commit returns, every Changes call sees this batch's puts after
	// every earlier committed put of the pairing.
	Commit(ctx context.Context, b Batch) (Committed, error)
	// Changes lists a pairing's changes committed after the cursor, one page
	// at a time. An unknown pairing yields an empty page.
	Changes(ctx context.Context, pairing string, after uint64, limit PageLimit) (Page, error)
	// Head returns a pairing's current sequence (0 for an unknown pairing).
	Head(ctx context.Context, pairing string) (uint64, error)
	// Purge deletes records of a pairing for good (tombstones past their
	// horizon), with their entries in the changes feed, if each is still at
	// the Seq given in its Record (ErrConflict, nothing deleted, otherwise),
	// and raises the pairing's horizon to the highest of those Seqs. Absent
	// records are skipped. The sequence does not advance.
	Purge(ctx context.Context, pairing string, records []Record) error
	// Horizon returns the highest sequence of a record purged from the
	// pairing (0 if none): a reader whose cursor is below it may hold a
	// record that no longer exists and must read the pairing again from 0.
	Horizon(ctx context.Context, pairing string) (uint64, error)
}

// Receipts finds the stored answer to an earlier pushed change.
type Receipts interface {
	// Receipt returns the answer stored for (replica, counter), or
	// ErrNotFound.
	Receipt(ctx context.Context, replica string, counter uint64) ([]byte, error)
	// ReceiptsOf returns the answers stored for many of a replica's
	// counters in one call, by counter: a push reads the receipts of all
	// its changes at once, not one Receipt per change (issues 19 and 20).
	// A counter without a receipt is absent from the map; a counter named
	// twice is answered once; no counters, an empty map. Each answer is
	// read as Receipt reads it; the slices belong to the caller.
	ReceiptsOf(ctx context.Context, replica string, counters []uint64) (map[uint64][]byte, error)
	// PrunedBelow returns the counter below which the replica's receipts
	// have been pruned (0 if never): a change below it without a receipt
	// was processed long ago and its answer dropped. (Not "the highest
	// counter receipted": receipts of one push may commit out of counter
	// order, so a lower counter without a receipt may still be unprocessed.)
	PrunedBelow(ctx context.Context, replica string) (uint64, error)
	// PruneReceipts deletes, for every replica, the receipts below the
	// highest Acked of its receipts; for a replica none of whose receipts
	// carries Acked (written before it existed), those more than keep
	// counters below its highest receipted counter. It raises the replica's
	// PrunedBelow accordingly and returns how many receipts it deleted.
	PruneReceipts(ctx context.Context, keep uint64) (int, error)
}

// HeadStamp is one pairing's head as the heads feed lists it.
type HeadStamp struct {
	Pairing string
	// Seq is the pairing's head (as Records.Head returns it).
	Seq uint64
	// Stamp is the store-wide commit stamp of the last commit that
	// advanced the pairing.
	Stamp uint64
}

// HeadsPage is one page of the heads feed.
type HeadsPage struct {
	// Heads are the pairings whose last advancing commit has a stamp after
	// the cursor, each once, in ascending Stamp.
	Heads []HeadStamp
	// Next is the cursor for the following page: the Stamp of the last
	// head returned, or the requested cursor when the page is empty.
	Next uint64
	// More reports whether further heads followed Next when the page was
	// read.
	More bool
	// Last is the store's highest stamp when the page was read: a reader
	// whose cursor is above it is reading another (restored or replaced)
	// store and must read every head again from 0.
	Last uint64
}

// HeadFeed lists the pairings whose head moved, in commit order: the
// catch-up of a process that keeps derived state per pairing (the ledger)
// costs O(pairings changed), not O(pairings). Every commit that advances a
// pairing takes the next store-wide stamp in its own transaction, so stamps
// follow commit order: once HeadsSince lists a head at stamp s, every
// commit of a lower stamp is visible too, and a reader that keeps Next as
// its cursor never misses one. Safe for concurrent use.
type HeadFeed interface {
	// HeadsSince returns the heads whose stamp is after the cursor, at
	// most limit of them (0: the adapter's default, 1000), in one round
	// trip when nothing changed.
	HeadsSince(ctx context.Context, after uint64, limit int) (HeadsPage, error)
}

// PairingHead is one pairing's head and horizon as HeadsOf reads them.
type PairingHead struct {
	Pairing string
	// Seq is the pairing's head (as Records.Head returns it).
	Seq uint64
	// Horizon is the highest purged sequence (as Records.Horizon returns
	// it); never above Seq.
	Horizon uint64
}

// HeadsOf reads the heads and horizons of many pairings in one call: a pull
// finds which of the caller's pairings have anything after its cursor, and
// whether any remain once its page is full, without a call per pairing
// (issue 19: a province administrator sees 7,000 pairings). Safe for
// concurrent use.
type HeadsOf interface {
	// HeadsOf returns the head and horizon of each pairing named, in the
	// order given (zeroes for an unknown pairing; a pairing named twice is
	// answered twice): each pair read together, as an ordinary read
	// (Records.Head; ConfirmedHeads confirms a surprise).
	HeadsOf(ctx context.Context, pairings []string) ([]PairingHead, error)
}

// GetMany reads many records in one call: a push reads every record its
// changes in a pairing touch at once, not one Get per change (issues 19
// and 20). Safe for concurrent use.
type GetMany interface {
	// GetMany returns the current versions of the records named, by key,
	// each as Get returns it: a key without a record is absent from the
	// map; a key named twice is answered once; no keys, an empty map.
	// ErrInvalid, nothing read, when a key has an empty collection or id.
	// An ordinary read, as Get's: not a snapshot the caller may commit
	// on without a compare-and-set (Put.Expect). Data belongs to the
	// caller.
	GetMany(ctx context.Context, keys []Key) (map[Key]Record, error)
}

// ConfirmedHeads reads a pairing's head as every acknowledged commit left
// it, even just after a failover, when an ordinary read (Records.Head) may
// come from a new primary that has not yet caught up with its majority
// commit point: a linearizable read on MongoDB; the ordinary read where
// one process owns the data (bolt). Slower than Head: for confirming a
// surprise (a device's cursor ahead of the head), not for every read.
// Returns an error wrapping ErrUnavailable when the head cannot be
// confirmed now (no primary, no majority). Safe for concurrent use.
type ConfirmedHeads interface {
	ConfirmedHead(ctx context.Context, pairing string) (uint64, error)
}
