package jobspec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// minimal is the smallest job that parses.
const minimal = `name: j1
source: {volume: data}
target: {volume: data}
`

// fieldErrors flattens err into its *FieldErrors, failing when any part of
// it is something else.
func fieldErrors(t *testing.T, err error) []*FieldError {
	t.Helper()
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	var out []*FieldError
	for _, e := range list {
		fe, ok := e.(*FieldError)
		if !ok {
			t.Fatalf("error %T %q is not a *FieldError", e, e)
		}
		out = append(out, fe)
	}
	return out
}

// fields lists the Field of each problem in err.
func fields(t *testing.T, err error) []string {
	t.Helper()
	var out []string
	for _, fe := range fieldErrors(t, err) {
		out = append(out, fe.Field)
	}
	return out
}

func TestParseAppliesDefaults(t *testing.T) {
	s, err := Parse("j.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.Name = "j1"
	want.Source.Volume = "data"
	want.Target.Volume = "data"
	if !reflect.DeepEqual(*s, want) {
		t.Errorf("got %+v\nwant %+v", *s, want)
	}
	if s.Mode != ModeCopy || s.Compression != CompressionAuto || s.CompressionLevel != LevelFastest || !s.Verify || s.ChunkSize != 4<<20 {
		t.Errorf("defaults not applied: %+v", *s)
	}
}

// TestParseNullKeepsDefault: "verify:" with nothing after it is the
// default, not false.
func TestParseNullKeepsDefault(t *testing.T) {
	s, err := Parse("j.yaml", []byte(minimal+"verify:\nmode: ~\nchunk_size:\ninclude:\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Verify || s.Mode != ModeCopy || s.ChunkSize != DefaultChunkSize || s.Include != nil {
		t.Errorf("null keys did not keep defaults: %+v", *s)
	}
}

func TestParseExplicitValues(t *testing.T) {
	s, err := Parse("j.yaml", []byte(`name: j2
source: {volume: src, agent: src-1, path: a/b}
target: {volume: dst, agent: tgt-1, path: c}
include: ["**/*.parquet"]
exclude: [tmp/**]
mode: copy
compression: none
compression_level: better
verify: false
chunk_size: 512KiB
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Spec{
		Name:    "j2",
		Source:  Endpoint{Volume: "src", Agent: "src-1", Path: "a/b"},
		Target:  Endpoint{Volume: "dst", Agent: "tgt-1", Path: "c"},
		Include: []string{"**/*.parquet"}, Exclude: []string{"tmp/**"},
		Mode: ModeCopy, Compression: CompressionNone, CompressionLevel: LevelBetter,
		Verify: false, ChunkSize: 512 << 10,
	}
	if !reflect.DeepEqual(*s, want) {
		t.Errorf("got %+v\nwant %+v", *s, want)
	}
}

func TestParseUnknownKeySuggests(t *testing.T) {
	tests := []struct {
		yaml, field, suggestion string
	}{
		{"chunksize: 4MiB\n", "chunksize", `did you mean "chunk_size"?`},
		{"compresion: zstd\n", "compresion", `did you mean "compression"?`},
		{"Chunk-Size: 4MiB\n", "Chunk-Size", `did you mean "chunk_size"?`},
		{"compression_levle: better\n", "compression_levle", `did you mean "compression_level"?`},
		{"volume: data\n", "volume", `did you mean "source.volume"?`},
		{"verfy: true\n", "verfy", `did you mean "verify"?`},
		{"zzzz: 1\n", "zzzz", "the keys here are name, source, target, include, exclude, mode, compression, compression_level, verify, chunk_size"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			_, err := Parse("j.yaml", []byte(minimal+tt.yaml))
			errs := fieldErrors(t, err)
			if len(errs) != 1 {
				t.Fatalf("want one problem, got %v", err)
			}
			fe := errs[0]
			if fe.File != "j.yaml" || fe.Field != tt.field || !strings.Contains(fe.Problem, "line 4: unknown key") || !strings.Contains(fe.Problem, tt.suggestion) {
				t.Errorf("got %+v; want field %q and %q", fe, tt.field, tt.suggestion)
			}
		})
	}
}

func TestParseUnknownNestedKey(t *testing.T) {
	_, err := Parse("j.yaml", []byte("name: j\nsource: {volume: data, paht: x}\ntarget: {volume: data}\n"))
	errs := fieldErrors(t, err)
	if len(errs) != 1 || errs[0].Field != "source.paht" || !strings.Contains(errs[0].Problem, `did you mean "source.path"?`) {
		t.Fatalf("got %v", err)
	}
	want := `job j.yaml: source.paht: line 2: unknown key (did you mean "source.path"?)`
	if err.Error() != want {
		t.Errorf("message\n got %s\nwant %s", err, want)
	}
}

// TestParseWrongTypes: a value of the wrong shape names its key and line.
func TestParseWrongTypes(t *testing.T) {
	tests := []struct {
		name, yaml, field, problem string
	}{
		{"verify", "verify: maybe\n", "verify", `line 4: want true or false, got "maybe"`},
		{"include string", "include: '*.log'\n", "include", `line 4: want a list of patterns such as ["**/*.parquet"], got "*.log"`},
		{"include item", "include: [[a]]\n", "include[0]", "line 4: want a single value, got a list"},
		{"source scalar", "exclude: []\nmode: {a: b}\n", "mode", "line 5: want a single value, got a mapping"},
		{"chunk_size", "chunk_size: lots\n", "chunk_size", `line 4: want a size such as 4MiB, 512KiB or 4194304, got "lots"`},
		{"chunk_size list", "chunk_size: [1]\n", "chunk_size", `line 4: want a size such as 4MiB, 512KiB or 4194304, got a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("j.yaml", []byte(minimal+tt.yaml))
			errs := fieldErrors(t, err)
			if len(errs) != 1 || errs[0].Field != tt.field || errs[0].Problem != tt.problem {
				t.Fatalf("got %#v; want field %q problem %q", errs, tt.field, tt.problem)
			}
		})
	}
	_, err := Parse("j.yaml", []byte("name: j\nsource: data\ntarget: {volume: data}\n"))
	if f := fields(t, err); len(f) != 1 || f[0] != "source" || !strings.Contains(err.Error(), "want a mapping of keys (volume, agent, path)") {
		t.Errorf("source as a string: %v", err)
	}
}

// TestParseValidationLines: a validation problem points at the line that
// set the value, or at its enclosing key when the value is missing.
func TestParseValidationLines(t *testing.T) {
	_, err := Parse("j.yaml", []byte("name: j\nsource:\n  path: /abs\ntarget: {volume: data}\nchunk_size: 3\n"))
	got := err.Error()
	for _, want := range []string{
		"job j.yaml: source.volume: line 2: required",
		`job j.yaml: source.path: line 3: "/abs": path must stay inside the volume: remove the leading /`,
		"job j.yaml: chunk_size: line 5: 3 bytes is too small: use at least 64KiB",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("error lacks %q:\n%s", want, got)
		}
	}
	if f := fields(t, err); !reflect.DeepEqual(f, []string{"source.volume", "source.path", "chunk_size"}) {
		t.Errorf("fields %q, want field order", f)
	}
}

