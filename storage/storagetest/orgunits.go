package storagetest

import (
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

func (s suite) orgUnits(t *testing.T) {
	t.Run("CreateTree", s.orgUnitsCreateTree)
	t.Run("CreateRefused", s.orgUnitsCreateRefused)
	t.Run("List", s.orgUnitsList)
	t.Run("Update", s.orgUnitsUpdate)
	t.Run("Version", s.orgUnitsVersion)
}

// orgUnitsVersion: the version grows with every create and update, and a
// refused write leaves it (replicas' caches of the tree read it to learn
// that the tree changed).
func (s suite) orgUnitsVersion(t *testing.T) {
	ou := s.open(t)
	version := func() uint64 {
		t.Helper()
		v, err := ou.OrgUnitsVersion(t.Context())
		if err != nil {
			t.Fatalf("org units version: got error %v, want none", err)
		}
		return v
	}
	v0 := version()
	root := mustCreateUnit(t, ou, storage.OrgUnit{ID: "root", Name: "机关工委", Kind: "committee"})
	v1 := version()
	if v1 <= v0 {
		t.Fatalf("version after a create: got %d, want more than %d", v1, v0)
	}
	root.Name = "市直机关工委"
	root, err := ou.UpdateOrgUnit(t.Context(), root)
	wantErr(t, "update", err, nil)
	v2 := version()
	if v2 <= v1 {
		t.Fatalf("version after an update: got %d, want more than %d", v2, v1)
	}
	root.Robots = storage.Robots{WeComURL: "https://robot.example/send?key=k1", DingTalkURL: "https://robot.example/robot/send?access_token=t1", DingTalkSecret: "SECs1"}
	root, err = ou.UpdateOrgUnit(t.Context(), root)
	wantErr(t, "update the robots", err, nil)
	if got, err := ou.OrgUnit(t.Context(), "root"); err != nil || got.Robots != root.Robots || got.Robots.DingTalkSecret != "SECs1" {
		t.Fatalf("robots stored: got %+v, %v; want %+v", got.Robots, err, root.Robots)
	}
	v2 = version()
	stale := root
	stale.Rev--
	_, err = ou.UpdateOrgUnit(t.Context(), stale)
	wantErr(t, "update with a stale rev", err, storage.ErrConflict)
	_, err = ou.CreateOrgUnit(t.Context(), storage.OrgUnit{ID: "x", ParentID: "nope", Name: "x"})
	wantErr(t, "create under an unknown parent", err, storage.ErrNotFound)
	equal(t, "version after refused writes", version(), v2)
	mustCreateUnit(t, ou, storage.OrgUnit{ID: "dept", ParentID: "root", Name: "部门", Kind: "department"})
	if v3 := version(); v3 <= v2 {
		t.Fatalf("version after a second create: got %d, want more than %d", v3, v2)
	}
}

func mustCreateUnit(t *testing.T, ou storage.OrgUnits, u storage.OrgUnit) storage.OrgUnit {
	t.Helper()
	got, err := ou.CreateOrgUnit(t.Context(), u)
	if err != nil {
		t.Fatalf("create org unit %s: got error %v, want none", u.ID, err)
	}
	return got
}

func mustUnit(t *testing.T, ou storage.OrgUnits, id string) storage.OrgUnit {
	t.Helper()
	u, err := ou.OrgUnit(t.Context(), id)
	if err != nil {
		t.Fatalf("org unit %s: got error %v, want none", id, err)
	}
	return u
}

// briefUnit renders a unit: "path id<-parent" then the other fields.
func briefUnit(u storage.OrgUnit) string {
	return fmt.Sprintf("%s %s<-%s %q %s sla %v rev %d created %s updated %s",
		u.Path, u.ID, u.ParentID, u.Name, u.Kind, u.SLADays, u.Rev, u.CreatedAt.UTC(), u.UpdatedAt.UTC())
}

// sameUnit fails t unless got equals want, comparing times as instants and
// a nil SLADays as equal to an empty one.
func sameUnit(t *testing.T, what string, got, want storage.OrgUnit) {
	t.Helper()
	g, w := got, want
	g.SLADays, w.SLADays = nil, nil
	g.CreatedAt, g.UpdatedAt = g.CreatedAt.UTC(), g.UpdatedAt.UTC()
	w.CreatedAt, w.UpdatedAt = w.CreatedAt.UTC(), w.UpdatedAt.UTC()
	if !reflect.DeepEqual(g, w) || !maps.Equal(got.SLADays, want.SLADays) {
		t.Fatalf("%s: got %s, want %s", what, briefUnit(got), briefUnit(want))
	}
}

// paths renders units as their paths.
func paths(us []storage.OrgUnit) string {
	var out []string
	for _, u := range us {
		out = append(out, u.Path)
	}
	return strings.Join(out, " ")
}

func mustUnits(t *testing.T, ou storage.OrgUnits, prefix string) []storage.OrgUnit {
	t.Helper()
	us, err := ou.OrgUnits(t.Context(), prefix)
	if err != nil {
		t.Fatalf("org units %q: got error %v, want none", prefix, err)
	}
	return us
}

func (s suite) orgUnitsCreateTree(t *testing.T) {
	ou := s.open(t)
	_, err := ou.OrgUnit(t.Context(), "c1")
	wantErr(t, "absent unit", err, storage.ErrNotFound)
	equal(t, "units of an empty store", paths(mustUnits(t, ou, "")), "")

	for _, tc := range []struct {
		in       storage.OrgUnit
		wantPath string
	}{
		{storage.OrgUnit{ID: "c1", Name: "City committee", Kind: "committee", SLADays: map[string]int{"water": 3, "roads": 10},
			CreatedAt: t0, UpdatedAt: t0.Add(time.Minute), Path: "/ignored/", Rev: 7}, "/c1/"},
		{storage.OrgUnit{ID: "d1", ParentID: "c1", Name: "Housing", Kind: "department", CreatedAt: t0}, "/c1/d1/"},
		{storage.OrgUnit{ID: "b1", ParentID: "d1", Name: "North branch", Kind: "branch", SLADays: map[string]int{}, CreatedAt: t0}, "/c1/d1/b1/"},
		{storage.OrgUnit{ID: "单位", ParentID: "d1", Name: "南区", Kind: "branch", CreatedAt: t0}, "/c1/d1/单位/"},
	} {
		t.Run(tc.in.ID, func(t *testing.T) {
			want := tc.in
			want.Path, want.Rev = tc.wantPath, 1
			if want.UpdatedAt.IsZero() {
				want.UpdatedAt = want.CreatedAt
			}
			got := mustCreateUnit(t, ou, tc.in)
			sameUnit(t, "created unit", got, want)
			sameUnit(t, "unit by id", mustUnit(t, ou, tc.in.ID), want)
		})
	}

	// Zero times are stamped.
	before := time.Now().Add(-time.Second)
	u := mustCreateUnit(t, ou, storage.OrgUnit{ID: "c2", Name: "Other committee"})
	if u.CreatedAt.Before(before) || u.CreatedAt.After(time.Now().Add(time.Second)) || u.UpdatedAt.IsZero() {
		t.Fatalf("unit with zero times: got CreatedAt %v, UpdatedAt %v, want about now and set", u.CreatedAt, u.UpdatedAt)
	}

	// The returned map belongs to the caller.
	got := mustUnit(t, ou, "c1")
	got.SLADays["water"] = 99
	equal(t, "stored SLA days after changing a returned map", mustUnit(t, ou, "c1").SLADays["water"], 3)
}

func (s suite) orgUnitsCreateRefused(t *testing.T) {
	ou := s.open(t)
	mustCreateUnit(t, ou, storage.OrgUnit{ID: "c1", Name: "C1"})
	mustCreateUnit(t, ou, storage.OrgUnit{ID: "d1", ParentID: "c1", Name: "D1"})
	const tree = "/c1/ /c1/d1/"
	for _, tc := range []struct {
		name string
		unit storage.OrgUnit
		want error
	}{
		{"unknown parent", storage.OrgUnit{ID: "x", ParentID: "nope", Name: "X"}, storage.ErrNotFound},
		{"root id taken", storage.OrgUnit{ID: "c1", Name: "X"}, storage.ErrExists},
		{"child id taken under another parent", storage.OrgUnit{ID: "d1", ParentID: "d1", Name: "X"}, storage.ErrExists},
		{"root's id reused for a child", storage.OrgUnit{ID: "c1", ParentID: "d1", Name: "X"}, storage.ErrExists},
		{"empty id", storage.OrgUnit{Name: "X"}, storage.ErrInvalid},
		{"id with a slash", storage.OrgUnit{ID: "a/b", ParentID: "c1", Name: "X"}, storage.ErrInvalid},
		{"id is a slash", storage.OrgUnit{ID: "/", Name: "X"}, storage.ErrInvalid},
		{"empty name", storage.OrgUnit{ID: "x", ParentID: "c1"}, storage.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ou.CreateOrgUnit(t.Context(), tc.unit)
			wantErr(t, "create", err, tc.want)
			equal(t, "units after a refused create", paths(mustUnits(t, ou, "")), tree)
			equal(t, "d1's parent after a refused create", mustUnit(t, ou, "d1").ParentID, "c1")
		})
	}
}

