package httpapi

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// OpenAPI returns the OpenAPI 3.0 document of the API, generated from
// the route table: the paths, methods, permissions, query parameters and
// the schemas of the bodies, derived from the Go types by their JSON tags.
func (a *API) OpenAPI() []byte {
	schemas := map[string]any{}
	paths := map[string]map[string]any{}
	for _, rt := range a.routes {
		p := openAPIPath(rt.Path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		op := map[string]any{
			"summary":     rt.Summary,
			"tags":        []string{rt.Tag},
			"operationId": operationID(rt),
		}
		var params []any
		for _, seg := range strings.Split(rt.Path, "/") {
			if strings.HasPrefix(seg, ":") {
				schema := map[string]any{"type": "integer", "format": "int64"}
				if rt.PathString {
					schema = map[string]any{"type": "string"}
				}
				params = append(params, map[string]any{"name": seg[1:], "in": "path", "required": true, "schema": schema})
			}
		}
		for _, q := range rt.Query {
			params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Desc, "schema": map[string]any{"type": q.Type}})
		}
		if params != nil {
			op["parameters"] = params
		}
		switch {
		case rt.Perm != "":
			op["x-permission"] = string(rt.Perm)
			op["description"] = "Needs permission " + string(rt.Perm) + "."
		case rt.Auth:
			op["description"] = "Any logged-in user or API token."
		default:
			op["security"] = []any{}
			op["description"] = "No authentication; rate limited."
		}
		if rt.Body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(rt.Body), schemas)}}}
		}
		if rt.CSVBody {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"text/csv": map[string]any{"schema": map[string]any{"type": "string"}}}}
		}
		status := rt.Status
		if status == 0 {
			status = 200
		}
		resp := map[string]any{"description": "success"}
		switch {
		case rt.Resp != nil:
			resp["content"] = map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(rt.Resp), schemas)}}
		case rt.CSVResp:
			resp["content"] = map[string]any{"text/csv": map[string]any{"schema": map[string]any{"type": "string"}}}
		}
		responses := map[string]any{strconv.Itoa(status): resp, "default": map[string]any{"$ref": "#/components/responses/Error"}}
		op["responses"] = responses
		paths[p][strings.ToLower(rt.Method)] = op
	}
	schemas["Error"] = map[string]any{"type": "object", "properties": map[string]any{
		"error":  map[string]any{"type": "string"},
		"fields": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}, "description": "bad fields by JSON name"},
		"rows":   map[string]any{"type": "array", "items": schemaOf(reflect.TypeOf(RowError{}), schemas), "description": "CSV import problems"},
	}, "required": []string{"error"}}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "Varco admin API", "version": "1",
			"description": "varco-admin's JSON API. Browsers use the session cookie and send X-CSRF-Token on writes; scripts use bearer API tokens."},
		"servers": []any{map[string]any{"url": Prefix}},
		"paths":   paths,
		"components": map[string]any{
			"schemas": schemas,
			"responses": map[string]any{"Error": map[string]any{"description": "400 invalid input, 401, 403, 404, 409, 413, 422, 429, 500",
				"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}},
			"securitySchemes": map[string]any{
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": SessionCookie},
				"bearer":  map[string]any{"type": "http", "scheme": "bearer"},
			},
		},
		"security": []any{map[string]any{"session": []any{}}, map[string]any{"bearer": []any{}}},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // maps of strings and slices only
	}
	return append(b, '\n')
}

// openAPIPath turns gin's ":id" into OpenAPI's "{id}".
func openAPIPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") {
			segs[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segs, "/")
}

func operationID(rt Route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.Method))
	for _, s := range strings.Split(rt.Path, "/") {
		s = strings.TrimPrefix(s, ":")
		if s == "" {
			continue
		}
		b.WriteString(strings.ToUpper(s[:1]) + s[1:])
	}
	return b.String()
}

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage{})
)

// schemaOf returns the JSON schema of t, registering named structs in
// schemas and referring to them.
func schemaOf(t reflect.Type, schemas map[string]any) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{"description": "any JSON"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := schemaOf(t.Elem(), schemas)
		if _, ref := s["$ref"]; ref {
			return map[string]any{"allOf": []any{s}, "nullable": true}
		}
		s["nullable"] = true
		return s
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint64, reflect.Uint32, reflect.Uint, reflect.Uint8, reflect.Int8, reflect.Int16, reflect.Uint16:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), schemas)}
	case reflect.Array:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), schemas), "minItems": t.Len(), "maxItems": t.Len()}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), schemas)}
	case reflect.Struct:
		name := schemaName(t)
		if _, done := schemas[name]; !done {
			schemas[name] = nil // recursion guard
			props := map[string]any{}
			addFields(t, props, schemas)
			schemas[name] = map[string]any{"type": "object", "properties": props}
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func addFields(t reflect.Type, props map[string]any, schemas map[string]any) {
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			addFields(f.Type, props, schemas)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = schemaOf(f.Type, schemas)
	}
}

// schemaName names a struct's schema: exported names as they are
// ("Person", "varco.Grant" → "Grant"), the API's own unexported body
// types capitalised.
func schemaName(t reflect.Type) string {
	n := t.Name()
	if n == "" {
		return "Object"
	}
	pkg := t.PkgPath()
	if strings.HasSuffix(pkg, "/varco") {
		return "Varco" + n
	}
	return strings.ToUpper(n[:1]) + n[1:]
}
