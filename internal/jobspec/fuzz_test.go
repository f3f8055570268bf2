package jobspec

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
)

// FuzzParse shows Parse never panics, that every error it returns is made
// of *FieldError, and that a job it accepts survives the trip through JSON
// (what the API and Raft carry) and matches paths without panicking.
// Run: go test -fuzz FuzzParse ./internal/jobspec/
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(example),
		minimal,
		minimal + "include: ['**/*.parquet', '*.log']\nexclude: [tmp/**, .cache/]\n",
		minimal + "chunksize: 4MiB\ncompresion: zstd\n",
		minimal + "chunk_size: 9223372036854775807KiB\n",
		minimal + "chunk_size: 4MB\nmode: sync\n",
		"name: j\nsource: &a {volume: d}\ntarget: {<<: *a, path: x}\n",
		"name: j\nsource: {<<: [*x]}\n",
		"a: &a [*a]\n",
		"name: j\nsource:\n  path: /etc\n  volume: ../x\ntarget: {volume: data, path: a/../..}\n",
		"- [1, 2]\n",
		"{name: [\n",
		"--- \n---\n",
		"name: !!binary aGVsbG8=\nsource: {volume: d}\ntarget: {volume: d}\n",
		"? [a]\n: b\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			if s != nil {
				t.Fatal("Parse returned a Spec and an error")
			}
			checkFieldErrors(t, err)
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse accepted a job Validate refuses: %v", err)
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseJSON(out)
		if err != nil {
			t.Fatalf("ParseJSON refuses what Parse accepted: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, s) {
			t.Fatalf("JSON round trip\n got %+v\nwant %+v", back, s)
		}
		m := s.Matcher()
		for _, p := range []string{"a", "tmp", "a/b/c.parquet", "x/.cache/y", s.Source.Path} {
			m.Match(p, false)
			m.Match(p, true)
		}
	})
}

// FuzzParseJSON does the same for the API's entry point.
func FuzzParseJSON(f *testing.F) {
	for _, seed := range []string{
		`{"name":"j","source":{"volume":"a"},"target":{"volume":"b"}}`,
		`{"name":"j","source":{"volume":"a"},"target":{"volume":"b"},"chunk_size":"4MiB","include":["*.x"]}`,
		`{"chunksize":1,"source":"x","target":[],"verify":"yes","chunk_size":-1}`,
		`[1]`, `null`, `{"name":`, `"x"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseJSON(data)
		if err != nil {
			checkFieldErrors(t, err)
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("ParseJSON accepted a job Validate refuses: %v", err)
		}
	})
}

// checkFieldErrors fails unless err is one *FieldError or several joined.
func checkFieldErrors(t *testing.T, err error) {
	t.Helper()
	list := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	}
	for _, e := range list {
		var fe *FieldError
		if !errors.As(e, &fe) || e != error(fe) {
			t.Fatalf("error %T %q is not a *FieldError", e, e)
		}
		if fe.Problem == "" {
			t.Fatalf("a FieldError without a problem: %+v", fe)
		}
	}
}
