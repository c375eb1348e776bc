package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf16"

	"github.com/pairsync/pairsync/storage"
)

// SMS sends a text message through the operator's HTTP SMS gateway (a
// province's 政务短信平台, a carrier's or a cloud's): one request of Method
// (POST by default) to URL with Headers and Body, {phone} and {text}
// replaced in Body (each JSON-escaped, so they sit inside the template's
// strings) and in URL (query-escaped: a gateway taking GET
// ?mobile={phone}&content={text}). A 2xx answer is delivered.
//
//	SMS{URL: "http://10.0.0.5/sms/send", Body: `{"mobile":"{phone}","content":"{text}"}`, Signature: "结对共建"}
type SMS struct {
	URL    string
	Method string // GET, POST or PUT (empty: POST); a GET sends no body
	// Headers are sent with each request (an API key a gateway wants):
	// never logged nor shown.
	Headers http.Header
	Body    string // JSON with {phone} and {text}; empty: DefaultSMSBody
	// Split sends a text longer than one SMS (SMSSingle characters) as
	// its parts, SMSPart characters each, one request per part, as
	// gateways that do not join long messages need; otherwise the whole
	// text goes in one request (the platform joins and bills it by the
	// same parts).
	Split bool
	// Signature is the 短信签名, sent as 【Signature】 where Text puts
	// {sign} (empty: "结对共建").
	Signature string
	// Text is the message: {sign}, {name} (the recipient's), {text} (the
	// notification's words) and {link} (empty: DefaultSMSText).
	Text string
	// SignHeader, when set, carries the hex HMAC-SHA256 of the body keyed
	// by Secret (gateways that check who calls them).
	SignHeader string
	Secret     []byte
	Client     *http.Client
}

// The defaults of SMS.
const (
	DefaultSMSBody = `{"phone":"{phone}","text":"{text}"}`
	DefaultSMSText = "{sign}{text}"
)

// Check reports a configuration the gateway could not be sent: an
// unknown method; a GET whose URL lacks {phone} or {text}; a body template
// that is not JSON once filled in, or lacks {phone} or {text}.
func (s *SMS) Check() error {
	switch s.method() {
	case http.MethodGet:
		if !strings.Contains(s.URL, "{phone}") || !strings.Contains(s.URL, "{text}") {
			return errors.New("an SMS gateway taken by GET needs {phone} and {text} in its URL")
		}
		if s.SignHeader != "" && len(s.Secret) == 0 {
			return errors.New("the SMS signature header needs a key")
		}
		return nil
	case http.MethodPost, http.MethodPut:
	default:
		return fmt.Errorf("the SMS gateway's method is GET, POST or PUT, not %q", s.Method)
	}
	if !strings.Contains(s.URL+s.body(), "{phone}") || !strings.Contains(s.URL+s.body(), "{text}") {
		return errors.New("the SMS body template needs {phone} and {text}")
	}
	// A phone that is no JSON number; a text with quotes, a backslash and
	// a line break besides Chinese.
	b := s.fill("+86 13800000000", say("zh", "open")+"\"quoted\" \\ \n")
	if !json.Valid(b) {
		return fmt.Errorf("the SMS body template is not JSON once filled in: %s", b)
	}
	if s.SignHeader != "" && len(s.Secret) == 0 {
		return errors.New("the SMS signature header needs a key")
	}
	return nil
}

func (s *SMS) body() string { return cmpOrString(s.Body, DefaultSMSBody) }

// Render is the message n's recipient to gets.
func (s *SMS) Render(n storage.Notification, to Recipient) string {
	return strings.NewReplacer("{sign}", "【"+cmpOrString(s.Signature, DefaultSMSSignature)+"】", "{name}", to.Name,
		"{text}", body(n), "{link}", n.Link).Replace(cmpOrString(s.Text, DefaultSMSText))
}

// fillURL puts phone and text into the URL, query-escaped.
func (s *SMS) fillURL(phone, text string) string {
	return strings.NewReplacer("{phone}", url.QueryEscape(phone), "{text}", url.QueryEscape(text)).Replace(s.URL)
}

// fill puts phone and text into the body template, JSON-escaped.
func (s *SMS) fill(phone, text string) []byte {
	esc := func(v string) string {
		b, _ := json.Marshal(v)
		return string(b[1 : len(b)-1])
	}
	return []byte(strings.NewReplacer("{phone}", esc(phone), "{text}", esc(text)).Replace(s.body()))
}

func (s *SMS) method() string { return strings.ToUpper(cmpOrString(s.Method, http.MethodPost)) }

// How SMS platforms count a Chinese (UCS-2) text message: up to SMSSingle
// characters go as one message; a longer one as parts of SMSPart (the
// rest of each part's 70 carries the header that joins them).
const (
	SMSSingle = 70
	SMSPart   = 67
)

// SMSParts cuts text as SMS platforms count it: one part when it has at
// most SMSSingle characters, else parts of SMSPart. Characters are UTF-16
// units (an emoji is two), never cut in half.
func SMSParts(text string) []string {
	units := func(r rune) int { return utf16.RuneLen(r) }
	n := 0
	for _, r := range text {
		n += max(units(r), 1)
	}
	if n <= SMSSingle {
		return []string{text}
	}
	var parts []string
	var b strings.Builder
	in := 0
	for _, r := range text {
		u := max(units(r), 1)
		if in+u > SMSPart {
			parts = append(parts, b.String())
			b.Reset()
			in = 0
		}
		b.WriteRune(r)
		in += u
	}
	if b.Len() > 0 {
		parts = append(parts, b.String())
	}
	return parts
}

// Deliver sends n to to's phone: one request, or one per part (Split).
func (s *SMS) Deliver(ctx context.Context, n storage.Notification, to Recipient) (string, error) {
	if to.Phone == "" {
		return "no phone number", fmt.Errorf("sms: the recipient has no phone number: %w", ErrPermanent)
	}
	text := s.Render(n, to)
	parts := []string{text}
	if s.Split {
		parts = SMSParts(text)
	}
	var answer string
	for i, part := range parts {
		a, err := s.send(ctx, to.Phone, part)
		answer = a
		if len(parts) > 1 {
			answer = fmt.Sprintf("part %d/%d: %s", i+1, len(parts), a)
		}
		if err != nil {
			return answer, err
		}
	}
	return answer, nil
}

// send makes one request of the gateway.
func (s *SMS) send(ctx context.Context, phone, text string) (string, error) {
	var b []byte
	if s.method() != http.MethodGet {
		b = s.fill(phone, text)
	}
	h := http.Header{}
	for k, vs := range s.Headers {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	if s.SignHeader != "" {
		m := hmac.New(sha256.New, s.Secret)
		if b != nil {
			m.Write(b)
		} else {
			m.Write([]byte(s.fillURL(phone, text)))
		}
		h.Set(s.SignHeader, hex.EncodeToString(m.Sum(nil)))
	}
	status, head, err := request(ctx, s.Client, s.method(), s.fillURL(phone, text), b, h)
	if err != nil {
		if errors.Is(err, ErrPermanent) {
			return "invalid SMS gateway URL", fmt.Errorf("sms: %w", err)
		}
		return "no answer: " + clip(withoutQuery(err.Error())), fmt.Errorf("sms: no answer")
	}
	answer := strings.TrimSpace(fmt.Sprintf("HTTP %d %s", status, clip(string(head))))
	if status < 200 || status > 299 {
		return answer, fmt.Errorf("sms: answered %d", status)
	}
	return answer, nil
}

func cmpOrString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
