package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/storage"
)

// photoGrantsMigration names the one-time migration that grants the photos
// stored before grants existed: its record in
// pairing.CollMigrations says it ran.
const photoGrantsMigration = "photo_grants_m1"

// photoGrantsReport is what MigratePhotoGrants did.
type photoGrantsReport struct {
	Ran bool // false: it had run before (its record is stored); nothing done
	// Granted counts the photos granted to their earliest citation's
	// pairing; LeftUngranted the (photo, other pairing) citations of those
	// photos left without a grant (grants are per pairing, so a pairing
	// citing a photo in two records counts once); Uncited the photos no
	// record cites (granted to nobody; photo collection removes them).
	Granted, LeftUngranted, Uncited int
}

// MigratePhotoGrants grants each photo stored before grants existed to the
// pairing of its earliest citation (readmodel.PlanPhotoGrants), once: it
// records in storage that it ran and, run again, does nothing. It runs at
// the start of the maintenance pass (RunMaintenance), in the one process
// that holds the maintenance lease. Until it has run, such photos open to
// nobody: the citation fallback is gone.
//
// Idempotent also when interrupted: a photo once granted is no longer
// planned, and the record that it ran is committed last.
func (s *Server) MigratePhotoGrants(ctx context.Context) (photoGrantsReport, error) {
	var rep photoGrantsReport
	_, err := s.store.Get(ctx, storage.Key{Collection: pairing.CollMigrations, ID: photoGrantsMigration})
	switch {
	case err == nil:
		return rep, nil
	case !errors.Is(err, storage.ErrNotFound):
		return rep, fmt.Errorf("photo grants migration: %w", err)
	}
	if err := s.dir.Refresh(ctx); err != nil {
		return rep, fmt.Errorf("photo grants migration: %w", err)
	}
	var pids []string
	for _, p := range s.dir.All() {
		pids = append(pids, p.ID)
	}
	plans, err := readmodel.PlanPhotoGrants(ctx, s.store, pids)
	if err != nil {
		return rep, fmt.Errorf("photo grants migration: %w", err)
	}
	at := s.now().UTC().Format(time.RFC3339)
	for _, p := range plans {
		if p.Pairing == "" {
			rep.Uncited++
			continue
		}
		values, err := jsonValues(map[string]any{"sha256": p.SHA256, "pairing": p.Pairing, "by": "", "at": at,
			"migration": photoGrantsMigration, "cited_by": p.Record.Collection + "/" + p.Record.ID})
		if err != nil {
			return rep, err
		}
		if _, _, err := s.writeRecord(ctx, pairing.CollPhotoGrants, pairing.PhotoGrantID(p.Pairing, p.SHA256), pairing.PhotoScope, values); err != nil {
			return rep, fmt.Errorf("photo grants migration: grant %s: %w", p.SHA256, err)
		}
		rep.Granted++
		rep.LeftUngranted += len(p.Others)
	}
	values, err := jsonValues(map[string]any{"ran_at": at, "granted": rep.Granted, "left_ungranted": rep.LeftUngranted, "uncited": rep.Uncited})
	if err != nil {
		return rep, err
	}
	if _, _, err := s.writeRecord(ctx, pairing.CollMigrations, photoGrantsMigration, pairing.PhotoScope, values); err != nil {
		return rep, fmt.Errorf("photo grants migration: record it ran: %w", err)
	}
	rep.Ran = true
	s.log.Info("photo grants migrated", "photos_granted", rep.Granted, "citations_left_ungranted", rep.LeftUngranted, "photos_uncited", rep.Uncited)
	return rep, nil
}
