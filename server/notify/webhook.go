package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pairsync/pairsync/storage"
)

// Recipient is who a notification goes to, as a channel sends it.
type Recipient struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Phone string `json:"phone,omitempty"`
}

// Webhook posts each notification as JSON to one URL (how a province
// plugs in its 政务短信平台 or OA), signed with
// X-Pairsync-Signature: sha256=<hex HMAC-SHA256 of the body> keyed by
// Secret. A 2xx answer is delivered; anything else is retried.
type Webhook struct {
	URL    string
	Secret []byte
	// Phone adds the recipient's phone number to the body (the sender
	// reads it from the user at delivery; the outbox never stores it).
	Phone bool
	// Client sends the requests; nil means one with a 10 s timeout.
	Client *http.Client
}

// WebhookBody is the JSON a webhook receives.
type WebhookBody struct {
	ID        string    `json:"id"`
	Event     string    `json:"event"`
	Subject   string    `json:"subject"`
	To        Recipient `json:"to"`
	Text      string    `json:"text"`
	Link      string    `json:"link"`
	CreatedAt string    `json:"created_at"`
}

// SignatureHeader is the header carrying the body's signature.
const SignatureHeader = "X-Pairsync-Signature"

// Sign returns the signature header's value for body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Deliver posts n to the webhook. It returns the provider's answer ("HTTP
// 200" and the start of the body) and an error unless the answer was 2xx.
func (w *Webhook) Deliver(ctx context.Context, n storage.Notification, to Recipient) (string, error) {
	if !w.Phone {
		to.Phone = ""
	}
	body, err := json.Marshal(WebhookBody{ID: n.ID, Event: n.Event, Subject: n.Subject, To: to, Text: n.Text, Link: n.Link,
		CreatedAt: n.CreatedAt.UTC().Format(time.RFC3339)})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return "invalid webhook URL", fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(w.Secret, body))
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		// The error names the URL; the secret and the phone are never in it.
		return "no answer: " + clip(err.Error()), fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	answer := strings.TrimSpace(fmt.Sprintf("HTTP %d %s", resp.StatusCode, clip(string(head))))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return answer, fmt.Errorf("webhook: answered %d", resp.StatusCode)
	}
	return answer, nil
}

// clip keeps the start of a provider's answer for administrators.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= 200 {
		return s
	}
	cut := 200
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
