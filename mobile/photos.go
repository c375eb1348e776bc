package mobile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // width and height of JPEG photos
	_ "image/png"  // and of PNG ones
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pairsync/pairsync/syncproto"
)

// The photo queue. AddPhoto keeps a photo's bytes in Config.PhotoDir under
// its SHA-256 and returns its manifest entry; the app cites it in a record
// (a visit's "photos", a milestone's "evidence", an issue event's
// "evidence" hashes). Photos go after the records, on their own channel
// (README "Photos"): once the server has accepted a record citing a photo
// (the record's base cites it), Sync uploads it — POST uploads, PUT each
// part the server lacks, POST done — and deletes the local copy only when
// the server says stored. Everything the server holds survives a cut: the
// next attempt asks again which parts are missing and sends only those.

// maxPhotoBytes bounds a photo the engine takes (the largest size a
// manifest may declare; the server's own limit is usually lower, and a
// photo over it comes back refused).
const maxPhotoBytes = 64 << 20

// Photo is a photo's manifest entry, what a record cites: its JSON is
// {"sha256","size","type","width","height","taken_at","lat","lng"}
// (README "Photos"). Fields are plain types for native bindings.
type Photo struct {
	SHA256 string // lowercase hex
	Size   int64
	Type   string // image/jpeg, image/png or image/webp
	Width  int    // 0 when unknown (WebP)
	Height int
	// TakenAt is when the photo was taken, RFC 3339 ("" when unknown);
	// set it on the returned Photo before citing it.
	TakenAt string
	// HasLocation says Lat and Lng hold where the photo was taken.
	HasLocation bool
	Lat, Lng    float64
}

type manifestEntry struct {
	SHA256  string   `json:"sha256"`
	Size    int64    `json:"size"`
	Type    string   `json:"type"`
	Width   int      `json:"width,omitempty"`
	Height  int      `json:"height,omitempty"`
	TakenAt string   `json:"taken_at,omitempty"`
	Lat     *float64 `json:"lat,omitempty"`
	Lng     *float64 `json:"lng,omitempty"`
}

// MarshalJSON encodes the manifest entry.
func (p Photo) MarshalJSON() ([]byte, error) {
	m := manifestEntry{SHA256: p.SHA256, Size: p.Size, Type: p.Type, Width: p.Width, Height: p.Height, TakenAt: p.TakenAt}
	if p.HasLocation {
		m.Lat, m.Lng = &p.Lat, &p.Lng
	}
	return json.Marshal(m)
}

// UnmarshalJSON decodes a manifest entry.
func (p *Photo) UnmarshalJSON(b []byte) error {
	var m manifestEntry
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*p = Photo{SHA256: m.SHA256, Size: m.Size, Type: m.Type, Width: m.Width, Height: m.Height, TakenAt: m.TakenAt}
	if m.Lat != nil && m.Lng != nil {
		p.HasLocation, p.Lat, p.Lng = true, *m.Lat, *m.Lng
	}
	return nil
}

// Manifest encodes photos as the value of a manifest field ("photos",
// a milestone's "evidence").
func Manifest(photos ...Photo) json.RawMessage {
	if photos == nil {
		photos = []Photo{}
	}
	b, _ := json.Marshal(photos)
	return b
}

// PhotoState is where a queued photo stands.
type PhotoState = string

// The states of a queued photo.
const (
	// PhotoWaitingRecord: no record the server has accepted cites the
	// photo yet (push the record; a rejected record holds its photos).
	PhotoWaitingRecord PhotoState = "waiting_record"
	// PhotoQueued: the next Sync uploads it.
	PhotoQueued PhotoState = "queued"
	// PhotoWaitingWiFi: Config.WiFiOnly and not on Wi-Fi.
	PhotoWaitingWiFi PhotoState = "waiting_wifi"
	// PhotoRetrying: the last attempt failed (network, server busy); the
	// next Sync resumes with the parts the server lacks.
	PhotoRetrying PhotoState = "retrying"
	// PhotoRefused: the server refused the photo (Code, Message): it is
	// kept, and not sent again until RetryPhoto (or DiscardPhoto).
	PhotoRefused PhotoState = "refused"
	// PhotoLost: the local copy is missing or no longer hashes to its
	// SHA-256; only DiscardPhoto helps.
	PhotoLost PhotoState = "lost"
)

