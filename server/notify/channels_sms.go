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
	"strings"

	"github.com/pairsync/pairsync/storage"
)

// SMS sends a text message through the operator's HTTP SMS gateway (a
// province's 政务短信平台, a carrier's or a cloud's): one POST to URL of
// Body with {phone} and {text} replaced (each JSON-escaped, so they sit
// inside the template's strings). A 2xx answer is delivered.
//
//	SMS{URL: "http://10.0.0.5/sms/send", Body: `{"mobile":"{phone}","content":"{text}"}`, Signature: "结对共建"}
type SMS struct {
	URL  string
	Body string // JSON with {phone} and {text}; empty: DefaultSMSBody
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
	DefaultSMSBody      = `{"phone":"{phone}","text":"{text}"}`
	DefaultSMSText      = "{sign}{text}"
	DefaultSMSSignature = "结对共建"
)

// Check reports a configuration the gateway could not be sent: a body
// template that is not JSON once filled in, or lacks {phone} or {text}.
func (s *SMS) Check() error {
	if !strings.Contains(s.body(), "{phone}") || !strings.Contains(s.body(), "{text}") {
		return errors.New("the SMS body template needs {phone} and {text}")
	}
	b := s.fill("+86 13800000000", `一段"带引号"的\短信`) // a phone that is no JSON number
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

// fill puts phone and text into the body template, JSON-escaped.
func (s *SMS) fill(phone, text string) []byte {
	esc := func(v string) string {
		b, _ := json.Marshal(v)
		return string(b[1 : len(b)-1])
	}
	return []byte(strings.NewReplacer("{phone}", esc(phone), "{text}", esc(text)).Replace(s.body()))
}

// Deliver sends n to to's phone.
func (s *SMS) Deliver(ctx context.Context, n storage.Notification, to Recipient) (string, error) {
	if to.Phone == "" {
		return "no phone number", fmt.Errorf("sms: the recipient has no phone number: %w", ErrPermanent)
	}
	b := s.fill(to.Phone, s.Render(n, to))
	h := http.Header{}
	if s.SignHeader != "" {
		m := hmac.New(sha256.New, s.Secret)
		m.Write(b)
		h.Set(s.SignHeader, hex.EncodeToString(m.Sum(nil)))
	}
	status, head, err := post(ctx, s.Client, s.URL, b, h)
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
