package syncproto

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Scenario files (testdata/scenarios/*.txt) script replicas and a server in
// a tiny language, one command a line; '#' starts a comment. Records are
// named collection/id and live in pairing p1 unless written "p2:visit/v1".
//
//	clock +1h                         advance the shared clock
//	A: skew -48h                      A's clock runs 48 h behind
//	A: set visit/v1 notes="x" n=5     a local write; values are JSON
//	A: delete visit/v1 | A: keep visit/v1
//	A: push                           push until the outbox is empty
//	A: push once                      one request
//	A: push lose-answer               one request whose answer is lost after the commit
//	A: pull                           pull every page
//	A: sync                           push, then pull
//	A: expect visit/v1 notes="x" conflicts=1 conflict:notes="y" deleted=false flagged=true
//	A: expect visit/v1 absent
//	A: expect-results applied merged rejected:rating   statuses of the last push command
//	A: expect-outbox 0 | A: expect-rejected 1
//	server: expect visit/v1 …        the server's stored version
//	server: expect-seq p1 4           the pairing's sequence
//	server: reject-field rating       a domain rule: writes setting rating are refused
//	server: forget-receipts           stop keeping answers (duplicates then get "duplicate")
//	server: set visit/v1 notes="y"    a write through an admin route (server replica)
//	expect-converged                  every replica with an empty outbox holds exactly the
//	                                  server's version of every record (byte for byte)
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("got %d scenario files, want at least 8", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			runScenario(t, f)
		})
	}
}

type scenario struct {
	now     time.Time
	server  *modelServer
	clients map[string]*modelClient
	order   []string
}

func runScenario(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := &scenario{now: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC), clients: map[string]*modelClient{}}
	sc.server = newModelServer(func() time.Time { return sc.now })
	lines := bufio.NewScanner(f)
	n := 0
	for lines.Scan() {
		n++
		line := lines.Text()
		if i := strings.Index(line, "#"); i >= 0 && !strings.Contains(line[:i], `"`) {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if err := sc.run(line); err != nil {
			t.Fatalf("%s:%d: %s\n    %v", filepath.Base(path), n, line, err)
		}
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
}

func (sc *scenario) client(name string) *modelClient {
	c, ok := sc.clients[name]
	if !ok {
		c = newModelClient(ReplicaID(name))
		sc.clients[name] = c
		sc.order = append(sc.order, name)
	}
	return c
}

// tokens splits a line on spaces outside double quotes.
func tokens(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQ, esc := false, false
	for _, r := range s {
		switch {
		case esc:
			esc = false
		case inQ && r == '\\':
			esc = true
		case r == '"':
			inQ = !inQ
		case !inQ && (r == ' ' || r == '\t'):
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteRune(r)
	}
	if inQ {
		return nil, fmt.Errorf("unterminated string")
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out, nil
}

// recordKey parses "visit/v1" or "p2:visit/v1".
func recordKey(s string) (key, pairing string, err error) {
	pairing = "p1"
	if i := strings.Index(s, ":"); i >= 0 {
		pairing, s = s[:i], s[i+1:]
	}
	if !strings.Contains(s, "/") {
		return "", "", fmt.Errorf("want collection/id, got %q", s)
	}
	return s, pairing, nil
}

func values(args []string) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || !json.Valid([]byte(v)) {
			return nil, fmt.Errorf("want field=<json>, got %q", a)
		}
		out[k] = json.RawMessage(v)
	}
	return out, nil
}

func (sc *scenario) run(line string) error {
	toks, err := tokens(line)
	if err != nil {
		return err
	}
	who, cmd, args := "", toks[0], toks[1:]
	if strings.HasSuffix(toks[0], ":") {
		who = strings.TrimSuffix(toks[0], ":")
		if len(toks) < 2 {
			return fmt.Errorf("missing command")
		}
		cmd, args = toks[1], toks[2:]
	}
	if who == "" {
		switch cmd {
		case "clock":
			d, err := time.ParseDuration(strings.TrimPrefix(strings.Join(args, ""), "+"))
			if err != nil {
				return err
			}
			sc.now = sc.now.Add(d)
			return nil
		case "expect-converged":
			return sc.converged()
		}
		return fmt.Errorf("unknown command %q", cmd)
	}
	if who == "server" {
		return sc.serverCmd(cmd, args)
	}
	c := sc.client(who)
	switch cmd {
	case "skew":
		d, err := time.ParseDuration(strings.TrimPrefix(strings.Join(args, ""), "+"))
		if err != nil {
			return err
		}
		c.skew = d
	case "set", "delete", "keep":
		if len(args) < 1 {
			return fmt.Errorf("%s needs a record", cmd)
		}
		key, pairing, err := recordKey(args[0])
		if err != nil {
			return err
		}
		var vals map[string]json.RawMessage
		if cmd == "set" {
			if vals, err = values(args[1:]); err != nil {
				return err
			}
		}
		return c.write(key, pairing, Op(cmd), vals, sc.now)
	case "push":
		c.results = nil
		mode := ""
		if len(args) > 0 {
			mode = args[0]
		}
		switch mode {
		case "":
			for range 1000 {
				more, err := c.push(sc.server, false)
				if err != nil || !more {
					return err
				}
			}
			return fmt.Errorf("outbox never emptied")
		case "once":
			_, err := c.push(sc.server, false)
			return err
		case "lose-answer":
			_, err := c.push(sc.server, true)
			return err
		}
		return fmt.Errorf("unknown push mode %q", mode)
	case "pull":
		return c.pull(sc.server)
	case "sync":
		if err := sc.run(who + ": push"); err != nil {
			return err
		}
		return c.pull(sc.server)
	case "expect":
		if len(args) < 1 {
			return fmt.Errorf("expect needs a record")
		}
		key, _, err := recordKey(args[0])
		if err != nil {
			return err
		}
		v, err := c.view(key)
		if err != nil {
			return err
		}
		return expectRecord(v, args[1:])
	case "expect-results":
		var got []string
		for _, r := range c.results {
			s := string(r.Status)
			if r.Error != nil && r.Error.Field != "" {
				s += ":" + r.Error.Field
			}
			got = append(got, s)
		}
		if g, w := strings.Join(got, " "), strings.Join(args, " "); g != w {
			return fmt.Errorf("results: got %q, want %q", g, w)
		}
	case "expect-outbox", "expect-rejected":
		want, err := strconv.Atoi(strings.Join(args, ""))
		if err != nil {
			return err
		}
		got := len(c.outbox)
		if cmd == "expect-rejected" {
			got = len(c.rejected)
		}
		if got != want {
			return fmt.Errorf("%s: got %d, want %d", strings.TrimPrefix(cmd, "expect-"), got, want)
		}
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	return nil
}

func (sc *scenario) serverCmd(cmd string, args []string) error {
	s := sc.server
	switch cmd {
	case "reject-field":
		for _, f := range args {
			s.reject[f] = true
		}
	case "forget-receipts":
		s.forget = true
	case "set":
		key, pairing, err := recordKey(args[0])
		if err != nil {
			return err
		}
		vals, err := values(args[1:])
		if err != nil {
			return err
		}
		return s.adminSet(key, pairing, vals)
	case "expect":
		key, _, err := recordKey(args[0])
		if err != nil {
			return err
		}
		var r Record
		if st, ok := s.records[key]; ok {
			r = st.rec
		}
		return expectRecord(r, args[1:])
	case "expect-seq":
		if len(args) != 2 {
			return fmt.Errorf("expect-seq needs a pairing and a number")
		}
		want, err := strconv.ParseUint(args[1], 10, 64)
		if err != nil {
			return err
		}
		if got := s.heads[args[0]]; got != want {
			return fmt.Errorf("sequence of %s: got %d, want %d", args[0], got, want)
		}
	default:
		return fmt.Errorf("unknown server command %q", cmd)
	}
	return nil
}

func expectRecord(r Record, checks []string) error {
	for _, chk := range checks {
		if chk == "absent" {
			if !r.IsZero() {
				return fmt.Errorf("got %s, want no record", r)
			}
			continue
		}
		if r.IsZero() {
			return fmt.Errorf("%s: no such record", chk)
		}
		k, v, ok := strings.Cut(chk, "=")
		if !ok {
			return fmt.Errorf("want check=value, got %q", chk)
		}
		var got string
		switch {
		case k == "conflicts":
			got = strconv.Itoa(len(r.Conflicts))
		case k == "deleted":
			got = strconv.FormatBool(r.Deleted())
		case k == "flagged":
			got = strconv.FormatBool(r.EditDeleteConflict())
		case strings.HasPrefix(k, "conflict:"):
			field := strings.TrimPrefix(k, "conflict:")
			want, err := canonicalValue([]byte(v), DefaultLimits())
			if err != nil {
				return fmt.Errorf("%s: %v", chk, err)
			}
			found := false
			var have []string
			for _, c := range r.ConflictsOf(field) {
				have = append(have, string(c.Value))
				if string(c.Value) == string(want) {
					found = true
				}
			}
			if !found {
				return fmt.Errorf("conflict entries of %s: got [%s], want one with %s", field, strings.Join(have, " "), want)
			}
			continue
		default:
			got = string(r.Value(k))
			if got == "" {
				got = "<unset>"
			}
			if c, err := canonicalValue([]byte(v), DefaultLimits()); err == nil {
				v = string(c)
			}
		}
		if got != v {
			return fmt.Errorf("%s: got %s, want %s (record %s)", k, got, v, r)
		}
	}
	return nil
}

func (sc *scenario) converged() error {
	for _, name := range sc.order {
		c := sc.clients[name]
		if len(c.outbox) > 0 {
			continue
		}
		for key, st := range sc.server.records {
			v, err := c.view(key)
			if err != nil {
				return err
			}
			if got, want := v.String(), st.rec.String(); got != want {
				return fmt.Errorf("%s's %s:\n got  %s\n want %s", name, key, got, want)
			}
		}
		for key := range c.base {
			if _, ok := sc.server.records[key]; !ok {
				return fmt.Errorf("%s holds %s, which the server does not", name, key)
			}
		}
	}
	return nil
}
