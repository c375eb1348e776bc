package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// t0 is a fixed time in the suite's users and devices: millisecond
// precision (what every backend stores exactly), in a zone other than UTC.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.FixedZone("CST", 8*3600))

func (s suite) users(t *testing.T) {
	t.Run("Create", s.usersCreate)
	t.Run("CreateRefused", s.usersCreateRefused)
	t.Run("Login", s.usersLogin)
	t.Run("SharedPhone", s.usersSharedPhone)
	t.Run("Update", s.usersUpdate)
	t.Run("Rename", s.usersRename)
	t.Run("List", s.usersList)
	t.Run("ListDefaultLimit", s.usersListDefaultLimit)
}

func (s suite) devices(t *testing.T) {
	t.Run("Create", s.devicesCreate)
	t.Run("Of", s.devicesOf)
	t.Run("Update", s.devicesUpdate)
	t.Run("Idle", s.devicesIdle)
}

// devicesIdle: the devices not revoked of the given units' users whose last
// sighting (their registration when never seen) is before a time.
func (s suite) devicesIdle(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	for _, u := range []storage.User{
		{ID: "ua", Username: "ua", Role: "officer", OrgUnit: "unitA"},
		{ID: "ub", Username: "ub", Role: "officer", OrgUnit: "unitB"},
		{ID: "uc", Username: "uc", Role: "officer", OrgUnit: "unitC"},
	} {
		if _, err := st.CreateUser(ctx, u); err != nil {
			t.Fatalf("create user %s: %v", u.ID, err)
		}
	}
	cutoff := t0.Add(24 * time.Hour)
	for _, d := range []storage.Device{
		{ID: "a-never", UserID: "ua", CreatedAt: t0},                                     // idle: never seen, registered before
		{ID: "a-old", UserID: "ua", CreatedAt: t0, LastSeen: t0.Add(time.Hour)},          // idle
		{ID: "a-fresh", UserID: "ua", CreatedAt: t0, LastSeen: cutoff.Add(time.Hour)},    // seen since
		{ID: "a-new", UserID: "ua", CreatedAt: cutoff.Add(time.Minute)},                  // registered since
		{ID: "a-revoked", UserID: "ua", CreatedAt: t0, RevokedAt: t0.Add(2 * time.Hour)}, // revoked
		{ID: "b-old", UserID: "ub", CreatedAt: t0, LastSeen: t0.Add(time.Hour)},          // idle
		{ID: "c-old", UserID: "uc", CreatedAt: t0, LastSeen: t0.Add(time.Hour)},          // another unit
		{ID: "x-orphan", UserID: "nobody", CreatedAt: t0, LastSeen: t0.Add(time.Hour)},   // no such user
	} {
		if _, err := st.CreateDevice(ctx, d); err != nil {
			t.Fatalf("create device %s: %v", d.ID, err)
		}
	}
	got, err := st.IdleDevices(ctx, []string{"unitA", "unitB"}, cutoff)
	wantErr(t, "idle devices", err, nil)
	var ids []string
	for _, d := range got {
		if d.User.ID != d.Device.UserID || d.User.Username == "" {
			t.Fatalf("idle device %s: user %+v, want its user", d.Device.ID, d.User)
		}
		ids = append(ids, d.Device.ID)
	}
	slices.Sort(ids)
	equal(t, "idle devices of units A and B", strings.Join(ids, " "), "a-never a-old b-old")
	none, err := st.IdleDevices(ctx, nil, cutoff)
	wantErr(t, "idle devices of no unit", err, nil)
	equal(t, "idle devices of no unit", len(none), 0)
}