func (s suite) orgUnitsList(t *testing.T) {
	ou := s.open(t)
	// Created parents first but otherwise out of order: the list is ordered
	// by path, not by id or creation.
	for _, u := range []storage.OrgUnit{
		{ID: "c2"}, {ID: "c1"}, {ID: "c10"},
		{ID: "d2", ParentID: "c1"}, {ID: "d1", ParentID: "c1"}, {ID: "d9", ParentID: "c2"}, {ID: "d1x", ParentID: "c10"},
		{ID: "b2", ParentID: "d1"}, {ID: "b1", ParentID: "d1"}, {ID: "b3", ParentID: "d2"},
	} {
		u.Name = "unit " + u.ID
		mustCreateUnit(t, ou, u)
	}
	for _, tc := range []struct {
		prefix string
		want   string
	}{
		{"", "/c1/ /c1/d1/ /c1/d1/b1/ /c1/d1/b2/ /c1/d2/ /c1/d2/b3/ /c10/ /c10/d1x/ /c2/ /c2/d9/"},
		{"/", "/c1/ /c1/d1/ /c1/d1/b1/ /c1/d1/b2/ /c1/d2/ /c1/d2/b3/ /c10/ /c10/d1x/ /c2/ /c2/d9/"},
		{"/c1/", "/c1/ /c1/d1/ /c1/d1/b1/ /c1/d1/b2/ /c1/d2/ /c1/d2/b3/"},
		{"/c1/d1/", "/c1/d1/ /c1/d1/b1/ /c1/d1/b2/"},
		{"/c1/d1/b2/", "/c1/d1/b2/"},
		{"/c2/", "/c2/ /c2/d9/"},
		// A plain string prefix: without its trailing "/", /c1 is also
		// the start of /c10/.
		{"/c1", "/c1/ /c1/d1/ /c1/d1/b1/ /c1/d1/b2/ /c1/d2/ /c1/d2/b3/ /c10/ /c10/d1x/"},
		{"/c1/d", "/c1/d1/ /c1/d1/b1/ /c1/d1/b2/ /c1/d2/ /c1/d2/b3/"},
		{"/c3/", ""},
		{"/d1/", ""},
		{"c1", ""},
	} {
		t.Run(fmt.Sprintf("prefix=%q", tc.prefix), func(t *testing.T) {
			us := mustUnits(t, ou, tc.prefix)
			equal(t, "units", paths(us), tc.want)
			for _, u := range us {
				if want := "unit " + u.ID; u.Name != want || !strings.HasSuffix(u.Path, "/"+u.ID+"/") {
					t.Fatalf("listed unit: got %s, want name %q and a path ending in /%s/", briefUnit(u), want, u.ID)
				}
			}
		})
	}
	sameUnit(t, "listed b3", mustUnits(t, ou, "/c1/d2/b3/")[0], mustUnit(t, ou, "b3"))
}