// PendingPhoto is a photo still on the phone, with where it stands.
type PendingPhoto struct {
	SHA256 string
	Size   int64
	Type   string
	State  PhotoState
	// SentBytes is what the server held of it at the last answer.
	SentBytes int64
	// Attempts counts the failed attempts since it was queued.
	Attempts int
	// Status, Code and Message are the server's answer for a refused
	// photo, or the last error of one retrying (Status 0: the network).
	Status  int
	Code    string
	Message string
	// CitedBy is a record citing it, "collection/id" ("" while none the
	// server accepted does).
	CitedBy string
	Added   time.Time
}

// photoEntry is a queued photo, in bucket photos under its hex SHA-256.
type photoEntry struct {
	Size   int64     `json:"size"`
	Type   string    `json:"type"`
	Width  int       `json:"width,omitempty"`
	Height int       `json:"height,omitempty"`
	Added  time.Time `json:"added"`
	// Cited lists records ("collection/id") whose base cited the photo
	// when it was stored: a hint, read again before uploading.
	Cited    []string      `json:"cited,omitempty"`
	Refused  *photoProblem `json:"refused,omitempty"`
	Lost     string        `json:"lost,omitempty"`
	Sent     int64         `json:"sent,omitempty"`
	Attempts int           `json:"attempts,omitempty"`
	Last     *photoProblem `json:"last_error,omitempty"`
}

