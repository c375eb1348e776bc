package server

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// People, not ids: screens name the person behind every
// reference — the officer who recorded a visit, the admin who dispatched an
// issue, the writer of each value of a conflict. Records hold user ids and,
// in their dots, device ids (replica ids); the people of a pairing map both
// to names and roles.

// personView is one person a pairing's records may name: its officers
// (former ones too), its contacts and the administrators whose subtree
// holds one of its branches, with the ids of their devices (replicas).
type personView struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Role    string   `json:"role"`
	Devices []string `json:"devices"`
}

type peopleView struct {
	People []personView `json:"people"`
}

// pairingPeople lists the people of a pairing (see personView), each once,
// officers first. Names only: never phone numbers (a contact sees this).
func (s *Server) pairingPeople(ctx context.Context, pr pairing.Pairing) ([]personView, error) {
	var ids []string
	add := func(id string) {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for _, id := range pr.Officers {
		add(id)
	}
	for id := range pr.FormerOfficers {
		add(id)
	}
	for _, id := range pr.Contacts {
		add(id)
	}
	// Administrators of the units above (and at) the pairing's branches:
	// the people who may dispatch, return and verify in it.
	var units []string
	for _, path := range pr.BranchPaths {
		for _, u := range strings.Split(strings.Trim(path, "/"), "/") {
			if u != "" && !slices.Contains(units, u) {
				units = append(units, u)
			}
		}
	}
	var users []storage.User
	for _, id := range ids {
		u, err := s.store.User(ctx, id)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	if len(units) > 0 {
		after := ""
		for {
			page, more, err := s.store.ListUsers(ctx, storage.UserQuery{Role: string(pairing.Admin), OrgUnits: units, After: after, Limit: 200})
			if err != nil {
				return nil, err
			}
			for _, u := range page {
				if !slices.Contains(ids, u.ID) {
					ids = append(ids, u.ID)
					users = append(users, u)
				}
			}
			if !more || len(page) == 0 {
				break
			}
			after = page[len(page)-1].Username
		}
	}
	out := make([]personView, 0, len(users))
	for _, u := range users {
		ds, err := s.store.DevicesOf(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		p := personView{ID: u.ID, Name: u.Name, Role: u.Role, Devices: []string{}}
		if p.Name == "" {
			p.Name = u.Username
		}
		for _, d := range ds {
			p.Devices = append(p.Devices, d.ID)
		}
		out = append(out, p)
	}
	return out, nil
}

// getPairingPeople: GET /v1/pairings/:id/people — the people of a pairing
// (names, roles, device ids), for the phone to name writers offline.
func (s *Server) getPairingPeople(c *fiber.Ctx) error {
	pr := loaded[pairing.Pairing](c)
	people, err := s.pairingPeople(c.UserContext(), pr)
	if err != nil {
		return err
	}
	return c.JSON(peopleView{People: people})
}

// conflictValue is one value of a conflicted field: who wrote it (null for
// the server's own writes: an administrator's action in the console) and
// when (the write's HLC time, the writer's clock).
type conflictValue struct {
	Value   json.RawMessage `json:"value"`
	By      *personRef      `json:"by"`
	At      time.Time       `json:"at"`
	Current bool            `json:"current"`
}

type personRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// openConflict is one field of one record with values to choose between.
type openConflict struct {
	Collection string          `json:"collection"`
	ID         string          `json:"id"`
	Title      string          `json:"title"`
	Field      string          `json:"field"`
	Label      pairing.Label   `json:"label"`
	Values     []conflictValue `json:"values"`
}

type conflictList struct {
	Conflicts []openConflict `json:"conflicts"`
}

// maxConflictsListed bounds one answer of the conflicts list.
const maxConflictsListed = 500

// listPairingConflicts: GET /v1/pairings/:id/conflicts — the open conflicts
// of a pairing (syncproto.Record.OpenConflicts: values that differ), each
// value with its writer's name and time, for administrators to follow up.
// It reads the pairing's records once (O(records of the pairing)).
func (s *Server) listPairingConflicts(c *fiber.Ctx) error {
	ctx := c.UserContext()
	pr := loaded[pairing.Pairing](c)
	people, err := s.pairingPeople(ctx, pr)
	if err != nil {
		return err
	}
	byDevice := map[string]*personRef{}
	for _, p := range people {
		for _, d := range p.Devices {
			byDevice[d] = &personRef{ID: p.ID, Name: p.Name, Role: p.Role}
		}
	}
	who := func(d syncproto.Dot) *personRef { return byDevice[string(d.Replica)] }
	out := conflictList{Conflicts: []openConflict{}}
	var after uint64
	for len(out.Conflicts) < maxConflictsListed {
		page, err := s.store.Changes(ctx, pr.ID, after, storage.PageLimit{})
		if err != nil {
			return err
		}
		for _, sr := range page.Records {
			r, err := syncproto.DecodeRecord(sr.Data, syncproto.Limits{})
			if err != nil || r.Deleted() {
				continue
			}
			open := r.OpenConflicts()
			for i := 0; i < len(open); {
				field := open[i].Field
				f := r.Fields[field]
				oc := openConflict{Collection: r.Collection, ID: r.ID, Title: pairing.Str(r, "title"), Field: field,
					Values: []conflictValue{{Value: f.Value, By: who(f.Dot), At: time.UnixMilli(f.HLC.Wall).UTC(), Current: true}}}
				if fs, ok := pairing.Spec(r.Collection); ok {
					if spec, ok := fs.Field(field); ok {
						oc.Label = spec.Label
					}
				}
				for ; i < len(open) && open[i].Field == field; i++ {
					oc.Values = append(oc.Values, conflictValue{Value: open[i].Value, By: who(open[i].Dot), At: time.UnixMilli(open[i].HLC.Wall).UTC()})
				}
				out.Conflicts = append(out.Conflicts, oc)
			}
		}
		if !page.More || len(page.Records) == 0 {
			break
		}
		after = page.Next
	}
	return c.JSON(out)
}