// sameUser fails t unless got equals want, comparing times as instants.
func sameUser(t *testing.T, what string, got, want storage.User) {
	t.Helper()
	g, w := got, want
	for _, p := range []*storage.User{&g, &w} {
		p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	}
	if g != w {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}

// sameDevice fails t unless got equals want, comparing times as instants.
func sameDevice(t *testing.T, what string, got, want storage.Device) {
	t.Helper()
	g, w := got, want
	for _, p := range []*storage.Device{&g, &w} {
		p.CreatedAt, p.LastSeen, p.RevokedAt = p.CreatedAt.UTC(), p.LastSeen.UTC(), p.RevokedAt.UTC()
	}
	if g != w {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}

func mustCreateUser(t *testing.T, st storage.Store, u storage.User) storage.User {
	t.Helper()
	got, err := st.CreateUser(t.Context(), u)
	if err != nil {
		t.Fatalf("create user %s: got error %v, want none", u.ID, err)
	}
	return got
}

func mustUser(t *testing.T, st storage.Store, id string) storage.User {
	t.Helper()
	u, err := st.User(t.Context(), id)
	if err != nil {
		t.Fatalf("user %s: got error %v, want none", id, err)
	}
	return u
}

func mustCount(t *testing.T, st storage.Store) int {
	t.Helper()
	n, err := st.CountUsers(t.Context())
	if err != nil {
		t.Fatalf("count users: got error %v, want none", err)
	}
	return n
}

func fullUser() storage.User {
	return storage.User{
		ID: "u1", Username: "zhang.wei", Phone: "13800000001", Name: "张伟", Role: "officer",
		OrgUnit: "org-7", Counterparty: "", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		MustChangePassword: true, Disabled: true, CreatedAt: t0, UpdatedAt: t0.Add(time.Hour),
		NotifyOff: "sms,wecom", Language: "en",
	}
}

func (s suite) usersCreate(t *testing.T) {
	st := s.open(t)
	equal(t, "count of an empty store", mustCount(t, st), 0)
	_, err := st.User(t.Context(), "u1")
	wantErr(t, "absent user", err, storage.ErrNotFound)

	want := fullUser()
	want.Rev = 1
	in := fullUser()
	in.Rev = 42 // ignored: adapters set Rev
	sameUser(t, "created user", mustCreateUser(t, st, in), want)
	sameUser(t, "user by id", mustUser(t, st, "u1"), want)

	// Zero times are stamped.
	before := time.Now().Add(-time.Second)
	u := mustCreateUser(t, st, storage.User{ID: "u2", Username: "li.na"})
	if u.CreatedAt.Before(before) || u.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("created user with zero CreatedAt: got CreatedAt %v, want about now", u.CreatedAt)
	}
	if u.UpdatedAt.IsZero() {
		t.Fatalf("created user with zero UpdatedAt: got zero UpdatedAt, want it set")
	}
	sameUser(t, "user u2 by id", mustUser(t, st, "u2"), u)
	equal(t, "count", mustCount(t, st), 2)
}

func (s suite) usersCreateRefused(t *testing.T) {
	st := s.open(t)
	mustCreateUser(t, st, fullUser())
	mustCreateUser(t, st, storage.User{ID: "u2", Username: "nophone1"})
	// Users without a phone do not collide on it.
	mustCreateUser(t, st, storage.User{ID: "u3", Username: "nophone2"})
	for _, tc := range []struct {
		name string
		user storage.User
		want error
	}{
		{"id taken", storage.User{ID: "u1", Username: "new"}, storage.ErrExists},
		{"username taken", storage.User{ID: "u9", Username: "zhang.wei"}, storage.ErrExists},
		{"username taken, phone shared", storage.User{ID: "u9", Username: "zhang.wei", Phone: "13800000009"}, storage.ErrExists},
		{"empty id", storage.User{Username: "new"}, storage.ErrInvalid},
		{"empty username", storage.User{ID: "u9", Phone: "13800000009"}, storage.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := st.CreateUser(t.Context(), tc.user)
			wantErr(t, "create", err, tc.want)
			equal(t, "count", mustCount(t, st), 3)
			for _, login := range []string{"new", "13800000009"} {
				_, err := st.UserByLogin(t.Context(), login)
				wantErr(t, "login "+login+" of a refused user", err, storage.ErrNotFound)
			}
			if _, err := st.User(t.Context(), "u9"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("user u9 of a refused create: got error %v, want ErrNotFound", err)
			}
		})
	}
	want := fullUser()
	want.Rev = 1
	sameUser(t, "u1 after refused creates", mustUser(t, st, "u1"), want)
}

