package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/syncproto"
)

// maxJSONDepth bounds nesting in REST bodies; none of ours goes past 4.
const maxJSONDepth = 32

// bind decodes a REST request body into v strictly: JSON content type,
// valid UTF-8, bounded depth, no unknown fields, one value. (The size is
// bounded by Fiber's BodyLimit before the handler runs.) Sync bodies use
// syncproto's decoders instead, which ignore unknown fields for
// forward compatibility.
func bind(c *fiber.Ctx, v any) error {
	ct := strings.ToLower(c.Get(fiber.HeaderContentType))
	if !strings.HasPrefix(ct, fiber.MIMEApplicationJSON) {
		return errorf(http.StatusUnsupportedMediaType, syncproto.CodeUnsupportedMedia, "send JSON with Content-Type: application/json")
	}
	body := c.Body()
	if !utf8.Valid(body) {
		return errorf(http.StatusBadRequest, syncproto.CodeInvalidJSON, "the body is not valid UTF-8")
	}
	if d := depth(body); d > maxJSONDepth {
		return errorf(http.StatusBadRequest, syncproto.CodeInvalidJSON, "JSON nested deeper than %d levels", maxJSONDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &Error{Status: http.StatusBadRequest, Cause: err,
			Wire: syncproto.Error{Code: syncproto.CodeInvalidJSON, Message: jsonMessage(err)}}
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, syncproto.CodeInvalidJSON, "the body holds more than one JSON value")
	}
	return nil
}

// jsonMessage explains a decoding error without echoing the body.
func jsonMessage(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s", te.Field, te.Type.String())
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	case errors.Is(err, io.EOF):
		return "the body is empty"
	}
	return "malformed JSON"
}

// depth returns the deepest nesting of objects and arrays in data, skipping
// strings. It does not validate; the decoder does.
func depth(data []byte) int {
	d, maxD := 0, 0
	inString, escaped := false, false
	for _, b := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
			continue
		}
		switch b {
		case '"':
			inString = true
		case '{', '[':
			d++
			if d > maxD {
				maxD = d
			}
		case '}', ']':
			d--
		}
	}
	return maxD
}

// badRequest is a 400 naming the offending field.
func badRequest(field, format string, args ...any) *Error {
	e := errorf(http.StatusBadRequest, syncproto.CodeValidation, format, args...)
	e.Wire.Field = field
	return e
}
