package notify

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/pairsync/pairsync/storage"
)

// TestSMSParts: as SMS platforms count a Chinese text: up to 70 characters
// is one message, a longer one parts of 67; an emoji counts two and is
// never cut in half.
func TestSMSParts(t *testing.T) {
	han := func(n int) string { return strings.Repeat("字", n) }
	for _, tc := range []struct {
		text  string
		parts []int // characters of each part (runes)
	}{
		{han(70), []int{70}},
		{han(71), []int{67, 4}},
		{han(134), []int{67, 67}},
		{han(135), []int{67, 67, 1}},
		{han(69) + "😀", []int{67, 3}},          // 71 units: split after 67
		{han(66) + "😀" + han(3), []int{66, 4}}, // the emoji would be part 1's 67th and 68th unit: not cut
		{"", []int{0}},
	} {
		got := SMSParts(tc.text)
		var lens []int
		for _, p := range got {
			lens = append(lens, utf8.RuneCountInString(p))
		}
		if strings.Join(got, "") != tc.text || len(lens) != len(tc.parts) {
			t.Errorf("%d runes: got parts of %v, want %v", utf8.RuneCountInString(tc.text), lens, tc.parts)
			continue
		}
		for i := range lens {
			if lens[i] != tc.parts[i] {
				t.Errorf("%d runes: got parts of %v, want %v", utf8.RuneCountInString(tc.text), lens, tc.parts)
				break
			}
		}
	}
}

// TestSMSMethodHeadersSplit: the gateway's method and headers are the
// operator's (a GET fills {phone} and {text} into the URL, query-escaped,
// and sends no body); a text over 70 characters goes whole in one request,
// or as its parts of 67 when Split.
func TestSMSMethodHeadersSplit(t *testing.T) {
	type req struct{ method, query, key, body string }
	var (
		mu  sync.Mutex
		got []req
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, req{r.Method, r.URL.Query().Get("content") + "|" + r.URL.Query().Get("mobile"), r.Header.Get("X-Api-Key"), string(b)})
		mu.Unlock()
		w.Write([]byte(`{"code":0}`))
	}))
	t.Cleanup(srv.Close)
	take := func() []req {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
	long := storage.Notification{Text: "【结对共建】" + strings.Repeat("字", 65)} // 【结对共建】 + 65 = 71 characters
	to := Recipient{Name: "王芳", Phone: "+86 13800000000"}

	get := &SMS{URL: srv.URL + "/send?mobile={phone}&content={text}", Method: "GET", Headers: http.Header{"X-Api-Key": {"k1"}}}
	if err := get.Check(); err != nil {
		t.Fatal(err)
	}
	if _, err := get.Deliver(t.Context(), storage.Notification{Text: "【结对共建】诉求已交办 & 请签收"}, to); err != nil {
		t.Fatal(err)
	}
	if g := take(); len(g) != 1 || g[0].method != "GET" || g[0].query != "【结对共建】诉求已交办 & 请签收|+86 13800000000" || g[0].key != "k1" || g[0].body != "" {
		t.Fatalf("GET: got %+v, want one GET with the text and phone in the query, the header, no body", g)
	}

	whole := &SMS{URL: srv.URL + "/send", Method: "put", Headers: http.Header{"X-Api-Key": {"k2"}}}
	if _, err := whole.Deliver(t.Context(), long, to); err != nil {
		t.Fatal(err)
	}
	if g := take(); len(g) != 1 || g[0].method != "PUT" || g[0].key != "k2" || !strings.Contains(g[0].body, strings.Repeat("字", 65)) {
		t.Fatalf("71 characters unsplit: got %+v, want one PUT with the whole text", g)
	}

	split := &SMS{URL: srv.URL + "/send", Split: true}
	answer, err := split.Deliver(t.Context(), long, to)
	if err != nil {
		t.Fatal(err)
	}
	g := take()
	if len(g) != 2 || g[0].method != "POST" || !strings.Contains(g[0].body, "【结对共建】"+strings.Repeat("字", 61)+`"`) ||
		!strings.Contains(g[1].body, `"`+strings.Repeat("字", 4)+`"`) || !strings.HasPrefix(answer, "part 2/2: HTTP 200") {
		t.Fatalf("71 characters split: got %+v (answer %q), want two POSTs of 67 and 4 characters", g, answer)
	}
	if Explain(answer) != "sent" {
		t.Errorf("the split SMS's answer %q: got reason %q, want sent", answer, Explain(answer))
	}
	short := storage.Notification{Text: "【结对共建】" + strings.Repeat("字", 64)} // 70: one message
	if _, err := split.Deliver(t.Context(), short, to); err != nil {
		t.Fatal(err)
	}
	if g := take(); len(g) != 1 {
		t.Fatalf("70 characters split: got %d requests, want 1", len(g))
	}

	for _, bad := range []SMS{{URL: srv.URL + "/send?mobile={phone}", Method: "GET"}, {URL: srv.URL, Method: "DELETE"}} {
		if err := bad.Check(); err == nil {
			t.Errorf("check %+v: got no error, want a refusal", bad)
		}
	}
}
