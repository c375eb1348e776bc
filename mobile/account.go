package mobile

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/pairsync/pairsync/syncproto"
)

// Account is who the engine is signed in as, and where. It holds no token.
type Account struct {
	Server   string
	UserID   string
	Username string
	Name     string
	Role     string // officer, contact, admin or viewer
	DeviceID string
}

// Account returns the signed-in account (the zero Account before SignIn).
func (e *Engine) Account() Account {
	var a Account
	_ = e.db.View(func(tx *bolt.Tx) error {
		if s, ok, _ := loadSession(tx); ok {
			a = Account{Server: s.Server, UserID: s.UserID, Username: s.Username, Name: s.Name, Role: s.Role, DeviceID: s.DeviceID}
		}
		return nil
	})
	return a
}

// PendingIn returns how many local writes to records of a pairing wait
// for the server's answer.
func (e *Engine) PendingIn(pairing string) int {
	n := 0
	_ = e.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).ForEach(func(_, v []byte) error {
			if w, err := decodeWrite(v); err == nil && w.Pairing == pairing {
				n++
			}
			return nil
		})
	})
	return n
}

// Scopes asks the server how far each pairing the user may see has gone
// (Head) and says how far this phone has read it (Seq), by pairing. It
// fails offline: a quick way to tell "offline" from "behind".
func (e *Engine) Scopes(ctx context.Context) ([]PairingProgress, error) {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	var (
		sess session
		ok   bool
		cur  syncproto.Cursor
	)
	err := e.db.View(func(tx *bolt.Tx) error {
		var err error
		sess, ok, err = loadSession(tx)
		cur = readCursor(tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mobile: scopes: %w", dbErr(err))
	}
	if !ok || sess.DeviceID == "" {
		return nil, ErrNotSignedIn
	}
	c := &conn{e: e, sess: sess}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/sync/scopes", auth: true})
	if err != nil {
		return nil, fmt.Errorf("mobile: scopes: %w", err)
	}
	ans, err := syncproto.DecodeScopes(resp, answerLimits)
	if err != nil {
		return nil, fmt.Errorf("mobile: scopes answer: %w", err)
	}
	out := make([]PairingProgress, 0, len(ans.Pairings))
	for _, sc := range ans.Pairings {
		out = append(out, PairingProgress{Pairing: sc.Pairing, Seq: cur[sc.Pairing], Head: sc.Seq})
	}
	slices.SortFunc(out, func(a, b PairingProgress) int { return strings.Compare(a.Pairing, b.Pairing) })
	return out, nil
}
