package deploy

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// SECURITY.md's "Versions at or above": each floor carries fixed advisories.
// govulncheck checks the same in `make lint` when its database is reachable;
// this test holds the floors without a network.
var versionFloors = map[string]string{
	"github.com/gofiber/fiber/v2":    "v2.52.15",
	"github.com/valyala/fasthttp":    "v1.70.0",
	"github.com/golang-jwt/jwt/v5":   "v5.2.2",
	"go.mongodb.org/mongo-driver/v2": "v2.4.2",
}

// goFloor is the oldest Go release SECURITY.md accepts.
const goFloor = "1.26.3"

func TestVersionFloors(t *testing.T) {
	required := map[string]string{}
	goLine := ""
	for _, line := range strings.Split(string(readFile(t, "go.mod")), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		switch {
		case len(f) == 2 && f[0] == "go":
			goLine = f[1]
		case len(f) >= 2 && strings.HasPrefix(f[1], "v"):
			required[f[0]] = f[1]
		}
	}
	for mod, floor := range versionFloors {
		have, ok := required[mod]
		if !ok {
			t.Errorf("go.mod does not require %s (SECURITY.md wants ≥ %s)", mod, floor)
			continue
		}
		if compareVersions(have, floor) < 0 {
			t.Errorf("go.mod requires %s %s, below SECURITY.md's floor %s", mod, have, floor)
		}
	}
	if compareVersions(goLine, goFloor) < 0 {
		t.Errorf("go.mod's go line is %s: toolchains older than %s (SECURITY.md's floor) would build the server", goLine, goFloor)
	}
	if v := strings.TrimPrefix(runtime.Version(), "go"); !strings.Contains(v, "devel") && compareVersions(v, goFloor) < 0 {
		t.Errorf("built with Go %s, below SECURITY.md's floor %s", v, goFloor)
	}
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"v2.52.15", "v2.52.15", 0}, {"v2.52.9", "v2.52.15", -1}, {"v2.53.0", "v2.52.15", 1},
		{"1.26.0", "1.26.3", -1}, {"1.26", "1.26.3", -1}, {"1.27rc1", "1.26.3", 1},
		{"v1.70.0", "v1.70.0-0.20250101", 1}, {"v5.3.1", "v5.2.2", 1},
	} {
		if got := compareVersions(c.a, c.b); got != c.want {
			t.Errorf("compareVersions(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// compareVersions orders dotted versions (a leading v and a pre-release or
// rc suffix allowed): a pre-release sorts before its release.
func compareVersions(a, b string) int {
	split := func(v string) ([]int, bool) {
		v = strings.TrimPrefix(v, "v")
		pre := false
		if i := strings.IndexAny(v, "-+"); i >= 0 {
			v, pre = v[:i], true
		}
		if i := strings.IndexFunc(v, func(r rune) bool { return r != '.' && (r < '0' || r > '9') }); i >= 0 {
			v, pre = v[:i], true
		}
		var out []int
		for _, p := range strings.Split(v, ".") {
			n, _ := strconv.Atoi(p)
			out = append(out, n)
		}
		return out, pre
	}
	x, xp := split(a)
	y, yp := split(b)
	for i := 0; i < max(len(x), len(y)); i++ {
		var xi, yi int
		if i < len(x) {
			xi = x[i]
		}
		if i < len(y) {
			yi = y[i]
		}
		if xi != yi {
			if xi < yi {
				return -1
			}
			return 1
		}
	}
	switch {
	case xp && !yp:
		return -1
	case yp && !xp:
		return 1
	}
	return 0
}
