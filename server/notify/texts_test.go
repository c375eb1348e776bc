package notify

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/pairsync/pairsync/storage"
)

// verbs lists a format's arguments as "index:verb", sorted, so two
// formats that take the same arguments in another order compare equal.
func verbs(format string) []string {
	var out []string
	next := 1
	for _, m := range regexp.MustCompile(`%(?:\[(\d+)\])?([a-z%])`).FindAllStringSubmatch(format, -1) {
		if m[2] == "%" {
			continue
		}
		i := next
		if m[1] != "" {
			i, _ = strconv.Atoi(m[1])
		}
		next = i + 1
		out = append(out, strconv.Itoa(i)+":"+m[2])
	}
	slices.Sort(out)
	return out
}

// TestTextsInStep: every notification text is in both languages, taking
// the same arguments; English has no Chinese; a text that starts with the
// app's 【结对共建】 starts with [Pairsync] in English (the titles too);
// and every key the package says exists in the table.
func TestTextsInStep(t *testing.T) {
	all := map[string][2]string{}
	for k, v := range Texts {
		all[k] = v
	}
	for ev, v := range Titles { // every event has one: TestEveryEventHasTitle
		all["title/"+ev] = v
	}
	for k, v := range all {
		zh, en := v[0], v[1]
		if zh == "" || en == "" {
			t.Errorf("%s: a language is missing: %q / %q", k, zh, en)
		}
		if a, b := verbs(zh), verbs(en); !slices.Equal(a, b) {
			t.Errorf("%s: Chinese takes %v, English %v", k, a, b)
		}
		if strings.ContainsFunc(en, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
			t.Errorf("%s: Chinese in the English text %q", k, en)
		}
		if strings.HasPrefix(zh, "【结对共建】") != strings.HasPrefix(en, "[Pairsync] ") {
			t.Errorf("%s: tagged in one language only: %q / %q", k, zh, en)
		}
	}
	files, _ := filepath.Glob("*.go")
	used := regexp.MustCompile(`\b(?:say\([^,]+, |piece\(|optional\(|orPiece\([^,]+, )"([^"]+)"[,)]`)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range used.FindAllStringSubmatch(string(src), -1) {
			n++
			if _, ok := Texts[m[1]]; !ok {
				t.Errorf("%s says %q, which Texts does not have", f, m[1])
			}
		}
	}
	if n < 20 {
		t.Fatalf("found %d uses of the table, want the planner's (20 or more): is the pattern stale?", n)
	}
}

// TestTextsSaid: a few texts in each language, as people read them.
func TestTextsSaid(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{say("zh", "issue_bounced", quoted("融资难"), nthTime(2), optional("reason", "未解决")), "【结对共建】诉求「融资难」已被第2次退回，理由：未解决。请裁决并重新交办。"},
		{say("en", "issue_bounced", quoted("融资难"), nthTime(2), optional("reason", "")), "[Pairsync] The issue “融资难” was bounced for the second time. Please decide and dispatch it again."},
		{say("en", "issue_overdue/supervisors", orPiece("", "handler"), quoted("x"), "3月1日"), "[Pairsync] The issue “x” handled by its handler is past its due date (3月1日): please follow it up."},
		{say("zh", "issue_overdue/supervisors", orPiece("王芳", "handler"), quoted("x"), "3月1日"), "【结对共建】王芳承办的诉求「x」已超过办理期限（3月1日），请督办。"},
		{say("en", "digest/count", piece("todo/to_sign"), 2), "2 to sign for"},
		{say("zh", "project_decided", piece("project/own"), quoted("p"), orPiece("", "administrator"), piece("project_deferred"), optional("reason", "缓一缓"), both{}), "【结对共建】您提出的实事项目「p」已由管理员暂缓，理由：缓一缓。"},
		{say("en", "project_decided", piece("project/pairing"), quoted("p"), orPiece("王芳", "administrator"), piece("project_approved"), both{}, piece("project_approved/next")), "[Pairsync] Your pairing's practical project “p” was approved by 王芳. Please carry it out as planned."},
		{Title(notification("en", EventIssueOverdue)), "Issue overdue"},
		{Title(notification("zh", "unknown")), "结对共建提醒"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func notification(lang, event string) storage.Notification {
	return storage.Notification{Lang: lang, Event: event}
}

// TestNoTextOutsideTable: no string of the package's code but texts.go,
// nor of the server's notification code, holds Chinese: a notification's
// words written inline (as pick("…", "…") once did) would be missed by the
// table's checks and by a person's language. Comments may.
func TestNoTextOutsideTable(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	// The server's notification code: the outbox's routes, the SLA
	// sweep's reminders, the channels' wiring.
	files = append(files, "../notifications.go", "../reminders.go", "../channels.go", "../inbox.go")
	han := func(s string) bool {
		return strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) })
	}
	inline := func(name string) []string {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, nil, 0) // comments left out
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		ast.Inspect(f, func(node ast.Node) bool {
			if lit, ok := node.(*ast.BasicLit); ok && (lit.Kind == token.STRING || lit.Kind == token.CHAR) && han(lit.Value) {
				out = append(out, fmt.Sprintf("%s: %s", fset.Position(lit.Pos()), lit.Value))
			}
			return true
		})
		return out
	}
	scanned := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "texts.go" {
			continue
		}
		scanned++
		for _, at := range inline(name) {
			t.Errorf("%s is written inline: put it in Texts (texts.go), in both languages", at)
		}
	}
	if scanned < 10 {
		t.Fatalf("scanned %d files, want the package's and the server's notification code", scanned)
	}
	// The scan sees what it must: the table's own strings would fail it.
	if got := inline("texts.go"); len(got) < 20 {
		t.Fatalf("texts.go: the scan found %d strings with Chinese, want the table's", len(got))
	}
}