func (s suite) usersLogin(t *testing.T) {
	st := s.open(t)
	u1 := mustCreateUser(t, st, fullUser())
	// u2's user name is u1's phone: user names win.
	u2 := mustCreateUser(t, st, storage.User{ID: "u2", Username: "13800000001", Phone: "13900000002"})
	for _, tc := range []struct {
		login  string
		wantID string // "" for ErrNotFound
	}{
		{"zhang.wei", "u1"},
		{"13800000001", "u2"},
		{"13900000002", "u2"},
		{"Zhang.Wei", ""},
		{"zhang", ""},
		{"u1", ""},
		{"", ""},
	} {
		t.Run(fmt.Sprintf("login=%q", tc.login), func(t *testing.T) {
			got, err := st.UserByLogin(t.Context(), tc.login)
			if tc.wantID == "" {
				wantErr(t, "login", err, storage.ErrNotFound)
				return
			}
			wantErr(t, "login", err, nil)
			want := map[string]storage.User{"u1": u1, "u2": u2}[tc.wantID]
			sameUser(t, "user by login", got, want)
		})
	}
}

// usersSharedPhone: several users may have one phone (issue 18 L3: a
// number refused as taken told an administrator of one subtree who is
// registered anywhere). UsersByPhone lists them all; UserByLogin by that
// phone is ErrAmbiguous; changing one holder leaves the others.
func (s suite) usersSharedPhone(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	const phone = "13800000001"
	a := mustCreateUser(t, st, storage.User{ID: "a", Username: "alice", Phone: phone, Role: "officer"})
	b := mustCreateUser(t, st, storage.User{ID: "b", Username: "bob", Phone: phone, Role: "contact"})
	// Phones that extend one another stay apart.
	mustCreateUser(t, st, storage.User{ID: "c", Username: "carol", Phone: phone + "1"})
	mustCreateUser(t, st, storage.User{ID: "d", Username: "dave", Phone: phone[:len(phone)-1]})
	mustCreateUser(t, st, storage.User{ID: "e", Username: "erin"})
	holders := func(t *testing.T, p string) string {
		t.Helper()
		us, err := st.UsersByPhone(ctx, p)
		wantErr(t, "users by phone", err, nil)
		var ids []string
		for _, u := range us {
			if u.Phone != p {
				t.Fatalf("users by phone %s: got user %s with phone %s", p, u.ID, u.Phone)
			}
			ids = append(ids, u.ID)
		}
		return strings.Join(ids, " ")
	}
	login := func(t *testing.T, l string) string {
		t.Helper()
		u, err := st.UserByLogin(ctx, l)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return "none"
		case errors.Is(err, storage.ErrAmbiguous):
			return "ambiguous"
		case err != nil:
			t.Fatalf("login %s: got error %v, want none, ErrNotFound or ErrAmbiguous", l, err)
		}
		return u.ID
	}
	equal(t, "holders of the shared phone", holders(t, phone), "a b")
	equal(t, "holders of the longer phone", holders(t, phone+"1"), "c")
	equal(t, "holders of the shorter phone", holders(t, phone[:len(phone)-1]), "d")
	equal(t, "holders of an unknown phone", holders(t, "139"), "")
	equal(t, "holders of no phone", holders(t, ""), "")
	got, err := st.UsersByPhone(ctx, phone)
	wantErr(t, "users by phone", err, nil)
	sameUser(t, "first holder", got[0], a)
	sameUser(t, "second holder", got[1], b)
	equal(t, "login by the shared phone", login(t, phone), "ambiguous")
	equal(t, "login by a user name", login(t, "bob"), "b")
	equal(t, "login by a phone of one user", login(t, phone+"1"), "c")

	// Disabling one leaves the other as it was.
	a.Disabled = true
	a, err = st.UpdateUser(ctx, a)
	wantErr(t, "disable a", err, nil)
	equal(t, "holders after disabling a", holders(t, phone), "a b")
	got, _ = st.UsersByPhone(ctx, phone)
	sameUser(t, "disabled holder", got[0], a)
	sameUser(t, "the other holder", got[1], b)

	// Moving one away leaves the number to the other.
	b.Phone = "13900000000"
	b, err = st.UpdateUser(ctx, b)
	wantErr(t, "b to another phone", err, nil)
	equal(t, "holders after b moved", holders(t, phone), "a")
	equal(t, "holders of b's new phone", holders(t, "13900000000"), "b")
	equal(t, "login by the phone a keeps", login(t, phone), "a")

	// Taking a number someone has is no error, on update as on create.
	e := mustUser(t, st, "e")
	e.Phone = phone
	_, err = st.UpdateUser(ctx, e)
	wantErr(t, "e to a's phone", err, nil)
	equal(t, "holders after e joined", holders(t, phone), "a e")
	mustCreateUser(t, st, storage.User{ID: "0", Username: "zero", Phone: phone})
	equal(t, "holders in id order", holders(t, phone), "0 a e")

	// Clearing one leaves the others.
	a.Phone = ""
	_, err = st.UpdateUser(ctx, a)
	wantErr(t, "a clears its phone", err, nil)
	equal(t, "holders after a cleared", holders(t, phone), "0 e")
	equal(t, "count", mustCount(t, st), 6)
}

