package api_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/leptonmesh/lepton/internal/api"
)

// schemaTypes maps every schema of the document to the Go type it describes.
var schemaTypes = map[string]reflect.Type{
	"Member":           reflect.TypeFor[api.Member](),
	"Status":           reflect.TypeFor[api.Status](),
	"RaftServer":       reflect.TypeFor[api.RaftServer](),
	"RaftPeers":        reflect.TypeFor[api.RaftPeers](),
	"ForceLeaveResult": reflect.TypeFor[api.ForceLeaveResult](),
	"Version":          reflect.TypeFor[api.Version](),
	"Health":           reflect.TypeFor[api.Health](),
	"Error":            reflect.TypeFor[api.Error](),
}

// routes lists every route the agent serves with the schema of its 200 answer
// ("" for answers that are not a types.go shape).
var routes = []struct {
	method, path, okSchema string
	array                  bool
}{
	{"get", "/v1/status", "Status", false},
	{"get", "/v1/members", "Member", true},
	{"get", "/v1/raft/peers", "RaftPeers", false},
	{"post", "/v1/members/{name}/force-leave", "ForceLeaveResult", false},
	{"get", "/v1/version", "Version", false},
	{"get", "/v1/health", "Health", false},
	{"get", "/v1/openapi.json", "", false},
	{"get", "/metrics", "", false},
}

type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Required             []string           `json:"required"`
	Properties           map[string]*schema `json:"properties"`
	Items                *schema            `json:"items"`
	AdditionalProperties *schema            `json:"additionalProperties"`
}

type mediaType struct {
	Schema *schema `json:"schema"`
}

type response struct {
	Ref     string               `json:"$ref"`
	Content map[string]mediaType `json:"content"`
}

type operation struct {
	OperationID string              `json:"operationId"`
	Responses   map[string]response `json:"responses"`
}

type document struct {
	OpenAPI    string                          `json:"openapi"`
	Security   []map[string][]string           `json:"security"`
	Paths      map[string]map[string]operation `json:"paths"`
	Components struct {
		Schemas         map[string]*schema           `json:"schemas"`
		Responses       map[string]response          `json:"responses"`
		SecuritySchemes map[string]map[string]string `json:"securitySchemes"`
	} `json:"components"`
}

func loadDocument(t *testing.T) document {
	t.Helper()
	var doc document
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Fatalf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	return doc
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadDocument(t)
	var want []string
	for _, r := range routes {
		want = append(want, r.path)
		ops, ok := doc.Paths[r.path]
		if !ok {
			t.Errorf("path %s missing", r.path)
			continue
		}
		op, ok := ops[r.method]
		if !ok {
			t.Errorf("%s %s missing", strings.ToUpper(r.method), r.path)
			continue
		}
		if _, ok := op.Responses["401"]; !ok {
			t.Errorf("%s %s does not document 401", strings.ToUpper(r.method), r.path)
		}
		if r.okSchema == "" {
			continue
		}
		got := op.Responses["200"].Content["application/json"].Schema
		if r.array {
			if got == nil || got.Type != "array" || got.Items == nil {
				t.Errorf("%s %s: 200 answer is not an array", strings.ToUpper(r.method), r.path)
				continue
			}
			got = got.Items
		}
		if got == nil || got.Ref != "#/components/schemas/"+r.okSchema {
			t.Errorf("%s %s: 200 answer schema = %+v, want %s", strings.ToUpper(r.method), r.path, got, r.okSchema)
		}
	}
	var have []string
	for p := range doc.Paths {
		have = append(have, p)
	}
	sort.Strings(want)
	sort.Strings(have)
	if !slices.Equal(have, want) {
		t.Errorf("document paths = %v, want exactly %v", have, want)
	}

	if doc.Components.SecuritySchemes["bearerAuth"]["scheme"] != "bearer" {
		t.Errorf("bearerAuth security scheme missing")
	}
	if len(doc.Security) == 0 || doc.Security[0]["bearerAuth"] == nil {
		t.Errorf("global security does not name bearerAuth: %v", doc.Security)
	}
}

