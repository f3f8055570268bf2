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
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/jobspec"
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
	"JobSubmitted":     reflect.TypeFor[api.JobSubmitted](),
	"JobEndpoint":      reflect.TypeFor[api.JobEndpoint](),
	"JobPair":          reflect.TypeFor[api.JobPair](),
	"Job":              reflect.TypeFor[api.Job](),
	"FileReport":       reflect.TypeFor[api.FileReport](),
	"JobReport":        reflect.TypeFor[api.JobReport](),
	"JobSpec":          reflect.TypeFor[jobspec.Spec](),
	"DrillCrash":       reflect.TypeFor[api.DrillCrash](),
	"DrillCrashResult": reflect.TypeFor[api.DrillCrashResult](),
	"LeaderTransfer":   reflect.TypeFor[api.LeaderTransfer](),
}

// sameShapes are Go types described by a schema of another type with the
// same JSON shape: a job's endpoint reads the same in and out.
var sameShapes = map[reflect.Type]string{
	reflect.TypeFor[jobspec.Endpoint](): "JobEndpoint",
}

// requestRequired lists, for a request schema, the keys the agent cannot do
// without; the others take defaults, so "required" is not "without
// omitempty" there.
var requestRequired = map[string][]string{
	"JobSpec": {"name", "source", "target"},
}

// routes lists every route the agent serves with the schema of its 200 answer
// ("" for answers that are not a types.go shape).
var routes = []struct {
	method, path, okSchema string
	array                  bool
	okCode                 string // "" for 200
}{
	{"get", "/v1/status", "Status", false, ""},
	{"get", "/v1/members", "Member", true, ""},
	{"get", "/v1/raft/peers", "RaftPeers", false, ""},
	{"post", "/v1/members/{name}/force-leave", "ForceLeaveResult", false, ""},
	{"get", "/v1/version", "Version", false, ""},
	{"get", "/v1/health", "Health", false, ""},
	{"get", "/v1/openapi.json", "", false, ""},
	{"get", "/metrics", "", false, ""},
	{"get", "/v1/jobs", "Job", true, ""},
	{"post", "/v1/jobs", "JobSubmitted", false, "201"},
	{"get", "/v1/jobs/{id}", "Job", false, ""},
	{"post", "/v1/jobs/{id}/pause", "Job", false, ""},
	{"post", "/v1/jobs/{id}/resume", "Job", false, ""},
	{"post", "/v1/jobs/{id}/cancel", "Job", false, ""},
	{"get", "/v1/jobs/{id}/report", "JobReport", false, ""},
	{"post", "/v1/drill/crash", "DrillCrashResult", false, "202"},
	{"post", "/v1/drill/transfer-leader", "LeaderTransfer", false, ""},
}

// requestBodies names the schema of each route that takes a body.
var requestBodies = map[string]string{
	"post /v1/jobs":        "JobSpec",
	"post /v1/drill/crash": "DrillCrash",
}

type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Format               string             `json:"format"`
	Enum                 []string           `json:"enum"`
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
	OperationID string `json:"operationId"`
	RequestBody *struct {
		Required bool                 `json:"required"`
		Content  map[string]mediaType `json:"content"`
	} `json:"requestBody"`
	Responses map[string]response `json:"responses"`
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
		key := r.method + " " + r.path
		if want, ok := requestBodies[key]; ok {
			if op.RequestBody == nil || !op.RequestBody.Required {
				t.Errorf("%s: no required request body", key)
			} else if got := op.RequestBody.Content["application/json"].Schema; got == nil || got.Ref != "#/components/schemas/"+want {
				t.Errorf("%s: request body schema = %+v, want %s", key, got, want)
			}
		} else if op.RequestBody != nil {
			t.Errorf("%s: documents a request body it does not take", key)
		}
		if r.okSchema == "" {
			continue
		}
		code := r.okCode
		if code == "" {
			code = "200"
		}
		got := op.Responses[code].Content["application/json"].Schema
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
	want = slices.Compact(slices.Sorted(slices.Values(want))) // GET and POST share a path
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
// types.go, jobs.go and drill.go: property names are the json tags, required lists the
// fields without omitempty (for a request, the keys it cannot do without),
// and each property's type follows the Go field's type.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	doc := loadDocument(t)
	names := make(map[reflect.Type]string)
	for name, typ := range schemaTypes {
		names[typ] = name
	}
	for typ, name := range sameShapes {
		names[typ] = name
	}
	for name := range doc.Components.Schemas {
		if _, ok := schemaTypes[name]; !ok {
			t.Errorf("schema %s has no Go type in the test's table", name)
		}
	}
	for typ, name := range names {
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
		if want, ok := requestRequired[name]; ok {
			for _, key := range want {
				if !slices.Contains(props, key) {
					t.Errorf("schema %s: required key %s is not a json tag of %s", name, key, typ)
				}
			}
			required = slices.Clone(want)
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
			t.Errorf("schema %s required = %v, Go %s wants %v", name, docRequired, typ, required)
		}
	}
}

