package mongo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pairsync/pairsync/storage"
)

var _ storage.OrgUnits = (*DB)(nil)

// orgUnitDoc is a storage.OrgUnit in the org_units collection. SLADays is
// a list of (category, days) pairs, so that a category is never a field
// name; it has no omitempty: nil (null, inherit) and empty ([]) stay apart.
type orgUnitDoc struct {
	ID        string     `bson:"_id"`
	ParentID  string     `bson:"parent_id,omitempty"`
	Name      string     `bson:"name"`
	Kind      string     `bson:"kind,omitempty"`
	Path      string     `bson:"path"`
	SLADays   []slaDays  `bson:"sla_days"`
	Robots    *robotsDoc `bson:"robots,omitempty"`
	CreatedAt time.Time  `bson:"created_at"`
	UpdatedAt time.Time  `bson:"updated_at"`
	Rev       int64      `bson:"rev"`
}

// slaDays is one entry of an org unit's SLA overrides.
type slaDays struct {
	Category string `bson:"category"`
	Days     int    `bson:"days"`
}

func toSLADays(m map[string]int) []slaDays {
	if m == nil {
		return nil
	}
	out := make([]slaDays, 0, len(m))
	for c, n := range m {
		out = append(out, slaDays{c, n})
	}
	slices.SortFunc(out, func(a, b slaDays) int { return strings.Compare(a.Category, b.Category) })
	return out
}

// robotsDoc is storage.Robots as stored (absent when none).
type robotsDoc struct {
	WeComURL       string `bson:"wecom_url,omitempty"`
	DingTalkURL    string `bson:"dingtalk_url,omitempty"`
	DingTalkSecret string `bson:"dingtalk_secret,omitempty"`
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
		SLADays: toSLADays(u.SLADays), CreatedAt: millis(u.CreatedAt), UpdatedAt: millis(u.UpdatedAt), Rev: int64(u.Rev),
	}
}

// orgUnit returns the unit with a map of its own.
func (v orgUnitDoc) orgUnit() storage.OrgUnit {
	var sla map[string]int
	if v.SLADays != nil {
		sla = make(map[string]int, len(v.SLADays))
		for _, e := range v.SLADays {
			sla[e.Category] = e.Days
		}
	}
	return storage.OrgUnit{
		ID: v.ID, ParentID: v.ParentID, Name: v.Name, Kind: v.Kind, Path: v.Path, Robots: v.Robots.robots(),
		SLADays: sla, CreatedAt: utc(v.CreatedAt), UpdatedAt: utc(v.UpdatedAt), Rev: uint64(v.Rev),
	}
}

// CreateOrgUnit stores a new unit with Rev 1 under its parent (a root when
// ParentID is empty) and returns it with Path set: the parent's Path
// followed by ID and "/" ("/" + ID + "/" for a root). A zero CreatedAt
// becomes now, a zero UpdatedAt becomes CreatedAt. storage.ErrNotFound for
// an unknown parent, storage.ErrExists for a taken ID, storage.ErrInvalid
// for an empty Name or an ID that is empty, over 1 KiB or holds a "/".
// Units are never moved or deleted, so the parent's path read before the
// insert stays right.
func (db *DB) CreateOrgUnit(ctx context.Context, u storage.OrgUnit) (storage.OrgUnit, error) {
	if err := storage.CheckOrgUnit(u); err != nil {
		return storage.OrgUnit{}, fmt.Errorf("mongo: create org unit %s: %w", u.ID, err)
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now()
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	u.Rev = 1
	var doc orgUnitDoc
	err := db.run(ctx, func(ctx context.Context) error {
		u.Path = "/"
		if u.ParentID != "" {
			var parent orgUnitDoc
			err := found(db.orgUnits.FindOne(ctx, d("_id", u.ParentID), options.FindOne().SetProjection(d("path", 1))).Decode(&parent))
			if errors.Is(err, storage.ErrNotFound) {
				// A taken id is reported first, as storage/bolt does.
				n, cerr := db.orgUnits.CountDocuments(ctx, d("_id", u.ID), options.Count().SetLimit(1))
				if cerr != nil {
					return cerr
				}
				if n > 0 {
					return fmt.Errorf("id taken: %w", storage.ErrExists)
				}
			}
			if err != nil {
				return fmt.Errorf("parent %s: %w", u.ParentID, err)
			}
			u.Path = parent.Path
		}
		u.Path += u.ID + "/"
		doc = toOrgUnitDoc(u)
		_, err := db.orgUnits.InsertOne(ctx, doc)
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("id taken: %w", storage.ErrExists)
		}
		if err == nil {
			db.bumpOrgUnitsVersion(ctx)
		}
		return err
	})
	if err != nil {
		return storage.OrgUnit{}, fmt.Errorf("mongo: create org unit %s: %w", u.ID, err)
	}
	return doc.orgUnit(), nil
}

