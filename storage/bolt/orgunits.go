package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"time"

	"github.com/pairsync/pairsync/storage"
	bbolt "go.etcd.io/bbolt"
)

var _ storage.OrgUnits = (*DB)(nil)

// orgUnitDoc is a storage.OrgUnit as stored (JSON) in the org_units bucket.
// SLADays has no omitempty: nil (inherit) and an empty map stay apart.
type orgUnitDoc struct {
	ID        string         `json:"id"`
	ParentID  string         `json:"parent_id,omitempty"`
	Name      string         `json:"name"`
	Kind      string         `json:"kind,omitempty"`
	Path      string         `json:"path"`
	SLADays   map[string]int `json:"sla_days"`
	Robots    *robotsDoc     `json:"robots,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
	Rev       uint64         `json:"rev"`
}

// robotsDoc is storage.Robots as stored (absent when none).
type robotsDoc struct {
	WeComURL       string `json:"wecom_url,omitempty"`
	DingTalkURL    string `json:"dingtalk_url,omitempty"`
	DingTalkSecret string `json:"dingtalk_secret,omitempty"`
}

func toRobotsDoc(r storage.Robots) *robotsDoc {
	if r == (storage.Robots{}) {
		return nil
	}
	return &robotsDoc{WeComURL: r.WeComURL, DingTalkURL: r.DingTalkURL, DingTalkSecret: r.DingTalkSecret}
}

func (r *robotsDoc) robots() storage.Robots {
	if r == nil {
		return storage.Robots{}
	}
	return storage.Robots{WeComURL: r.WeComURL, DingTalkURL: r.DingTalkURL, DingTalkSecret: r.DingTalkSecret}
}

func toOrgUnitDoc(u storage.OrgUnit) orgUnitDoc {
	return orgUnitDoc{
		ID: u.ID, ParentID: u.ParentID, Name: u.Name, Kind: u.Kind, Path: u.Path, Robots: toRobotsDoc(u.Robots),
		SLADays: maps.Clone(u.SLADays), CreatedAt: millis(u.CreatedAt), UpdatedAt: millis(u.UpdatedAt), Rev: u.Rev,
	}
}

// orgUnit returns the unit with a map of its own.
func (d orgUnitDoc) orgUnit() storage.OrgUnit {
	return storage.OrgUnit{
		ID: d.ID, ParentID: d.ParentID, Name: d.Name, Kind: d.Kind, Path: d.Path, Robots: d.Robots.robots(),
		SLADays: maps.Clone(d.SLADays), CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, Rev: d.Rev,
	}
}

// millis is how every stored time is kept: UTC, millisecond precision. The
// zero time stays zero.
func millis(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// CreateOrgUnit stores a new unit with Rev 1 under its parent (a root when
// ParentID is empty) and returns it with Path set: the parent's Path
// followed by ID and "/" ("/" + ID + "/" for a root). A zero CreatedAt
// becomes now, a zero UpdatedAt becomes CreatedAt. storage.ErrNotFound for
// an unknown parent, storage.ErrExists for a taken ID, storage.ErrInvalid
// for an empty Name or an ID that is empty, over 1 KiB or holds a "/".
func (db *DB) CreateOrgUnit(ctx context.Context, u storage.OrgUnit) (storage.OrgUnit, error) {
	if err := storage.CheckOrgUnit(u); err != nil {
		return storage.OrgUnit{}, fmt.Errorf("bolt: create org unit %s: %w", u.ID, err)
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now()
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	u.Rev = 1
	var doc orgUnitDoc
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		units, byPath := tx.Bucket(bucketOrgUnits), tx.Bucket(bucketOrgUnitsByPath)
		if units.Get([]byte(u.ID)) != nil {
			return fmt.Errorf("id taken: %w", storage.ErrExists)
		}
		u.Path = "/"
		if u.ParentID != "" {
			var parent orgUnitDoc
			if err := getJSON(units, u.ParentID, &parent); err != nil {
				return fmt.Errorf("parent %s: %w", u.ParentID, err)
			}
			u.Path = parent.Path
		}
		u.Path += u.ID + "/"
		if len(u.Path) > bbolt.MaxKeySize {
			return fmt.Errorf("path longer than %d bytes: %w", bbolt.MaxKeySize, storage.ErrInvalid)
		}
		// Paths are unique: a path spells the ids from the root down, and
		// ids are unique and hold no "/".
		if err := byPath.Put([]byte(u.Path), []byte(u.ID)); err != nil {
			return err
		}
		doc = toOrgUnitDoc(u)
		if err := putJSON(units, u.ID, doc); err != nil {
			return err
		}
		return bumpOrgUnitsVersion(tx)
	})
	if err != nil {
		return storage.OrgUnit{}, fmt.Errorf("bolt: create org unit %s: %w", u.ID, err)
	}
	return doc.orgUnit(), nil
}

// OrgUnit returns a unit by id, or storage.ErrNotFound.
func (db *DB) OrgUnit(ctx context.Context, id string) (storage.OrgUnit, error) {
	var doc orgUnitDoc
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(tx.Bucket(bucketOrgUnits), id, &doc)
	})
	if err != nil {
		return storage.OrgUnit{}, fmt.Errorf("bolt: org unit %s: %w", id, err)
	}
	return doc.orgUnit(), nil
}

// UpdateOrgUnit replaces Name, Kind and SLADays of the unit with u.ID if
// its stored Rev equals u.Rev, and returns it with Rev+1 and UpdatedAt now.
// ParentID, Path and CreatedAt keep their stored values whatever u holds.
// storage.ErrNotFound, storage.ErrConflict (Rev changed), storage.ErrInvalid
// (empty Name); nothing is written on error.
func (db *DB) UpdateOrgUnit(ctx context.Context, u storage.OrgUnit) (storage.OrgUnit, error) {
	if err := storage.CheckOrgUnit(u); err != nil {
		return storage.OrgUnit{}, fmt.Errorf("bolt: update org unit %s: %w", u.ID, err)
	}
	var doc orgUnitDoc
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		units := tx.Bucket(bucketOrgUnits)
		if err := getJSON(units, u.ID, &doc); err != nil {
			return err
		}
		if doc.Rev != u.Rev {
			return fmt.Errorf("rev %d, stored %d: %w", u.Rev, doc.Rev, storage.ErrConflict)
		}
		doc.Name, doc.Kind, doc.SLADays, doc.Robots = u.Name, u.Kind, maps.Clone(u.SLADays), toRobotsDoc(u.Robots)
		doc.UpdatedAt = now()
		doc.Rev++
		if err := putJSON(units, u.ID, doc); err != nil {
			return err
		}
		return bumpOrgUnitsVersion(tx)
	})
	if err != nil {
		return storage.OrgUnit{}, fmt.Errorf("bolt: update org unit %s: %w", u.ID, err)
	}
	return doc.orgUnit(), nil
}

// OrgUnits lists the units whose Path starts with pathPrefix ("" lists
// all), ordered by Path (byte order), with one seek into the path index.
// The prefix is a plain string prefix: "/a" matches "/a/" and "/ab/"; pass
// a unit's Path to list its subtree.
func (db *DB) OrgUnits(ctx context.Context, pathPrefix string) ([]storage.OrgUnit, error) {
	var out []storage.OrgUnit
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		units := tx.Bucket(bucketOrgUnits)
		prefix := []byte(pathPrefix)
		c := tx.Bucket(bucketOrgUnitsByPath).Cursor()
		for k, id := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, id = c.Next() {
			var doc orgUnitDoc
			if err := getJSON(units, string(id), &doc); err != nil {
				return fmt.Errorf("index path %q: %w", k, err)
			}
			out = append(out, doc.orgUnit())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: org units %q: %w", pathPrefix, err)
	}
	return out, nil
}

// bumpOrgUnitsVersion counts one org-unit write, in the write's own
// transaction.
func bumpOrgUnitsVersion(tx *bbolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	var v uint64
	if raw := meta.Get(keyOrgUnitsVersion); len(raw) == 8 {
		v = binary.BigEndian.Uint64(raw)
	}
	return meta.Put(keyOrgUnitsVersion, u64(v+1))
}

// OrgUnitsVersion returns the number of org-unit writes committed (0 for a
// file without any).
func (db *DB) OrgUnitsVersion(ctx context.Context) (uint64, error) {
	var v uint64
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		if raw := tx.Bucket(bucketMeta).Get(keyOrgUnitsVersion); len(raw) == 8 {
			v = binary.BigEndian.Uint64(raw)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: org units version: %w", err)
	}
	return v, nil
}