func TestParseWholeFileProblems(t *testing.T) {
	tests := []struct {
		name, yaml, problem string
	}{
		{"empty", "", "is empty; a job needs at least name, source.volume and target.volume"},
		{"comments only", "# nothing\n", "is empty"},
		{"null", "~\n", "is empty"},
		{"list", "- a\n", "line 1: want a mapping of keys (name: …, source: …, target: …), got a list"},
		{"scalar", "hello\n", `got "hello"`},
		{"bad yaml", "name: [\n", "not valid YAML: line "},
		{"tab indent", "name: j\nsource:\n\tvolume: x\n", "not valid YAML"},
		{"duplicate key", minimal + "name: j2\n", `line 4: mapping key "name" already defined at line 1`},
		{"second document", minimal + "---\nname: other\n", "line 4: a second YAML document (after ---); a job file holds one job"},
		{"too large", "name: j\n" + strings.Repeat("#", MaxFileSize), "larger than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("j.yaml", []byte(tt.yaml))
			errs := fieldErrors(t, err)
			if len(errs) != 1 || errs[0].Field != "" || !strings.Contains(errs[0].Problem, tt.problem) {
				t.Fatalf("got %v; want a whole-file problem containing %q", err, tt.problem)
			}
			if !strings.HasPrefix(err.Error(), "job j.yaml: ") {
				t.Errorf("message %q does not start with the file", err)
			}
		})
	}
}

// TestParseMergeKeys: YAML anchors and merge keys work, and are checked.
func TestParseMergeKeys(t *testing.T) {
	s, err := Parse("j.yaml", []byte("name: j\nsource: &ep {volume: data, path: a}\ntarget:\n  <<: *ep\n  path: b\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Target != (Endpoint{Volume: "data", Path: "b"}) {
		t.Errorf("target %+v", s.Target)
	}
	_, err = Parse("j.yaml", []byte("name: j\nbase: &ep {volum: data}\nsource: {<<: *ep}\ntarget: {volume: d}\n"))
	if f := fields(t, err); len(f) == 0 || f[0] != "base" {
		t.Errorf("got %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(file, []byte(minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(file)
	if err != nil || s.Name != "j1" {
		t.Fatalf("Load: %+v, %v", s, err)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v does not wrap fs.ErrNotExist", err)
	}
	want := "job " + filepath.Join(dir, "missing.yaml") + ": cannot read: no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("missing file:\n got %v\nwant %s", err, want)
	}

	big := filepath.Join(dir, "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 20); err != nil { // sparse: cheap
		t.Fatal(err)
	}
	f.Close()
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Errorf("big file: %v", err)
	}
}

// TestParseAliasTraps: an alias to its own ancestor, or aliases that expand
// into a vast tree, are refused quickly instead of recursing forever.
func TestParseAliasTraps(t *testing.T) {
	for _, tt := range []struct{ yaml, field string }{
		{"source: &a {<<: *a, path: r}\n", "source"},
		{"source: &a {<<: [*a]}\n", "source"},
		{"source: &a {volume: *a}\n", "source.volume"},
		{"include: &a [*a]\n", "include[0]"},
	} {
		_, err := Parse("j.yaml", []byte(tt.yaml))
		errs := fieldErrors(t, err)
		if len(errs) != 1 || errs[0].Field != tt.field || !strings.Contains(errs[0].Problem, "line 1: alias *a refers to a value that holds it") {
			t.Errorf("%q: got %v", tt.yaml, err)
		}
	}

	var b strings.Builder
	b.WriteString("name: j\nsource: &m0 {volume: d}\n")
	for i := 1; i < 12; i++ { // 10^11 paths through the merges
		fmt.Fprintf(&b, "target: &m%d {<<: [%s]}\n", i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*m%d,", i-1), 10), ","))
	}
	_, err := Parse("j.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "more than 100000 values once aliases are expanded") {
		t.Errorf("alias bomb: %.500v", err)
	}
}