// OrgUnit returns a unit by id, or storage.ErrNotFound.
func (db *DB) OrgUnit(ctx context.Context, id string) (storage.OrgUnit, error) {
	return byID(ctx, db, db.orgUnits, "org unit", id, orgUnitDoc.orgUnit)
}

// UpdateOrgUnit replaces Name, Kind and SLADays of the unit with u.ID if
// its stored Rev equals u.Rev (one compare-and-set on (_id, rev)), and
// returns it with Rev+1 and UpdatedAt now. ParentID, Path and CreatedAt
// keep their stored values whatever u holds. storage.ErrNotFound,
// storage.ErrConflict (Rev changed), storage.ErrInvalid (empty Name);
// nothing is written on error.
func (db *DB) UpdateOrgUnit(ctx context.Context, u storage.OrgUnit) (storage.OrgUnit, error) {
	if err := storage.CheckOrgUnit(u); err != nil {
		return storage.OrgUnit{}, fmt.Errorf("mongo: update org unit %s: %w", u.ID, err)
	}
	var doc orgUnitDoc
	err := db.run(ctx, func(ctx context.Context) error {
		if err := found(db.orgUnits.FindOne(ctx, d("_id", u.ID)).Decode(&doc)); err != nil {
			return err
		}
		if uint64(doc.Rev) != u.Rev {
			return fmt.Errorf("rev %d, stored %d: %w", u.Rev, doc.Rev, storage.ErrConflict)
		}
		rev := doc.Rev
		doc.Name, doc.Kind, doc.SLADays, doc.Robots = u.Name, u.Kind, toSLADays(u.SLADays), toRobotsDoc(u.Robots)
		doc.UpdatedAt = now()
		doc.Rev++
		res, err := db.orgUnits.ReplaceOne(ctx, bson.D{{Key: "_id", Value: u.ID}, {Key: "rev", Value: rev}}, doc)
		if err != nil {
			return err
		}
		if res.MatchedCount != 1 {
			return fmt.Errorf("updated concurrently: %w", storage.ErrConflict)
		}
		db.bumpOrgUnitsVersion(ctx)
		return nil
	})
	if err != nil {
		return storage.OrgUnit{}, fmt.Errorf("mongo: update org unit %s: %w", u.ID, err)
	}
	return doc.orgUnit(), nil
}

// OrgUnits lists the units whose Path starts with pathPrefix ("" lists
// all), ordered by Path (byte order), with an anchored regex on the path
// index. The prefix is a plain string prefix: "/a" matches "/a/" and
// "/ab/"; pass a unit's Path to list its subtree.
func (db *DB) OrgUnits(ctx context.Context, pathPrefix string) ([]storage.OrgUnit, error) {
	filter := bson.D{}
	if pathPrefix != "" {
		filter = d("path", bson.Regex{Pattern: "^" + regexp.QuoteMeta(pathPrefix)})
	}
	var docs []orgUnitDoc
	err := db.run(ctx, func(ctx context.Context) error {
		var err error
		docs, err = find[orgUnitDoc](ctx, db.orgUnits, filter, options.Find().SetSort(d("path", 1)))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mongo: org units %q: %w", pathPrefix, err)
	}
	out := make([]storage.OrgUnit, len(docs))
	for i, doc := range docs {
		out[i] = doc.orgUnit()
	}
	return out, nil
}

// orgUnitsVersionID is the meta document counting org-unit writes.
const orgUnitsVersionID = "org_units_version"

// bumpOrgUnitsVersion counts one org-unit write, after it: a reader that
// sees the new count reads the write. No transaction joins the two: when
// the count fails (or the process dies between them) the write stands and
// caches catch up at their own expiry (server: a minute), so its error is
// not the write's.
func (db *DB) bumpOrgUnitsVersion(ctx context.Context) {
	_, _ = db.meta.UpdateOne(ctx, d("_id", orgUnitsVersionID), d("$inc", d("v", int64(1))), options.UpdateOne().SetUpsert(true))
}

// OrgUnitsVersion returns the number of org-unit writes (0 before any).
func (db *DB) OrgUnitsVersion(ctx context.Context) (uint64, error) {
	var doc struct {
		V int64 `bson:"v"`
	}
	err := db.run(ctx, func(ctx context.Context) error {
		err := db.meta.FindOne(ctx, d("_id", orgUnitsVersionID)).Decode(&doc)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("mongo: org units version: %w", err)
	}
	return uint64(doc.V), nil
}