func (s suite) usersUpdate(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	created := mustCreateUser(t, st, fullUser())

	u := created
	u.Name, u.Role, u.Disabled, u.PasswordHash, u.MustChangePassword = "张伟伟", "admin", false, "$argon2id$new", false
	got, err := st.UpdateUser(ctx, u)
	wantErr(t, "update", err, nil)
	equal(t, "rev after update", got.Rev, 2)
	if got.Name != u.Name || got.Role != u.Role || got.Disabled || got.PasswordHash != u.PasswordHash || got.MustChangePassword {
		t.Fatalf("updated user: got %+v, want the new name, role, disabled and hash of %+v", got, u)
	}
	if !got.CreatedAt.Equal(created.CreatedAt) {
		t.Fatalf("updated user: got CreatedAt %v, want %v (unchanged)", got.CreatedAt, created.CreatedAt)
	}
	sameUser(t, "user after update", mustUser(t, st, "u1"), got)

	t.Run("stale rev", func(t *testing.T) {
		stale := created // Rev 1
		stale.Name = "lost update"
		_, err := st.UpdateUser(ctx, stale)
		wantErr(t, "update with a stale rev", err, storage.ErrConflict)
		sameUser(t, "user after a refused update", mustUser(t, st, "u1"), got)
	})
	t.Run("absent", func(t *testing.T) {
		_, err := st.UpdateUser(ctx, storage.User{ID: "nobody", Username: "nobody", Rev: 1})
		wantErr(t, "update of an absent user", err, storage.ErrNotFound)
		equal(t, "count", mustCount(t, st), 1)
	})
	t.Run("empty username", func(t *testing.T) {
		bad := got
		bad.Username = ""
		_, err := st.UpdateUser(ctx, bad)
		wantErr(t, "update to an empty username", err, storage.ErrInvalid)
		sameUser(t, "user after a refused update", mustUser(t, st, "u1"), got)
	})
}

func (s suite) usersRename(t *testing.T) {
	ctx := t.Context()
	setup := func(t *testing.T) (storage.Store, storage.User, storage.User) {
		st := s.open(t)
		a := mustCreateUser(t, st, storage.User{ID: "a", Username: "alice", Phone: "111"})
		b := mustCreateUser(t, st, storage.User{ID: "b", Username: "bob", Phone: "222"})
		return st, a, b
	}
	login := func(t *testing.T, st storage.Store, l string) string {
		t.Helper()
		u, err := st.UserByLogin(ctx, l)
		if errors.Is(err, storage.ErrNotFound) {
			return ""
		}
		if errors.Is(err, storage.ErrAmbiguous) {
			return "*"
		}
		if err != nil {
			t.Fatalf("login %s: got error %v, want none, ErrNotFound or ErrAmbiguous", l, err)
		}
		return u.ID
	}
	logins := func(t *testing.T, st storage.Store) string {
		t.Helper()
		var parts []string
		for _, l := range []string{"alice", "alicia", "bob", "111", "222", "333"} {
			parts = append(parts, l+"→"+login(t, st, l))
		}
		return strings.Join(parts, " ")
	}
	for _, tc := range []struct {
		name       string
		change     func(u *storage.User)
		want       error
		wantLogins string
	}{
		{"to a taken username", func(u *storage.User) { u.Username = "bob" }, storage.ErrExists,
			"alice→a alicia→ bob→b 111→a 222→b 333→"},
		// Phones are not unique: two users then share 222.
		{"to another user's phone", func(u *storage.User) { u.Phone = "222" }, nil,
			"alice→a alicia→ bob→b 111→ 222→* 333→"},
		{"to a free username", func(u *storage.User) { u.Username = "alicia" }, nil,
			"alice→ alicia→a bob→b 111→a 222→b 333→"},
		{"to a free phone", func(u *storage.User) { u.Phone = "333" }, nil,
			"alice→a alicia→ bob→b 111→ 222→b 333→a"},
		{"phone cleared", func(u *storage.User) { u.Phone = "" }, nil,
			"alice→a alicia→ bob→b 111→ 222→b 333→"},
		{"both, unchanged", func(u *storage.User) {}, nil,
			"alice→a alicia→ bob→b 111→a 222→b 333→"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, a, _ := setup(t)
			u := a
			tc.change(&u)
			_, err := st.UpdateUser(ctx, u)
			wantErr(t, "update", err, tc.want)
			equal(t, "logins", logins(t, st), tc.wantLogins)
			if tc.want != nil {
				sameUser(t, "user after a refused update", mustUser(t, st, "a"), a)
				return
			}
			// A freed username or phone can be taken by another user.
			if a.Username != u.Username {
				mustCreateUser(t, st, storage.User{ID: "c", Username: a.Username})
				equal(t, "login with the freed username", login(t, st, a.Username), "c")
			}
			if a.Phone != u.Phone {
				mustCreateUser(t, st, storage.User{ID: "d", Username: "dave", Phone: a.Phone})
				equal(t, "login with the freed phone", login(t, st, a.Phone), "d")
			}
		})
	}
}