func TestOpenAPIReferencesResolve(t *testing.T) {
	var raw any
	if err := json.Unmarshal(api.OpenAPI, &raw); err != nil {
		t.Fatal(err)
	}
	doc := raw.(map[string]any)
	components := doc["components"].(map[string]any)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if k == "$ref" {
					ref, _ := child.(string)
					parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
					if !strings.HasPrefix(ref, "#/components/") || len(parts) != 2 {
						t.Errorf("%s: unsupported $ref %q", path, ref)
						continue
					}
					section, _ := components[parts[0]].(map[string]any)
					if _, ok := section[parts[1]]; !ok {
						t.Errorf("%s: $ref %q does not resolve", path, ref)
					}
					continue
				}
				walk(path+"/"+k, child)
			}
		case []any:
			for _, child := range v {
				walk(path, child)
			}
		}
	}
	walk("", doc)
}

// TestOpenAPISchemasMatchGoTypes keeps the document from drifting from
// types.go: property names are the json tags, required lists the fields
// without omitempty, and each property's type follows the Go field's type.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	doc := loadDocument(t)
	names := make(map[reflect.Type]string)
	for name, typ := range schemaTypes {
		names[typ] = name
	}
	for name := range doc.Components.Schemas {
		if _, ok := schemaTypes[name]; !ok {
			t.Errorf("schema %s has no Go type in the test's table", name)
		}
	}
	for name, typ := range schemaTypes {
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s (Go %s) missing", name, typ)
			continue
		}
		if s.Type != "object" {
			t.Errorf("schema %s: type %q, want object", name, s.Type)
		}
		var props, required []string
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || tag == "-" {
				continue
			}
			if tag == "" {
				tag = f.Name
			}
			props = append(props, tag)
			if !strings.Contains(opts, "omitempty") {
				required = append(required, tag)
			}
			if p := s.Properties[tag]; p != nil {
				checkPropertyType(t, name+"."+tag, p, f.Type, names)
			}
		}
		var docProps []string
		for p := range s.Properties {
			docProps = append(docProps, p)
		}
		sort.Strings(props)
		sort.Strings(docProps)
		if !slices.Equal(docProps, props) {
			t.Errorf("schema %s properties = %v, Go %s json tags = %v", name, docProps, typ, props)
		}
		docRequired := slices.Clone(s.Required)
		sort.Strings(required)
		sort.Strings(docRequired)
		if !slices.Equal(docRequired, required) {
			t.Errorf("schema %s required = %v, Go fields without omitempty = %v", name, docRequired, required)
		}
	}
}

func checkPropertyType(t *testing.T, where string, p *schema, typ reflect.Type, names map[reflect.Type]string) {
	t.Helper()
	switch typ.Kind() {
	case reflect.String:
		if p.Type != "string" {
			t.Errorf("%s: type %q, want string", where, p.Type)
		}
	case reflect.Bool:
		if p.Type != "boolean" {
			t.Errorf("%s: type %q, want boolean", where, p.Type)
		}
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		if p.Type != "integer" {
			t.Errorf("%s: type %q, want integer", where, p.Type)
		}
	case reflect.Slice:
		if p.Type != "array" || p.Items == nil {
			t.Errorf("%s: want an array with items", where)
			return
		}
		checkPropertyType(t, where+"[]", p.Items, typ.Elem(), names)
	case reflect.Map:
		if p.Type != "object" || p.AdditionalProperties == nil {
			t.Errorf("%s: want an object with additionalProperties", where)
			return
		}
		checkPropertyType(t, where+"{}", p.AdditionalProperties, typ.Elem(), names)
	case reflect.Struct:
		name, ok := names[typ]
		if !ok {
			t.Errorf("%s: Go type %s has no schema", where, typ)
			return
		}
		if p.Ref != "#/components/schemas/"+name {
			t.Errorf("%s: $ref %q, want %s", where, p.Ref, name)
		}
	default:
		t.Errorf("%s: Go kind %s not handled by this test", where, typ.Kind())
	}
}

// TestEveryTypeHasASchema catches a type added to types.go without a schema.
func TestEveryTypeHasASchema(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "types.go", nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.TYPE {
			continue
		}
		for _, spec := range gen.Specs {
			name := spec.(*ast.TypeSpec).Name.Name
			if _, ok := schemaTypes[name]; ast.IsExported(name) && !ok {
				t.Errorf("types.go declares %s but openapi.json has no schema for it", name)
			}
		}
	}
}