// TestOpenAPIEnumsMatchConstants keeps each documented enum equal to the
// values the Go code names.
func TestOpenAPIEnumsMatchConstants(t *testing.T) {
	doc := loadDocument(t)
	for where, want := range map[string][]string{
		"Member.status":             {api.StatusAlive, api.StatusSuspect, api.StatusFailed, api.StatusLeft},
		"Member.raft":               {api.RaftVoter, api.RaftNonvoter, api.RaftNone},
		"Job.state":                 {api.JobPending, api.JobScanning, api.JobRunning, api.JobVerifying, api.JobDone, api.JobFailed, api.JobPaused, api.JobCancelled},
		"FileReport.outcome":        {api.OutcomePending, api.OutcomeDone, api.OutcomeFailed, api.OutcomeSkipped},
		"JobSpec.mode":              {jobspec.ModeCopy, jobspec.ModeSync},
		"JobSpec.compression":       {jobspec.CompressionAuto, jobspec.CompressionZstd, jobspec.CompressionNone},
		"JobSpec.compression_level": {jobspec.LevelFastest, jobspec.LevelDefault, jobspec.LevelBetter},
	} {
		name, prop, _ := strings.Cut(where, ".")
		p := doc.Components.Schemas[name].Properties[prop]
		if p == nil {
			t.Errorf("%s missing", where)
			continue
		}
		got := slices.Sorted(slices.Values(p.Enum))
		if want = slices.Sorted(slices.Values(want)); !slices.Equal(got, want) {
			t.Errorf("%s enum = %v, want %v", where, got, want)
		}
	}
}

// TestOpenAPIJobSpecRequiredKeys checks the agent's own parser against the
// document: a body with only the required keys is a valid job, and leaving
// out any one of them is refused.
func TestOpenAPIJobSpecRequiredKeys(t *testing.T) {
	body := map[string]any{
		"name":   "orders",
		"source": map[string]any{"volume": "data"},
		"target": map[string]any{"volume": "data"},
	}
	encode := func(v any) []byte {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	spec, err := jobspec.ParseJSON(encode(body))
	if err != nil {
		t.Fatalf("a job with only the required keys is refused: %v", err)
	}
	if want := jobspec.Defaults(); spec.Mode != want.Mode || spec.ChunkSize != want.ChunkSize || spec.Verify != want.Verify {
		t.Errorf("defaults not applied: %+v", spec)
	}
	for _, key := range requestRequired["JobSpec"] {
		partial := make(map[string]any)
		for k, v := range body {
			if k != key {
				partial[k] = v
			}
		}
		if _, err := jobspec.ParseJSON(encode(partial)); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("a job without %s: error %v, want one naming %s", key, err, key)
		}
	}
}

func checkPropertyType(t *testing.T, where string, p *schema, typ reflect.Type, names map[reflect.Type]string) {
	t.Helper()
	if typ == reflect.TypeFor[time.Time]() {
		if p.Type != "string" || p.Format != "date-time" {
			t.Errorf("%s: type %q format %q, want string date-time", where, p.Type, p.Format)
		}
		return
	}
	switch typ.Kind() {
	case reflect.Pointer: // an optional field, omitted when nil
		checkPropertyType(t, where, p, typ.Elem(), names)
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

// TestEveryTypeHasASchema catches a type added to types.go, jobs.go or
// drill.go without a schema.
func TestEveryTypeHasASchema(t *testing.T) {
	for _, file := range []string{"types.go", "jobs.go", "drill.go"} {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
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
					t.Errorf("%s declares %s but openapi.json has no schema for it", file, name)
				}
			}
		}
	}
}

// TestOpenAPIDrillsDocumentRefusal keeps the drill routes telling clients
// that they may be refused (403: no token, or drills off on the agent).
func TestOpenAPIDrillsDocumentRefusal(t *testing.T) {
	doc := loadDocument(t)
	for _, path := range []string{"/v1/drill/crash", "/v1/drill/transfer-leader"} {
		op, ok := doc.Paths[path]["post"]
		if !ok {
			t.Errorf("POST %s missing", path)
			continue
		}
		if _, ok := op.Responses["403"]; !ok {
			t.Errorf("POST %s does not document 403", path)
		}
	}
	if _, ok := doc.Paths["/v1/drill/crash"]["post"].Responses["404"]; !ok {
		t.Error("POST /v1/drill/crash does not document 404 for an unknown node")
	}
}
