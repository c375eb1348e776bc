package mobile

// Phase is the step a Sync is in.
type Phase = string

// The phases of a Sync, in order (uploads happen again before a purge).
const (
	PhaseUpload  Phase = "upload"  // pushing the outbox
	PhaseRecords Phase = "records" // pulling record versions
	PhasePhotos  Phase = "photos"  // uploading the photos accepted records cite
	PhaseDone    Phase = "done"
)

// Progress tells what a Sync did, and, through Config.OnProgress, how far
// it has come.
type Progress struct {
	Phase Phase
	// Upload: changes pushed and answered (applied, merged, duplicate or
	// rejected), of UploadTotal (the outbox at the start, plus writes made
	// while syncing).
	UploadTotal int
	UploadDone  int
	// Rejected counts the changes the server refused in this Sync (see
	// Engine.Rejected for the reasons).
	Rejected int
	// Records: versions pulled, of RecordsTotal, an estimate from the
	// pairings' sequences (a record changed twice arrives once), known
	// once the first page says more is waiting; at the end it equals
	// RecordsDone.
	RecordsTotal int
	RecordsDone  int
	// Pairings holds, after the pull, how far each pairing is caught up.
	Pairings []PairingProgress
	// Resynced lists pairings read again from the start (the server's
	// tombstone horizon passed the cursor); Purged those dropped because
	// the user may no longer see them (after pushing what was pending).
	Resynced []string
	Purged   []string
	// Wiped: the device was revoked and its local data wiped; Discarded
	// pending writes could not be pushed before.
	Wiped     bool
	Discarded int

	// Photos: photos stored by the server in this Sync, of PhotosTotal
	// (those ready to go at the start of the photo phase: a record the
	// server accepted cites them); bytes the server holds of them, of
	// PhotoBytesTotal (parts sent before a cut count as held).
	PhotosTotal     int
	PhotosDone      int
	PhotoBytesTotal int64
	PhotoBytesDone  int64
	// PhotosRefused counts the queued photos the server refused (or whose
	// local copy is lost): see Engine.PendingPhotos for the reasons.
	PhotosRefused int
	// PhotosWaiting counts the queued photos held back: no accepted record
	// cites them yet, not on Wi-Fi (Config.WiFiOnly), or the network failed
	// before their turn.
	PhotosWaiting int
}

// PairingProgress is "caught up to sequence Seq" for one pairing (or the
// directory scope, "_directory").
type PairingProgress struct {
	Pairing string
	// Seq is the last sequence received.
	Seq uint64
	// Head is the pairing's sequence on the server when the pull began
	// (GET /v1/sync/scopes, asked only when the pull took more than one
	// page), or Seq when the pull read the pairing to its end in one page
	// or the server did not list it (the directory scope).
	Head uint64
}

// CaughtUp reports whether everything committed before the pull began has
// been received.
func (p PairingProgress) CaughtUp() bool { return p.Seq >= p.Head }
