package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pairsync/pairsync/storage"
)

// ErrPermanent marks a delivery that no retry can mend (no phone number,
// a request the provider refuses as malformed): the sender marks the
// notification failed at once.
var ErrPermanent = errors.New("notify: permanent failure")

// post sends body as JSON to url and returns the answer's status and the
// start of its body.
func post(ctx context.Context, client *http.Client, url string, body []byte, header http.Header) (int, []byte, error) {
	return request(ctx, client, http.MethodPost, url, body, header)
}

// request sends body (JSON; nil: none) to url with method; header may
// replace the Content-Type.
func request(ctx context.Context, client *http.Client, method, url string, body []byte, header http.Header) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("invalid URL: %w", ErrPermanent)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, head, nil
}

// robotAnswer reads a 企业微信 or 钉钉 robot's answer, {"errcode":0,
// "errmsg":"ok"}: delivered only on HTTP 2xx with errcode 0.
func robotAnswer(name string, status int, body []byte, err error) (string, error) {
	if err != nil {
		// The error names the host and path; the query (the robot's key,
		// the signature) is cut off.
		return "no answer: " + clip(withoutQuery(err.Error())), fmt.Errorf("%s: no answer", name)
	}
	answer := strings.TrimSpace(fmt.Sprintf("HTTP %d %s", status, clip(string(body))))
	if status < 200 || status > 299 {
		return answer, fmt.Errorf("%s: answered %d", name, status)
	}
	var ans struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if json.Unmarshal(body, &ans) != nil || ans.ErrCode == nil {
		return answer, fmt.Errorf("%s: not a robot's answer", name)
	}
	if *ans.ErrCode != 0 {
		return fmt.Sprintf("errcode %d %s", *ans.ErrCode, clip(ans.ErrMsg)), fmt.Errorf("%s: errcode %d", name, *ans.ErrCode)
	}
	return answer, nil
}

// withoutQuery cuts the query off every URL in an error's text.
func withoutQuery(s string) string {
	var b strings.Builder
	for s != "" {
		i := strings.IndexByte(s, '?')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		j := strings.IndexAny(s, "\": ")
		if j < 0 {
			break
		}
		s = s[j:]
	}
	return b.String()
}

// body is what a person reads in a robot's or an SMS message: the text
// without its 【签名】 (each channel puts its own), named for its recipient.
func body(n storage.Notification) string {
	t := n.Text
	if strings.HasPrefix(t, "【") {
		if i := strings.Index(t, "】"); i > 0 {
			t = t[i+len("】"):]
		}
	}
	return strings.TrimPrefix(t, "[Pairsync] ")
}

// clipBytes keeps at most max bytes of s, cut at a rune.
func clipBytes(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Title is n's event in words, in its language.
func Title(n storage.Notification) string {
	t, ok := Titles[n.Event]
	switch {
	case !ok:
		return say(n.Lang, "title")
	case n.Lang == "en":
		return t[1]
	}
	return t[0]
}
