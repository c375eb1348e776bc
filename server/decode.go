package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/syncproto"
)

// maxJSONDepth bounds nesting in REST bodies; none of ours goes past 4.
const maxJSONDepth = 32

// bind decodes a REST request body into v strictly: JSON content type,
// valid UTF-8, bounded depth, no unknown fields, no key twice in an object
// and none that names a field only in another case (strictKeys: what
// syncproto's decoder refuses in pushes), one value. (The size is
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
	if msg := strictKeys(body, reflect.TypeOf(v)); msg != "" {
		return errorf(http.StatusBadRequest, syncproto.CodeInvalidJSON, "%s", msg)
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

// strictKeys reports (as a message, "" when none) an object in data that
// holds a key twice, or two keys equal but for case, or a key that matches
// a field of t only when case is ignored: encoding/json would keep the last
// of two and match "Fields" to fields, so what the server reads could
// differ from what a proxy, a log or a reviewer reads (one rule with the
// push decoder, which refuses duplicates). data is valid JSON or the
// decoder reports it afterwards.
func strictKeys(data []byte, t reflect.Type) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func(t reflect.Type) string
	// walk reads one value, t the Go type it decodes into (nil: unknown).
	walk = func(t reflect.Type) string {
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return ""
				}
				k, _ := kt.(string)
				fold := strings.ToLower(k)
				if seen[fold] {
					return fmt.Sprintf("the key %q appears twice in one object (perhaps in another case)", k)
				}
				seen[fold] = true
				var vt reflect.Type
				if t != nil {
					switch t.Kind() {
					case reflect.Struct:
						name, ft := structField(t, k)
						if name == "" && ft != nil {
							return fmt.Sprintf("the key %q: write it as %q", k, strings.ToLower(k))
						}
						vt = ft
					case reflect.Map:
						vt = t.Elem()
					}
				}
				if msg := walk(vt); msg != "" {
					return msg
				}
			}
			_, _ = dec.Token() // }
		case json.Delim('['):
			var et reflect.Type
			if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				et = t.Elem()
			}
			for dec.More() {
				if msg := walk(et); msg != "" {
					return msg
				}
			}
			_, _ = dec.Token() // ]
		}
		return ""
	}
	return walk(t)
}

// structField finds the field a JSON key sets in a struct: its name and
// type when the key matches exactly; "" and the type when it matches only
// when case is ignored (encoding/json would take it); "" and nil when none.
func structField(t reflect.Type, key string) (string, reflect.Type) {
	var folded reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key {
			return name, f.Type
		}
		if strings.EqualFold(name, key) {
			folded = f.Type
		}
	}
	return "", folded
}