func (s suite) usersList(t *testing.T) {
	st := s.open(t)
	roles := []string{"officer", "contact", "admin", "viewer"}
	// Created out of order: the list is ordered by username, not by id or
	// creation.
	for _, i := range []int{7, 3, 11, 0, 5, 9, 1, 13, 2, 8, 12, 4, 10, 6} {
		u := storage.User{
			ID:       fmt.Sprintf("id-%02d", 20-i),
			Username: fmt.Sprintf("user%02d", i),
			Name:     []string{"Wang Fang", "Li Qiang", "陈静", "Zhao Lei"}[i%4],
			Role:     roles[i%4],
			OrgUnit:  []string{"unit-a", "unit-b"}[i%2],
		}
		if i%3 == 0 {
			u.Phone = fmt.Sprintf("1380000%04d", i)
		}
		mustCreateUser(t, st, u)
	}
	names := func(us []storage.User) string {
		var out []string
		for _, u := range us {
			out = append(out, u.Username)
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		name     string
		q        storage.UserQuery
		want     string
		wantMore bool
	}{
		{"all", storage.UserQuery{},
			"user00 user01 user02 user03 user04 user05 user06 user07 user08 user09 user10 user11 user12 user13", false},
		{"first page", storage.UserQuery{Limit: 5}, "user00 user01 user02 user03 user04", true},
		{"middle page", storage.UserQuery{Limit: 5, After: "user04"}, "user05 user06 user07 user08 user09", true},
		{"last page", storage.UserQuery{Limit: 5, After: "user09"}, "user10 user11 user12 user13", false},
		{"exact last page", storage.UserQuery{Limit: 4, After: "user09"}, "user10 user11 user12 user13", false},
		{"after a name not stored", storage.UserQuery{Limit: 2, After: "user04x"}, "user05 user06", true},
		{"after the last", storage.UserQuery{After: "user13"}, "", false},
		{"after everything", storage.UserQuery{After: "zzz"}, "", false},
		{"role", storage.UserQuery{Role: "admin"}, "user02 user06 user10", false},
		{"role, paged", storage.UserQuery{Role: "officer", Limit: 2}, "user00 user04", true},
		{"role, last page with others after", storage.UserQuery{Role: "officer", Limit: 2, After: "user04"}, "user08 user12", false},
		{"role, exact page with others after", storage.UserQuery{Role: "viewer", Limit: 3}, "user03 user07 user11", false},
		{"role unknown", storage.UserQuery{Role: "root"}, "", false},
		{"org units", storage.UserQuery{OrgUnits: []string{"unit-b"}}, "user01 user03 user05 user07 user09 user11 user13", false},
		{"org units, both", storage.UserQuery{OrgUnits: []string{"unit-b", "unit-a"}, Limit: 3}, "user00 user01 user02", true},
		{"org units, paged with role", storage.UserQuery{OrgUnits: []string{"unit-a"}, Role: "officer", After: "user00"}, "user04 user08 user12", false},
		{"org units, empty list matches nobody", storage.UserQuery{OrgUnits: []string{}}, "", false},
		{"org units, unknown", storage.UserQuery{OrgUnits: []string{"unit-z"}}, "", false},
		{"search username", storage.UserQuery{Search: "user1"}, "user10 user11 user12 user13", false},
		{"search name", storage.UserQuery{Search: "Qiang"}, "user01 user05 user09 user13", false},
		{"search name, not latin", storage.UserQuery{Search: "陈"}, "user02 user06 user10", false},
		{"search phone", storage.UserQuery{Search: "00009"}, "user09", false},
		{"search phone prefix", storage.UserQuery{Search: "1380000"}, "user00 user03 user06 user09 user12", false},
		{"search nothing", storage.UserQuery{Search: "nobody"}, "", false},
		{"search and role", storage.UserQuery{Search: "1380000", Role: "admin"}, "user06", false},
		{"search, paged", storage.UserQuery{Search: "1380000", Limit: 2, After: "user03"}, "user06 user09", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, more, err := st.ListUsers(t.Context(), tc.q)
			wantErr(t, "list", err, nil)
			equal(t, "users", names(got), tc.want)
			equal(t, "more", more, tc.wantMore)
		})
	}
	// Listed users are whole.
	got, _, err := st.ListUsers(t.Context(), storage.UserQuery{Search: "user06"})
	wantErr(t, "list user06", err, nil)
	if len(got) != 1 {
		t.Fatalf("list user06: got %d users, want 1", len(got))
	}
	sameUser(t, "listed user06", got[0], mustUser(t, st, "id-14"))
}

