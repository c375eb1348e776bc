package mobile

import (
	"os/exec"
	"strings"
	"testing"
)

// deps lists every package the given package imports, directly or not.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestImportRules enforces two rules of STYLE.md: syncproto imports only the
// standard library, and mobile imports no server framework or database
// driver. The one server package mobile may use is the domain,
// server/pairing (itself free of Fiber and drivers, as this test checks
// transitively): a domain rule lives once there and the phone runs it
// through WebAssembly (mobile/wasm's issue rule).
func TestImportRules(t *testing.T) {
	for _, d := range deps(t, "github.com/pairsync/pairsync/syncproto") {
		if d != "github.com/pairsync/pairsync/syncproto" {
			t.Errorf("syncproto imports %s; want the standard library only", d)
		}
	}
	forbidden := []string{"github.com/gofiber/", "github.com/valyala/fasthttp", "go.mongodb.org/", "github.com/minio/", "github.com/pairsync/pairsync/server", "github.com/pairsync/pairsync/storage/"}
	allowed := map[string]bool{"github.com/pairsync/pairsync/server/pairing": true}
	for _, d := range deps(t, "github.com/pairsync/pairsync/mobile/...") {
		if allowed[d] {
			continue
		}
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("mobile depends on %s; it must not import Fiber, fasthttp, database drivers or the server", d)
			}
		}
	}
}
