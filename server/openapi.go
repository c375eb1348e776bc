package server

import (
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// schemas are the OpenAPI components routes refer to by name.
var schemas = map[string]any{
	"Problem": map[string]any{
		"type":     "object",
		"required": []string{"code", "message"},
		"properties": map[string]any{
			"code":    map[string]any{"type": "string", "description": "wire error code (syncproto.Code)"},
			"message": map[string]any{"type": "string", "description": "for people; may be shown as is"},
			"field":   map[string]any{"type": "string", "description": "the offending field, when there is one"},
		},
	},
	"Health": map[string]any{
		"type": "object",
		"properties": map[string]any{
			"status":  map[string]any{"type": "string"},
			"version": map[string]any{"type": "string"},
		},
	},
}

var pathParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// openAPIPath turns a Fiber pattern into an OpenAPI path template.
func openAPIPath(p string) string {
	return pathParam.ReplaceAllString(p, "{$1}")
}

func ref(name string) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

// openAPI builds the OpenAPI 3.1 description from the route table.
func (s *Server) openAPI() map[string]any {
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
		if r.Request != "" {
			op["requestBody"] = map[string]any{
				"required": true,
				"content":  map[string]any{"application/json": map[string]any{"schema": ref(r.Request)}},
			}
		}
		ok := map[string]any{"description": "OK"}
		if r.Response != "" {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": ref(r.Response)}}
		}
		op["responses"] = map[string]any{
			"200": ok,
			"default": map[string]any{
				"description": "error",
				"content":     map[string]any{"application/json": map[string]any{"schema": ref("Problem")}},
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
		"paths":      paths,
		"components": map[string]any{"schemas": schemas},
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