func (s suite) usersListDefaultLimit(t *testing.T) {
	st := s.open(t)
	for i := range 101 {
		mustCreateUser(t, st, storage.User{ID: fmt.Sprint("id", i), Username: fmt.Sprintf("user%03d", i)})
	}
	got, more, err := st.ListUsers(t.Context(), storage.UserQuery{})
	wantErr(t, "list", err, nil)
	if len(got) != 100 || !more || got[99].Username != "user099" {
		t.Fatalf("list with Limit 0: got %d users and more %v, want 100 (user000…user099) and more", len(got), more)
	}
	equal(t, "count", mustCount(t, st), 101)
}

func (s suite) devicesCreate(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	_, err := st.Device(ctx, "d1")
	wantErr(t, "absent device", err, storage.ErrNotFound)

	in := storage.Device{ID: "d1", UserID: "u1", Name: "Mi 11", CreatedAt: t0, Rev: 9}
	want := in
	want.Rev = 1
	got, err := st.CreateDevice(ctx, in)
	wantErr(t, "create", err, nil)
	sameDevice(t, "created device", got, want)
	got, err = st.Device(ctx, "d1")
	wantErr(t, "device", err, nil)
	sameDevice(t, "device by id", got, want)
	if !got.LastSeen.IsZero() || !got.RevokedAt.IsZero() {
		t.Fatalf("new device: got LastSeen %v, RevokedAt %v, want both zero", got.LastSeen, got.RevokedAt)
	}

	before := time.Now().Add(-time.Second)
	stamped, err := st.CreateDevice(ctx, storage.Device{ID: "d2", UserID: "u1"})
	wantErr(t, "create with zero CreatedAt", err, nil)
	if stamped.CreatedAt.Before(before) {
		t.Fatalf("device with zero CreatedAt: got CreatedAt %v, want about now", stamped.CreatedAt)
	}

	for _, tc := range []struct {
		name   string
		device storage.Device
		want   error
	}{
		{"id taken", storage.Device{ID: "d1", UserID: "u2"}, storage.ErrExists},
		{"empty id", storage.Device{UserID: "u1"}, storage.ErrInvalid},
		{"empty user", storage.Device{ID: "d9"}, storage.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := st.CreateDevice(ctx, tc.device)
			wantErr(t, "create", err, tc.want)
			got, err := st.Device(ctx, "d1")
			wantErr(t, "device d1", err, nil)
			sameDevice(t, "device d1 after a refused create", got, want)
			devs, err := st.DevicesOf(ctx, "u2")
			wantErr(t, "devices of u2", err, nil)
			equal(t, "devices of u2", len(devs), 0)
		})
	}
}

