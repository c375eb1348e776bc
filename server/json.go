package server

import (
	"bytes"
	"encoding/json"
)

// marshalJSON is the response encoder: encoding/json without HTML escaping,
// so Chinese text and URLs travel as they are.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
