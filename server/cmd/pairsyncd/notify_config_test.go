package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNotifyWebhookConfig: the webhook's URL, key and phone setting come
// from flags and the environment; the key only from the environment or a
// file, and a URL without a key is refused at start.
func TestNotifyWebhookConfig(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		env      map[string]string
		wantErr  string
		url, key string
		phone    bool
	}{
		{name: "off by default"},
		{name: "flag and environment key", args: []string{"-notify-webhook-url", "https://oa.example/hook", "-notify-webhook-phone=true"},
			env: map[string]string{"PAIRSYNC_NOTIFY_WEBHOOK_SECRET": "from-env"}, url: "https://oa.example/hook", key: "from-env", phone: true},
		{name: "environment and key file", args: []string{"-notify-webhook-secret-file", keyFile},
			env: map[string]string{"PAIRSYNC_NOTIFY_WEBHOOK_URL": "http://10.0.0.5/sms"}, url: "http://10.0.0.5/sms", key: "from-file"},
		{name: "URL without a key", args: []string{"-notify-webhook-url", "https://oa.example/hook"}, wantErr: "PAIRSYNC_NOTIFY_WEBHOOK_SECRET"},
		{name: "not a URL", args: []string{"-notify-webhook-url", "oa.example/hook"}, env: map[string]string{"PAIRSYNC_NOTIFY_WEBHOOK_SECRET": "k"}, wantErr: "http(s) URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			w := c.Server.NotifyWebhook
			if w.URL != tc.url || string(w.Secret) != tc.key || w.Phone != tc.phone {
				t.Fatalf("got URL %q key %q phone %v, want %q %q %v", w.URL, w.Secret, w.Phone, tc.url, tc.key, tc.phone)
			}
		})
	}
}
