package servertest

import (
	"encoding/json"
	"errors"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// DirSet writes fields (Go values) of the directory record coll/id, as
// Directory.Set.
func (w *World) DirSet(coll, id string, fields map[string]any) {
	w.TB.Helper()
	w.dir.Set(w.TB, coll, id, fields)
}

// Record returns the server's version of a record.
func (w *World) Record(coll, id string) (syncproto.Record, bool) {
	w.TB.Helper()
	sr, err := w.Store.Get(w.TB.Context(), storage.Key{Collection: coll, ID: id})
	if errors.Is(err, storage.ErrNotFound) {
		return syncproto.Record{}, false
	}
	if err != nil {
		w.TB.Fatal(err)
	}
	r, err := syncproto.DecodeRecord(sr.Data, syncproto.Limits{})
	if err != nil {
		w.TB.Fatal(err)
	}
	return r, true
}

// Records returns the server's current version of every record of a
// pairing, encoded, by collection/id.
func (w *World) Records(pairing string) map[string][]byte {
	w.TB.Helper()
	out := map[string][]byte{}
	var after uint64
	for {
		page, err := w.Store.Changes(w.TB.Context(), pairing, after, storage.PageLimit{})
		if err != nil {
			w.TB.Fatal(err)
		}
		for _, r := range page.Records {
			out[r.Collection+"/"+r.ID] = r.Data
		}
		after = page.Next
		if !page.More {
			return out
		}
	}
}

// Head is a pairing's last committed sequence number.
func (w *World) Head(pairing string) uint64 {
	w.TB.Helper()
	h, err := w.Store.Head(w.TB.Context(), pairing)
	if err != nil {
		w.TB.Fatal(err)
	}
	return h
}

// Receipt returns the server's stored answer to a device's change.
func (w *World) Receipt(device string, counter uint64) (syncproto.Result, bool) {
	w.TB.Helper()
	b, err := w.Store.Receipt(w.TB.Context(), device, counter)
	if errors.Is(err, storage.ErrNotFound) {
		return syncproto.Result{}, false
	}
	if err != nil {
		w.TB.Fatal(err)
	}
	var r syncproto.Result
	if err := json.Unmarshal(b, &r); err != nil {
		w.TB.Fatal(err)
	}
	return r, true
}