func (s suite) devicesOf(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	for _, d := range []storage.Device{
		{ID: "d-a", UserID: "u1", CreatedAt: t0.Add(2 * time.Hour)},
		{ID: "d-b", UserID: "u1", CreatedAt: t0},
		{ID: "d-c", UserID: "u2", CreatedAt: t0.Add(time.Minute)},
		{ID: "d-d", UserID: "u1", CreatedAt: t0.Add(time.Hour)},
		{ID: "d-e", UserID: "u10", CreatedAt: t0},
		{ID: "d-f", UserID: "u", CreatedAt: t0},
	} {
		if _, err := st.CreateDevice(ctx, d); err != nil {
			t.Fatalf("create device %s: got error %v, want none", d.ID, err)
		}
	}
	for _, tc := range []struct {
		user string
		want string
	}{
		{"u1", "d-b d-d d-a"},
		{"u2", "d-c"},
		{"u10", "d-e"},
		{"u", "d-f"},
		{"u3", ""},
	} {
		t.Run(tc.user, func(t *testing.T) {
			devs, err := st.DevicesOf(ctx, tc.user)
			wantErr(t, "devices of "+tc.user, err, nil)
			var ids []string
			for _, d := range devs {
				if d.UserID != tc.user {
					t.Fatalf("devices of %s: got device %s of user %s, want only %s's", tc.user, d.ID, d.UserID, tc.user)
				}
				ids = append(ids, d.ID)
			}
			equal(t, "devices, oldest first", strings.Join(ids, " "), tc.want)
		})
	}
}

func (s suite) devicesUpdate(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	d1, err := st.CreateDevice(ctx, storage.Device{ID: "d1", UserID: "u1", Name: "Mi 11", CreatedAt: t0})
	wantErr(t, "create", err, nil)

	u := d1
	u.Name, u.LastSeen = "Mi 11 (work)", t0.Add(24*time.Hour)
	got, err := st.UpdateDevice(ctx, u)
	wantErr(t, "update", err, nil)
	want := u
	want.Rev = 2
	sameDevice(t, "updated device", got, want)
	stored, err := st.Device(ctx, "d1")
	wantErr(t, "device", err, nil)
	sameDevice(t, "device after update", stored, want)

	revoke := got
	revoke.RevokedAt = t0.Add(48 * time.Hour)
	got, err = st.UpdateDevice(ctx, revoke)
	wantErr(t, "revoke", err, nil)
	equal(t, "rev after revoke", got.Rev, 3)
	if !got.RevokedAt.Equal(revoke.RevokedAt) {
		t.Fatalf("revoked device: got RevokedAt %v, want %v", got.RevokedAt, revoke.RevokedAt)
	}

	t.Run("stale rev", func(t *testing.T) {
		stale := d1
		stale.Name = "lost update"
		_, err := st.UpdateDevice(ctx, stale)
		wantErr(t, "update with a stale rev", err, storage.ErrConflict)
		stored, _ := st.Device(ctx, "d1")
		sameDevice(t, "device after a refused update", stored, got)
	})
	t.Run("absent", func(t *testing.T) {
		_, err := st.UpdateDevice(ctx, storage.Device{ID: "d9", UserID: "u1", Rev: 1})
		wantErr(t, "update of an absent device", err, storage.ErrNotFound)
		_, err = st.Device(ctx, "d9")
		wantErr(t, "absent device after update", err, storage.ErrNotFound)
	})
	t.Run("user id kept", func(t *testing.T) {
		moved := got
		moved.UserID = "u2"
		if _, err := st.UpdateDevice(ctx, moved); err == nil {
			t.Fatalf("update moving the device to another user: got no error, want one")
		}
		stored, _ := st.Device(ctx, "d1")
		sameDevice(t, "device after a refused move", stored, got)
		devs, err := st.DevicesOf(ctx, "u2")
		wantErr(t, "devices of u2", err, nil)
		equal(t, "devices of u2", len(devs), 0)
	})
}