func (s suite) orgUnitsUpdate(t *testing.T) {
	ou := s.open(t)
	ctx := t.Context()
	mustCreateUnit(t, ou, storage.OrgUnit{ID: "c1", Name: "C1", CreatedAt: t0})
	mustCreateUnit(t, ou, storage.OrgUnit{ID: "c2", Name: "C2", CreatedAt: t0})
	created := mustCreateUnit(t, ou, storage.OrgUnit{ID: "d1", ParentID: "c1", Name: "Housing", Kind: "department",
		SLADays: map[string]int{"water": 3}, CreatedAt: t0})

	u := created
	u.Name, u.Kind, u.SLADays = "Housing and water", "branch", map[string]int{"water": 2, "noise": 7}
	u.ParentID, u.Path = "c2", "/c2/d1/" // ignored: moving is not supported
	before := time.Now().Add(-time.Second)
	got, err := ou.UpdateOrgUnit(ctx, u)
	wantErr(t, "update", err, nil)
	want := created
	want.Name, want.Kind, want.SLADays, want.Rev = u.Name, u.Kind, u.SLADays, 2
	want.UpdatedAt = got.UpdatedAt
	sameUnit(t, "updated unit", got, want)
	if got.UpdatedAt.Before(before) {
		t.Fatalf("updated unit: got UpdatedAt %v, want about now", got.UpdatedAt)
	}
	sameUnit(t, "unit after update", mustUnit(t, ou, "d1"), got)
	equal(t, "subtree of c1 after update", paths(mustUnits(t, ou, "/c1/")), "/c1/ /c1/d1/")
	equal(t, "subtree of c2 after update", paths(mustUnits(t, ou, "/c2/")), "/c2/")

	// SLADays back to nil: the unit inherits again.
	u = got
	u.SLADays = nil
	got, err = ou.UpdateOrgUnit(ctx, u)
	wantErr(t, "update to inherit", err, nil)
	equal(t, "SLA days after update to nil", len(mustUnit(t, ou, "d1").SLADays), 0)
	equal(t, "rev", got.Rev, 3)

	for _, tc := range []struct {
		name string
		unit storage.OrgUnit
		want error
	}{
		{"stale rev", storage.OrgUnit{ID: "d1", Name: "lost update", Rev: 2}, storage.ErrConflict},
		{"future rev", storage.OrgUnit{ID: "d1", Name: "lost update", Rev: 4}, storage.ErrConflict},
		{"absent", storage.OrgUnit{ID: "nope", Name: "X", Rev: 1}, storage.ErrNotFound},
		{"empty name", storage.OrgUnit{ID: "d1", Rev: 3}, storage.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ou.UpdateOrgUnit(ctx, tc.unit)
			wantErr(t, "update", err, tc.want)
			sameUnit(t, "unit after a refused update", mustUnit(t, ou, "d1"), got)
			_, err = ou.OrgUnit(ctx, "nope")
			wantErr(t, "absent unit after a refused update", err, storage.ErrNotFound)
		})
	}
}
