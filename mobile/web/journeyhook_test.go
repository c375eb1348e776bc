package web_test

import (
	"crypto/hmac"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/pairsync/pairsync/server/notify"
)

const journeyHookSecret = "journey-webhook-key"

// journeyHook is the notification receiver of the people's journeys, on
// 127.0.0.1: pairsyncd posts each notification to /hook (signed; checked
// as a provider would), and a journey reads what arrived, deduplicated by
// id, from GET /received: it plays the person's SMS inbox.
type journeyHook struct {
	url string
	mu  sync.Mutex
	ids []string
	got map[string]notify.WebhookBody
}

func newJourneyHook(t *testing.T) *journeyHook {
	h := &journeyHook{got: map[string]notify.WebhookBody{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/hook":
			raw, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			if sig := r.Header.Get(notify.SignatureHeader); !hmac.Equal([]byte(sig), []byte(notify.Sign([]byte(journeyHookSecret), raw))) {
				t.Errorf("journey webhook: bad signature %q", sig)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			var b notify.WebhookBody
			if err := json.Unmarshal(raw, &b); err != nil || b.ID == "" {
				t.Errorf("journey webhook: body %s: %v", raw, err)
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			h.mu.Lock()
			if _, ok := h.got[b.ID]; !ok {
				h.ids = append(h.ids, b.ID)
			}
			h.got[b.ID] = b
			h.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodGet && r.URL.Path == "/received":
			h.mu.Lock()
			out := make([]notify.WebhookBody, 0, len(h.ids))
			for _, id := range h.ids {
				out = append(out, h.got[id])
			}
			h.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(out)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

// freeAddr reserves a loopback address for pairsyncd, so its public URL
// (the links in notifications) can be given before it starts.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
