package storagetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/pairsync/pairsync/storage"
)

func (s suite) secrets(t *testing.T) {
	t.Run("FirstStoredWins", s.secretsFirstWins)
	t.Run("Refused", s.secretsRefused)
	t.Run("Concurrent", s.secretsConcurrent)
}

func (s suite) secretsFirstWins(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	got, err := st.Secret(ctx, "codes", []byte("one"))
	wantErr(t, "first secret", err, nil)
	if string(got) != "one" {
		t.Fatalf("first secret: got %q, want %q", got, "one")
	}
	got, err = st.Secret(ctx, "codes", []byte("two"))
	wantErr(t, "second secret", err, nil)
	if string(got) != "one" {
		t.Fatalf("second call: got %q, want the stored %q", got, "one")
	}
	other, err := st.Secret(ctx, "other", []byte("three"))
	wantErr(t, "other secret", err, nil)
	if string(other) != "three" {
		t.Fatalf("other name: got %q, want %q", other, "three")
	}
	got[0] = 'X' // returned slices belong to the caller
	again, _ := st.Secret(ctx, "codes", []byte("four"))
	if string(again) != "one" {
		t.Fatalf("after changing a returned slice: got %q, want %q", again, "one")
	}
}

func (s suite) secretsRefused(t *testing.T) {
	st := s.open(t)
	_, err := st.Secret(t.Context(), "", []byte("x"))
	wantErr(t, "empty name", err, storage.ErrInvalid)
	_, err = st.Secret(t.Context(), "n", nil)
	wantErr(t, "empty value", err, storage.ErrInvalid)
}

func (s suite) secretsConcurrent(t *testing.T) {
	s.needConcurrency(t)
	st := s.open(t)
	const n = 16
	got := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v, err := st.Secret(t.Context(), "race", fmt.Appendf(nil, "v%d", i))
			if err != nil {
				t.Errorf("secret %d: got error %v, want none", i, err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for i := range got {
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("racing first stores: process %d got %q, process 0 got %q, want the same secret", i, got[i], got[0])
		}
	}
}
