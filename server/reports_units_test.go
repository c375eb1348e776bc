package server

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
)

// TestUnitPairingsMatchesPrefixScan compares the overview's one-pass
// split of pairings by the units below the root with the scan it replaced
// (each unit against each pairing's branch paths, by prefix), on random
// trees, including units whose path lacks its trailing slash, pairings of
// several branches and branches outside the root.
func TestUnitPairingsMatchesPrefixScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 200 {
		root := "/r/"
		if round%3 == 1 {
			root = "/r/d1/"
		}
		depth := strings.Count(root, "/")
		var units []storage.OrgUnit
		for i := range 1 + rng.IntN(8) {
			path := fmt.Sprintf("%su%d/", root, rng.IntN(6))
			if rng.IntN(8) == 0 {
				path = strings.TrimSuffix(path, "/") // an odd path: matched by prefix
			}
			units = append(units, storage.OrgUnit{ID: fmt.Sprint(i), Path: path})
		}
		var prs []pairing.Pairing
		for k := range rng.IntN(40) {
			pr := pairing.Pairing{ID: fmt.Sprintf("p%d", k)}
			for range rng.IntN(4) {
				switch rng.IntN(5) {
				case 0:
					pr.BranchPaths = append(pr.BranchPaths, "/elsewhere/b/")
				case 1:
					pr.BranchPaths = append(pr.BranchPaths, root)
				default:
					pr.BranchPaths = append(pr.BranchPaths, fmt.Sprintf("%su%d%s/b%d/", root, rng.IntN(6), []string{"", "0", "x"}[rng.IntN(3)], rng.IntN(3)))
				}
			}
			prs = append(prs, pr)
		}
		got := unitPairings(units, depth, prs)
		for i, u := range units {
			var want []string
			for _, pr := range prs {
				if slices.ContainsFunc(pr.BranchPaths, func(path string) bool { return strings.HasPrefix(path, u.Path) }) {
					want = append(want, pr.ID)
				}
			}
			if !slices.Equal(got[i], want) {
				t.Fatalf("round %d, root %s, unit %s: got %v, want %v", round, root, u.Path, got[i], want)
			}
		}
	}
}