type photoProblem struct {
	Status  int       `json:"status,omitempty"`
	Code    string    `json:"code,omitempty"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

func getPhoto(tx *bolt.Tx, sum string) (photoEntry, bool, error) {
	v := tx.Bucket(bucketPhotos).Get([]byte(sum))
	if v == nil {
		return photoEntry{}, false, nil
	}
	var pe photoEntry
	if err := json.Unmarshal(v, &pe); err != nil {
		return photoEntry{}, false, fmt.Errorf("photo %s: %w", sum, err)
	}
	return pe, true, nil
}

func putPhoto(tx *bolt.Tx, sum string, pe photoEntry) error {
	b, err := json.Marshal(pe)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketPhotos).Put([]byte(sum), b)
}

// photoFields are the fields that cite photos (as the server's ledger
// reads them): manifests [{"sha256": …}] or hash lists ["…"].
var photoFields = []string{"photos", "evidence"}

// citedPhotos returns the hashes a record cites.
func citedPhotos(r syncproto.Record) []string {
	var out []string
	for _, f := range photoFields {
		v := r.Value(f)
		if len(v) == 0 {
			continue
		}
		if sums, ok := skimCited(v, out); ok {
			out = sums
			continue
		}
		out = citedSlow(v, out)
	}
	return out
}

// citedSlow is citedPhotos for one value, through encoding/json.
func citedSlow(v []byte, out []string) []string {
	{
		var manifest []struct {
			SHA256 string `json:"sha256"`
		}
		if json.Unmarshal(v, &manifest) == nil {
			for _, p := range manifest {
				out = append(out, p.SHA256)
			}
			return out
		}
		var sums []string
		if json.Unmarshal(v, &sums) == nil {
			out = append(out, sums...)
		}
	}
	return out
}

// skimCited reads the hashes of v, a manifest [{"sha256": …, …}] or a
// list of hashes ["…"], without encoding/json (a visit's base is written
// at every push and pull: it was a tenth of the phone's CPU in the push),
// appending them to out. It reads only what it reads exactly as
// citedSlow does (a manifest of objects whose keys and hashes are plain
// strings, a list of plain strings) and says false for anything else.
func skimCited(v []byte, out []string) ([]string, bool) {
	list := false // a list of hashes, decided by the first entry
	first := true
	ok := syncproto.EachElement(v, func(entry []byte) bool {
		if first {
			list, first = entry[0] == '"', false
		}
		if list {
			s, j, ok := syncproto.SkimPlainString(entry, 0)
			if !ok || j != len(entry) || !syncproto.PlainText(s) {
				return false
			}
			out = append(out, string(s))
			return true
		}
		sum := ""
		ok := syncproto.EachMember(entry, func(k, val []byte) bool {
			switch {
			case string(k) == "sha256":
				s, _, ok := syncproto.SkimPlainString(val, 0)
				if !ok || !syncproto.PlainText(s) {
					return false
				}
				sum = string(s)
			case strings.EqualFold(string(k), "sha256"):
				return false // encoding/json matches keys without case
			}
			return true
		})
		out = append(out, sum)
		return ok
	})
	if !ok {
		return nil, false
	}
	return out, true
}

// notePhotoCites marks the queued photos a record's base cites as ready to
// go (called by putBase: the server has accepted, or sent, the record).
func notePhotoCites(tx *bolt.Tx, r syncproto.Record) error {
	sums := citedPhotos(r)
	if len(sums) == 0 {
		return nil
	}
	key := r.Collection + "/" + r.ID
	for _, sum := range sums {
		pe, ok, err := getPhoto(tx, sum)
		if err != nil || !ok || slices.Contains(pe.Cited, key) {
			if err != nil {
				return err
			}
			continue
		}
		pe.Cited = append(pe.Cited, key)
		if err := putPhoto(tx, sum, pe); err != nil {
			return err
		}
	}
	return nil
}

// citedBy returns the first record of the hint whose base still cites the
// photo ("" when none does).
func citedBy(tx *bolt.Tx, sum string, pe photoEntry) (string, error) {
	for _, key := range pe.Cited {
		coll, id, _ := strings.Cut(key, "/")
		base, err := getBase(tx, coll, id)
		if err != nil {
			return "", err
		}
		if slices.Contains(citedPhotos(base), sum) {
			return key, nil
		}
	}
	return "", nil
}

// sniffType returns the image type of a photo's bytes ("" when it is not
// an image).
func sniffType(data []byte) string {
	t := http.DetectContentType(data)
	if strings.HasPrefix(t, "image/") {
		return t
	}
	return ""
}

// AddPhoto keeps a photo on the phone until the server has it and returns
// its manifest entry, to cite in a record. typ is its type (image/jpeg,
// image/png or image/webp); "" takes the type the bytes show. The declared
// type is sent as is: the server checks it against the bytes and refuses a
// mismatch (the photo then shows as refused). Width and height are read
// from JPEG and PNG headers. Adding a photo twice keeps one copy.
//
// It works offline, once signed in. Add photos before writing the record
// that cites them.
func (e *Engine) AddPhoto(data []byte, typ string) (Photo, error) {
	if len(data) == 0 {
		return Photo{}, errors.New("mobile: add photo: no bytes")
	}
	if len(data) > maxPhotoBytes {
		return Photo{}, fmt.Errorf("mobile: add photo: %d bytes; at most %d", len(data), maxPhotoBytes)
	}
	sniffed := sniffType(data)
	if sniffed == "" {
		return Photo{}, errors.New("mobile: add photo: the bytes are not an image")
	}
	if typ == "" {
		typ = sniffed
	}
	var w, h int
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
		w, h = cfg.Width, cfg.Height
	} else if sniffed == "image/jpeg" || sniffed == "image/png" {
		return Photo{}, fmt.Errorf("mobile: add photo: the %s header cannot be read: %w", sniffed, err)
	}
	raw := sha256.Sum256(data)
	sum := hex.EncodeToString(raw[:])
	e.photoMu.Lock()
	defer e.photoMu.Unlock()
	rewrite := true // no entry, or its copy is lost: write the file
	err := e.db.View(func(tx *bolt.Tx) error {
		if _, ok, err := loadWriter(tx); err != nil {
			return err
		} else if !ok {
			return ErrNotSignedIn
		}
		pe, ok, err := getPhoto(tx, sum)
		rewrite = !ok || pe.Lost != ""
		return err
	})
	if err != nil {
		return Photo{}, fmt.Errorf("mobile: add photo: %w", dbErr(err))
	}
	if err := e.writePhotoFile(sum, data, rewrite); err != nil {
		return Photo{}, fmt.Errorf("mobile: add photo: %w", err)
	}
	p := Photo{SHA256: sum, Size: int64(len(data)), Type: typ, Width: w, Height: h}
	err = e.db.Update(func(tx *bolt.Tx) error {
		pe, ok, err := getPhoto(tx, sum)
		if err != nil {
			return err
		}
		if ok {
			p.Type = pe.Type
			if pe.Lost != "" { // the copy is back
				pe.Lost, pe.Attempts, pe.Last = "", 0, nil
				return putPhoto(tx, sum, pe)
			}
			return nil
		}
		pe = photoEntry{Size: p.Size, Type: typ, Width: w, Height: h, Added: e.now().UTC()}
		// A record the server has accepted may cite it already (the photo
		// was added again after its copy went): find it.
		err = tx.Bucket(bucketBase).ForEach(func(k, v []byte) error {
			if !bytes.Contains(v, []byte(sum)) {
				return nil
			}
			var r syncproto.Record
			if r.UnmarshalJSON(v) == nil && slices.Contains(citedPhotos(r), sum) {
				pe.Cited = append(pe.Cited, r.Collection+"/"+r.ID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return putPhoto(tx, sum, pe)
	})
	if err != nil {
		return Photo{}, fmt.Errorf("mobile: add photo: %w", dbErr(err))
	}
	return p, nil
}

// AddPhotoFile is AddPhoto with the bytes of a file.
func (e *Engine) AddPhotoFile(path, typ string) (Photo, error) {
	f, err := os.Open(path)
	if err != nil {
		return Photo{}, fmt.Errorf("mobile: add photo: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPhotoBytes+1))
	if err != nil {
		return Photo{}, fmt.Errorf("mobile: add photo %s: %w", path, err)
	}
	return e.AddPhoto(data, typ)
}

func (e *Engine) photoPath(sum string) string { return filepath.Join(e.photos, sum) }

// writePhotoFile stores the bytes under their hash, whole or not at all:
// a temporary file, synced, renamed into place.
// A file of the right size is kept unless rewrite is set.
func (e *Engine) writePhotoFile(sum string, data []byte, rewrite bool) error {
	path := e.photoPath(sum)
	if fi, err := os.Stat(path); err == nil && fi.Size() == int64(len(data)) && !rewrite {
		return nil
	}
	f, err := os.CreateTemp(e.photos, ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

// cleanPhotoDir removes what a crash may have left in the photo folder:
// temporary files, and copies of photos no longer queued (the server
// stored them; the entry went first). Called by Open, before anyone adds a
// photo.
func (e *Engine) cleanPhotoDir() {
	ents, err := os.ReadDir(e.photos)
	if err != nil {
		return
	}
	_ = e.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPhotos)
		for _, de := range ents {
			name := de.Name()
			if strings.HasPrefix(name, ".tmp-") || len(name) == 64 && b.Get([]byte(name)) == nil {
				_ = os.Remove(filepath.Join(e.photos, name))
			}
		}
		return nil
	})
}

// photoStored forgets a photo the server has stored: its entry, then its
// local copy (a crash between the two leaves a file Open removes).
func (e *Engine) photoStored(sum string) error {
	e.photoMu.Lock()
	defer e.photoMu.Unlock()
	err := e.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPhotos).Delete([]byte(sum)) })
	if err != nil {
		return dbErr(err)
	}
	if err := os.Remove(e.photoPath(sum)); err != nil && !errors.Is(err, os.ErrNotExist) {
		e.log.Warn("stored photo's local copy not removed", "sha256", sum, "err", err)
	}
	return nil
}

// removePhotoFiles empties the photo folder (Reset, a revoked device).
func (e *Engine) removePhotoFiles() error {
	ents, err := os.ReadDir(e.photos)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, de := range ents {
		if err := os.Remove(filepath.Join(e.photos, de.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// onWiFi reports whether photos may go now.
func (e *Engine) onWiFi() bool {
	if !e.cfg.WiFiOnly {
		return true
	}
	return e.cfg.OnWiFi != nil && e.cfg.OnWiFi()
}

// PendingPhotos lists the photos still on the phone (every one not yet
// stored by the server), oldest first, with where each stands.
func (e *Engine) PendingPhotos() []PendingPhoto {
	var out []PendingPhoto
	wifi := e.onWiFi()
	_ = e.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPhotos).ForEach(func(k, v []byte) error {
			var pe photoEntry
			if json.Unmarshal(v, &pe) != nil {
				return nil
			}
			sum := string(k)
			pp := PendingPhoto{SHA256: sum, Size: pe.Size, Type: pe.Type, SentBytes: pe.Sent, Attempts: pe.Attempts, Added: pe.Added}
			pp.CitedBy, _ = citedBy(tx, sum, pe)
			switch {
			case pe.Lost != "":
				pp.State, pp.Message = PhotoLost, pe.Lost
			case pe.Refused != nil:
				pp.State = PhotoRefused
				pp.Status, pp.Code, pp.Message = pe.Refused.Status, pe.Refused.Code, pe.Refused.Message
			case pp.CitedBy == "":
				pp.State = PhotoWaitingRecord
			case !wifi:
				pp.State = PhotoWaitingWiFi
			case pe.Last != nil:
				pp.State = PhotoRetrying
			default:
				pp.State = PhotoQueued
			}
			if pe.Last != nil && pp.Message == "" {
				pp.Status, pp.Code, pp.Message = pe.Last.Status, pe.Last.Code, pe.Last.Message
			}
			out = append(out, pp)
			return nil
		})
	})
	slices.SortStableFunc(out, func(a, b PendingPhoto) int { return a.Added.Compare(b.Added) })
	return out
}

// LocalPhoto returns the path of a photo's local copy, "" when the phone
// holds none (never added, or stored by the server and deleted here).
func (e *Engine) LocalPhoto(sha256 string) string {
	ok := false
	_ = e.db.View(func(tx *bolt.Tx) error {
		_, ok, _ = getPhoto(tx, sha256)
		return nil
	})
	if !ok {
		return ""
	}
	if _, err := os.Stat(e.photoPath(sha256)); err != nil {
		return ""
	}
	return e.photoPath(sha256)
}

// RetryPhoto queues a refused photo again (after the record citing it was
// corrected, say); the next Sync sends it.
func (e *Engine) RetryPhoto(sha256 string) error {
	err := e.db.Update(func(tx *bolt.Tx) error {
		pe, ok, err := getPhoto(tx, sha256)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		pe.Refused, pe.Attempts, pe.Last = nil, 0, nil
		return putPhoto(tx, sha256, pe)
	})
	if err != nil {
		return fmt.Errorf("mobile: retry photo %s: %w", sha256, dbErr(err))
	}
	return nil
}

// DiscardPhoto forgets a queued photo and deletes its local copy: it will
// not be uploaded (records citing it then lack it).
func (e *Engine) DiscardPhoto(sha256 string) error {
	e.photoMu.Lock()
	defer e.photoMu.Unlock()
	err := e.db.Update(func(tx *bolt.Tx) error {
		if _, ok, err := getPhoto(tx, sha256); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		return tx.Bucket(bucketPhotos).Delete([]byte(sha256))
	})
	if err != nil {
		return fmt.Errorf("mobile: discard photo %s: %w", sha256, dbErr(err))
	}
	if err := os.Remove(e.photoPath(sha256)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("mobile: discard photo %s: %w", sha256, err)
	}
	return nil
}
