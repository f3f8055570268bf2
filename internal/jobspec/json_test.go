package jobspec

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestJSONRoundTrip: what leptonctl sends and Raft stores decodes to the
// same Spec, with the same key names as the file.
func TestJSONRoundTrip(t *testing.T) {
	s, err := Parse("j.yaml", []byte(`name: j
source: {volume: src, agent: a1, path: x}
target: {volume: dst}
include: ["*.parquet"]
exclude: [tmp/**]
compression: zstd
compression_level: better
verify: false
chunk_size: 8MiB
`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"j","source":{"volume":"src","agent":"a1","path":"x"},"target":{"volume":"dst"},` +
		`"include":["*.parquet"],"exclude":["tmp/**"],"mode":"copy","compression":"zstd","compression_level":"better","verify":false,"chunk_size":8388608}`
	if string(out) != want {
		t.Errorf("JSON\n got %s\nwant %s", out, want)
	}
	var back Spec
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, *s) {
		t.Errorf("round trip\n got %+v\nwant %+v", back, *s)
	}
	strict, err := ParseJSON(out)
	if err != nil || !reflect.DeepEqual(*strict, *s) {
		t.Errorf("ParseJSON: %+v, %v", strict, err)
	}
}

// TestJSONDefaults: a key the JSON leaves out means its default, as in a
// file; "verify" absent is true, not false.
func TestJSONDefaults(t *testing.T) {
	in := []byte(`{"name":"j","source":{"volume":"a"},"target":{"volume":"b"}}`)
	want := Defaults()
	want.Name, want.Source.Volume, want.Target.Volume = "j", "a", "b"

	var lenient Spec
	if err := json.Unmarshal(in, &lenient); err != nil || !reflect.DeepEqual(lenient, want) {
		t.Errorf("json.Unmarshal: %+v, %v", lenient, err)
	}
	strict, err := ParseJSON(in)
	if err != nil || !reflect.DeepEqual(*strict, want) {
		t.Errorf("ParseJSON: %+v, %v", strict, err)
	}
	withNulls, err := ParseJSON([]byte(`{"name":"j","source":{"volume":"a"},"target":{"volume":"b"},"verify":null,"chunk_size":null,"include":null}`))
	if err != nil || !reflect.DeepEqual(*withNulls, want) {
		t.Errorf("ParseJSON with nulls: %+v, %v", withNulls, err)
	}
	// Lenient decoding ignores keys it does not know (a newer writer).
	if err := json.Unmarshal([]byte(`{"name":"j","future_key":1}`), &lenient); err != nil || lenient.Name != "j" {
		t.Errorf("lenient decode: %v", err)
	}
}

func TestParseJSONProblems(t *testing.T) {
	const base = `"name":"j","source":{"volume":"a"},"target":{"volume":"b"}`
	tests := []struct {
		name, json string
		fields     []string
		problem    string
	}{
		{"unknown key", `{` + base + `,"chunksize":"4MiB"}`, []string{"chunksize"}, `unknown key (did you mean "chunk_size"?)`},
		{"unknown nested", `{` + base + `,"target":{"volume":"b","paht":"x"}}`, []string{"target.paht"}, `did you mean "target.path"?`},
		{"unknown keys sorted", `{` + base + `,"zz":1,"compresion":"none"}`, []string{"compresion", "zz"}, `did you mean "compression"?`},
		{"wrong type", `{` + base + `,"verify":"yes"}`, []string{"verify"}, `want true or false, got "yes"`},
		{"wrong list", `{` + base + `,"include":"*.log"}`, []string{"include"}, `want a list of strings, got "*.log"`},
		{"wrong endpoint", `{"name":"j","source":"a","target":{"volume":"b"}}`, []string{"source"}, `want an object with keys volume, agent, path, got "a"`},
		{"bad size", `{` + base + `,"chunk_size":"lots"}`, []string{"chunk_size"}, `want a size such as 4MiB, 512KiB or 4194304, got "lots"`},
		{"validation", `{` + base + `,"mode":"sync","chunk_size":3}`, []string{"mode", "chunk_size"}, "not available yet"},
		{"not an object", `[1]`, []string{""}, "want a JSON object of job keys (name, source, target, …), got a list"},
		{"null", `null`, []string{""}, "want a JSON object"},
		{"syntax", `{"name":`, []string{""}, "not valid JSON"},
		{"trailing", `{}{}`, []string{""}, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJSON([]byte(tt.json))
			if got := fields(t, err); !reflect.DeepEqual(got, tt.fields) {
				t.Fatalf("fields %q, want %q (%v)", got, tt.fields, err)
			}
			if !strings.Contains(err.Error(), tt.problem) {
				t.Errorf("%v lacks %q", err, tt.problem)
			}
			if !strings.HasPrefix(err.Error(), "job: ") {
				t.Errorf("%q: a JSON job has no file", err)
			}
		})
	}
	if _, err := ParseJSON(make([]byte, MaxFileSize+1)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized JSON: %v", err)
	}
}

// TestKeyNamesAgree: the JSON keys are the file's keys.
func TestKeyNamesAgree(t *testing.T) {
	for _, typ := range []reflect.Type{specType, reflect.TypeFor[Endpoint]()} {
		for i := range typ.NumField() {
			f := typ.Field(i)
			y, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			j, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if y == "" || y != j {
				t.Errorf("%s.%s: yaml %q, json %q", typ.Name(), f.Name, y, j)
			}
		}
	}
}
