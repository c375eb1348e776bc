package storagetest

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
)

// Pattern yields size bytes of a repeating pattern without holding them,
// for the tests that prove an adapter streams a large photo. The bytes
// restart at every Read: read it in 32 KiB chunks, as io.Copy does, to get
// the bytes PatternSum hashes.
func Pattern(size int64) io.Reader { return &pattern{left: size} }

// PatternSum is the SHA-256, in hex, of Pattern(size) read by io.Copy.
func PatternSum(size int64) string {
	h := sha256.New()
	if _, err := io.Copy(h, Pattern(size)); err != nil {
		panic(err) // a pattern never fails
	}
	return hex.EncodeToString(h.Sum(nil))
}

type pattern struct{ left int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	for i := range b {
		b[i] = byte(i)
	}
	p.left -= int64(len(b))
	return len(b), nil
}
