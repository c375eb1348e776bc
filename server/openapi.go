package server

import (
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/syncproto"
)

// schemaSet collects OpenAPI component schemas generated from Go types, so
// the description cannot drift from the structs the handlers decode and
// encode.
type schemaSet map[string]any

// namedSchema is a schema written by hand, for bodies whose JSON is not
// their Go struct (the sync messages, which syncproto encodes canonically).
type namedSchema struct {
	name   string
	schema map[string]any
}

var syncDoc = "Wire format of package syncproto (see syncproto/doc.go): dots are \"replica:counter\", HLCs [wall_ms, logical]."

var (
	schemaRecord = map[string]any{"type": "object", "description": "A record version: collection, id, pairing, fields {name: {value, dot, hlc}}, vv, conflicts, deletes, keeps. " + syncDoc}
	schemaPush   = namedSchema{"SyncPushRequest", map[string]any{"type": "object", "required": []string{"v", "device", "changes"}, "properties": map[string]any{
		"v": map[string]any{"type": "integer", "enum": []int{1}}, "device": map[string]any{"type": "string"},
		"changes": map[string]any{"type": "array", "maxItems": 500, "items": map[string]any{"type": "object", "properties": map[string]any{
			"dot": map[string]any{"type": "string"}, "hlc": map[string]any{"type": "array"}, "record": schemaRecord}}}}}}
	schemaPushAnswer = namedSchema{"SyncPushAnswer", map[string]any{"type": "object", "properties": map[string]any{
		"v": map[string]any{"type": "integer"}, "results": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{
			"dot": map[string]any{"type": "string"}, "status": map[string]any{"type": "string", "enum": []string{"applied", "merged", "duplicate", "rejected"}},
			"seq": map[string]any{"type": "integer"}, "error": map[string]any{"$ref": "#/components/schemas/Syncproto_Error"}}}}}}}
	schemaPull = namedSchema{"SyncPullRequest", map[string]any{"type": "object", "properties": map[string]any{
		"v": map[string]any{"type": "integer", "enum": []int{1}}, "cursor": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "integer"}},
		"limit": map[string]any{"type": "integer", "maximum": 500},
		// syncproto.Held: per pairing, [from, to] ranges of sequences past the cursor the device holds already.
		"held": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "array", "maxItems": syncproto.MaxHeldRanges,
			"items": map[string]any{"type": "array", "minItems": 2, "maxItems": 2, "items": map[string]any{"type": "integer", "minimum": 1}}}}}}}
	schemaPullAnswer = namedSchema{"SyncPullAnswer", map[string]any{"type": "object", "properties": map[string]any{
		"v": map[string]any{"type": "integer"}, "records": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{
			"pairing": map[string]any{"type": "string"}, "seq": map[string]any{"type": "integer"}, "record": schemaRecord}}},
		"cursor": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "integer"}}, "more": map[string]any{"type": "boolean"},
		"resync": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}, "purge": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}}}}
	schemaScopes = namedSchema{"SyncScopesAnswer", map[string]any{"type": "object", "properties": map[string]any{
		"v": map[string]any{"type": "integer"}, "pairings": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{
			"pairing": map[string]any{"type": "string"}, "seq": map[string]any{"type": "integer"}}}},
		"purge": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}}}}
)

// ref returns a reference to v's type, generating its schema (and those of
// the types it contains) on first use.
func (ss schemaSet) ref(v any) map[string]any {
	if n, ok := v.(namedSchema); ok {
		ss[n.name] = n.schema
		return map[string]any{"$ref": "#/components/schemas/" + n.name}
	}
	return ss.schema(reflect.TypeOf(v))
}

var timeType = reflect.TypeOf(time.Time{})

func (ss schemaSet) schema(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Struct:
		name := componentName(t)
		if _, ok := ss[name]; !ok {
			ss[name] = nil // placeholder against recursion
			props := map[string]any{}
			var required []string
			ss.fields(t, props, &required)
			obj := map[string]any{"type": "object", "properties": props}
			if len(required) > 0 {
				obj["required"] = required
			}
			ss[name] = obj
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": ss.schema(t.Elem())}
	case t.Kind() == reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": ss.schema(t.Elem())}
	case t.Kind() == reflect.String:
		return map[string]any{"type": "string"}
	case t.Kind() == reflect.Bool:
		return map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return map[string]any{"type": "integer"}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return map[string]any{"type": "number"}
	}
	return map[string]any{}
}

// fields adds t's JSON fields (embedded structs flattened) to props.
func (ss schemaSet) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ss.fields(f.Type, props, required)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = ss.schema(f.Type)
		if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
			*required = append(*required, name)
		}
		if f.Type.Kind() == reflect.Pointer && !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			props[name] = nullable(props[name].(map[string]any)) // encoding/json writes a nil pointer as null
		}
	}
}

// nullable is schema, or null.
func nullable(schema map[string]any) map[string]any {
	if t, ok := schema["type"].(string); ok {
		out := map[string]any{"type": []string{t, "null"}}
		for k, v := range schema {
			if k != "type" {
				out[k] = v
			}
		}
		return out
	}
	return map[string]any{"anyOf": []any{schema, map[string]any{"type": "null"}}}
}

// componentName names a schema after its Go type: loginRequest → LoginRequest.
func componentName(t reflect.Type) string {
	n := t.Name()
	if t.PkgPath() != "" && !strings.HasSuffix(t.PkgPath(), "/server") {
		n = t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:] + "." + n
	}
	n = strings.ReplaceAll(n, ".", "_")
	return strings.ToUpper(n[:1]) + n[1:]
}

var pathParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// openAPIPath turns a Fiber pattern into an OpenAPI path template.
func openAPIPath(p string) string {
	return pathParam.ReplaceAllString(p, "{$1}")
}

// openAPI builds the OpenAPI 3.1 description from the route table.
func (s *Server) openAPI() map[string]any {
	ss := schemaSet{}
	problem := ss.ref(syncproto.Error{})
	paths := map[string]map[string]any{}
	for _, r := range s.routes {
		p := openAPIPath(r.Path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		op := map[string]any{
			"summary":     r.Summary,
			"operationId": operationID(r.Method, r.Path),
			"tags":        []string{r.Tag},
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(r.Path, -1) {
			params = append(params, map[string]any{
				"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"},
			})
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.Request != nil {
			op["requestBody"] = map[string]any{
				"required": true,
				"content":  map[string]any{"application/json": map[string]any{"schema": ss.ref(r.Request)}},
			}
		}
		if r.Auth {
			op["security"] = []any{map[string]any{"bearer": []string{}}}
		}
		ok := map[string]any{"description": "OK"}
		if r.Response != nil {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": ss.ref(r.Response)}}
		}
		op["responses"] = map[string]any{
			"200": ok,
			"default": map[string]any{
				"description": "error",
				"content":     map[string]any{"application/json": map[string]any{"schema": problem}},
			},
		}
		paths[p][strings.ToLower(r.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Pairsync API",
			"version":     s.cfg.Version,
			"description": "Offline-first sync backend for 结对共建 pairing work. Errors are {code, message} bodies; codes are defined in package syncproto.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": ss,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT (EdDSA, 10 minutes)"},
			},
		},
	}
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.Split(path, "/") {
		part = strings.TrimPrefix(part, ":")
		part = strings.NewReplacer(".", "_", "-", "_").Replace(part)
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func (s *Server) openAPIHandler(c *fiber.Ctx) error {
	return c.JSON(s.openAPI())
}
