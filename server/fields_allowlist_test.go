package server

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The answer-field allowlist (SECURITY.md 4): every JSON member
// name any read route answers a role with must be listed for that role in
// testdata/response-fields.txt. A new member in an answer — a phone number,
// an internal flag, a hash — fails TestAuthorizationMatrix until someone
// decides which roles may see it and lists it there.

// fieldSeen collects, per role, the member names of the answers read.
type fieldSeen struct {
	keys  map[string]map[string]string // role → member name → a route that answered it
	reads int
}

func newFieldSeen() *fieldSeen { return &fieldSeen{keys: map[string]map[string]string{}} }

// dynamicKey matches member names that are data, not schema: ids, months,
// dates, hashes, codes used as map keys (a cursor keyed by pairing id, a
// trend keyed by month, counts keyed by status value).
var dynamicKey = regexp.MustCompile(`^(|[0-9a-f]{64}|\d{4}-\d{2}(-\d{2})?|.*\d.*|[a-z]+_[a-z_]+:[^ ]+)$`)

// add records the member names of body, answered to user on route.
func (f *fieldSeen) add(user, route string, body []byte) {
	role := matrixRole(user)
	if f.keys[role] == nil {
		f.keys[role] = map[string]string{}
	}
	f.reads++
	var v any
	if json.Unmarshal(body, &v) != nil {
		return // an export (xlsx, csv): its columns are checked by the export tests
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, vv := range x {
				if !dynamicKey.MatchString(k) {
					if _, ok := f.keys[role][k]; !ok {
						f.keys[role][k] = route
					}
				}
				walk(vv)
			}
		case []any:
			for _, vv := range x {
				walk(vv)
			}
		}
	}
	walk(v)
}

// matrixRole is the role of a matrix user ("officerA" → "officer"; root is
// an administrator).
func matrixRole(user string) string {
	if user == "root" {
		return "admin"
	}
	return strings.TrimRight(user, "AB")
}

// check compares what was seen with the allowlist file. PAIRSYNC_FIELDS_DUMP=1
// prints what was seen in the file's format instead (to review a change).
func (f *fieldSeen) check(t *testing.T) {
	t.Helper()
	if os.Getenv("PAIRSYNC_FIELDS_DUMP") == "1" {
		var b strings.Builder
		for _, role := range mapKeys(f.keys) {
			b.WriteString(role + ":")
			for _, k := range mapKeys(f.keys[role]) {
				b.WriteString(" " + k)
			}
			b.WriteString("\n")
		}
		t.Logf("answer members seen, per role:\n%s", b.String())
	}
	allowed := readFieldAllowlist(t)
	bad := 0
	for role, keys := range f.keys {
		for k, route := range keys {
			if !allowed[role][k] && !allowed["*"][k] {
				bad++
				t.Errorf("%s answered %q to a %s: not in testdata/response-fields.txt for that role", route, k, role)
			}
		}
	}
	n := 0
	for _, keys := range f.keys {
		n += len(keys)
	}
	t.Logf("answer allowlist: %d answers read, %d (role, member) pairs seen, %d not allowed", f.reads, n, bad)
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// readFieldAllowlist reads testdata/response-fields.txt: lines
// "role: name name …" (several lines per role add up; role * is every
// role); # starts a comment.
func readFieldAllowlist(t *testing.T) map[string]map[string]bool {
	t.Helper()
	fh, err := os.Open("testdata/response-fields.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	out := map[string]map[string]bool{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		role, names, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		role = strings.TrimSpace(role)
		if out[role] == nil {
			out[role] = map[string]bool{}
		}
		for _, n := range strings.Fields(names) {
			out[role][n] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
