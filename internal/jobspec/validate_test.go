package jobspec

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// valid returns a job that passes Validate.
func valid() Spec {
	s := Defaults()
	s.Name = "orders-to-tencent"
	s.Source = Endpoint{Volume: "data", Path: "exports"}
	s.Target = Endpoint{Volume: "data"}
	return s
}

func TestValidateAcceptsValid(t *testing.T) {
	for _, change := range []func(*Spec){
		func(*Spec) {},
		func(s *Spec) { s.Name = "a" },
		func(s *Spec) { s.Name = strings.Repeat("n", 63) },
		func(s *Spec) { s.Name = "Orders_2024.v1-b" },
		func(s *Spec) { s.Source.Path, s.Target.Path = ".", "" },
		func(s *Spec) { s.Source.Path = "a b/ünï/c" },
		func(s *Spec) { s.Source.Agent, s.Target.Agent = "src-1", "tgt-1" },
		// the same agent name on both ends, other paths: not provably the same tree
		func(s *Spec) { s.Source, s.Target = Endpoint{"d", "a1", "x"}, Endpoint{"d", "a1", "y"} },
		func(s *Spec) { s.Source, s.Target = Endpoint{"d", "a1", "x"}, Endpoint{"e", "a1", "x"} },
		func(s *Spec) { s.Source, s.Target = Endpoint{"d", "a1", "x"}, Endpoint{"d", "a2", "x"} },
		func(s *Spec) { s.Source, s.Target = Endpoint{"d", "a1", "xy"}, Endpoint{"d", "a1", "x"} },
		func(s *Spec) { s.Include = []string{"**/*.parquet", "a/{b,c}/[0-9]?.txt", "manifest.json"} },
		func(s *Spec) { s.Include = []string{"{2023,2024}/{01,02,03,04,05,06,07,08,09,10,11,12}/*.{csv,json}"} }, // 48 combinations
		func(s *Spec) { s.Include = []string{"[{]" + strings.Repeat("{a,b}", 6) + ",x"} },                        // 64: a brace in a class and a comma outside a group are plain

		func(s *Spec) { s.Exclude = []string{"tmp/**", ".cache/", "*.partial", "**/node_modules"} },
		func(s *Spec) { s.Compression, s.CompressionLevel = CompressionZstd, LevelDefault },
		func(s *Spec) { s.Compression, s.CompressionLevel = CompressionNone, LevelBetter },
		func(s *Spec) { s.ChunkSize = MinChunkSize },
		func(s *Spec) { s.ChunkSize = MaxChunkSize },
		func(s *Spec) { s.ChunkSize = 68 << 10 },
		func(s *Spec) { s.Verify = false },
	} {
		s := valid()
		change(&s)
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
}

// TestValidateFields: every bad value is reported on its own field with a
// message that says what to do.
func TestValidateFields(t *testing.T) {
	tests := []struct {
		field   string
		change  func(*Spec)
		problem string
	}{
		{"name", func(s *Spec) { s.Name = "" }, "required: a name for the job"},
		{"name", func(s *Spec) { s.Name = "-x" }, `"-x" is not a valid job name: use letters, digits`},
		{"name", func(s *Spec) { s.Name = "a b" }, "not a valid job name"},
		{"name", func(s *Spec) { s.Name = strings.Repeat("n", 64) }, "at most 63 characters"},
		{"source.volume", func(s *Spec) { s.Source.Volume = "" }, "required: the volume to copy from, as named under volumes: in the source agents' config"},
		{"source.volume", func(s *Spec) { s.Source.Volume = "../etc" }, `"../etc" is not a valid volume name`},
		{"source.agent", func(s *Spec) { s.Source.Agent = "src 1" }, `"src 1" is not a valid agent name: use the node_name of a source agent`},
		{"source.path", func(s *Spec) { s.Source.Path = "/etc" }, `"/etc": path must stay inside the volume: remove the leading /`},
		{"source.path", func(s *Spec) { s.Source.Path = "a/../../b" }, `"a/../../b" has a ".." element: path must stay inside the volume`},
		{"source.path", func(s *Spec) { s.Source.Path = ".." }, `has a ".." element`},
		{"source.path", func(s *Spec) { s.Source.Path = "a//b" }, `"a//b" is not in clean form: write "a/b"`},
		{"source.path", func(s *Spec) { s.Source.Path = "a/./b/" }, `write "a/b"`},
		{"source.path", func(s *Spec) { s.Source.Path = "a\x00b" }, "NUL byte"},
		{"source.path", func(s *Spec) { s.Source.Path = strings.Repeat("a/", 3000) }, "at most 4096"},
		{"target.volume", func(s *Spec) { s.Target.Volume = "" }, "required: the volume to copy into, as named under volumes: in the target agents' config"},
		{"target.volume", func(s *Spec) { s.Target.Volume = "a/b" }, "not a valid volume name"},
		{"target.agent", func(s *Spec) { s.Target.Agent = "_x" }, "not a valid agent name"},
		{"target.path", func(s *Spec) { s.Target.Path = "/" }, "remove the leading /"},
		{"target", func(s *Spec) {
			s.Source, s.Target = Endpoint{"data", "n1", "a"}, Endpoint{"data", "n1", "a"}
		}, `is the same place as source (agent n1, volume data, paths "a" and "a" overlap): a job cannot copy a tree into itself`},
		{"target", func(s *Spec) { s.Source, s.Target = Endpoint{"data", "n1", "a"}, Endpoint{"data", "n1", "a/b"} }, "overlap"},
		{"target", func(s *Spec) { s.Source, s.Target = Endpoint{"data", "n1", "a/b"}, Endpoint{"data", "n1", ""} }, "overlap"},
		{"include[1]", func(s *Spec) { s.Include = []string{"*.txt", "[a-"} }, `"[a-" is not a valid glob pattern`},
		{"include[0]", func(s *Spec) { s.Include = []string{"{a,b"} }, "not a valid glob pattern"},
		{"include[0]", func(s *Spec) { s.Include = []string{"/data/**"} }, `"/data/**" is absolute; patterns match paths relative to source.path: remove the leading /`},
		{"include[0]", func(s *Spec) { s.Include = []string{"../x/*"} }, `"../x/*" has a ".." element; patterns cannot reach outside source.path`},
		{"include[0]", func(s *Spec) { s.Include = []string{"a/**/../*"} }, `has a ".." element`},
		{"include[0]", func(s *Spec) { s.Include = []string{""} }, "is empty; remove it"},
		{"include[0]", func(s *Spec) { s.Include = []string{"./a.txt"} }, `"./a.txt" has a "." element, which never matches`},
		{"include[0]", func(s *Spec) { s.Include = []string{"a//b"} }, `"a//b" has an empty element (//), which never matches: write "a/b"`},
		{"include[0]", func(s *Spec) { s.Include = []string{"logs/"} }, `"logs/" ends with /, which matches only directories, and include patterns select files: write "logs/**"`},
		{"include[0]", func(s *Spec) { s.Include = []string{"a\\"} }, "not a valid glob pattern"},
		{"include[0]", func(s *Spec) { s.Include = []string{strings.Repeat("a", 1025)} }, "at most 1024"},
		{"include[0]", func(s *Spec) { s.Include = []string{strings.Repeat("{a,*}", 7)} }, "has more than 64 combinations of { } alternatives"},
		{"exclude[0]", func(s *Spec) { s.Exclude = []string{"{a,b,c,d,e,f,g,h}/{a,b,c,d,e,f,g,h}/{x,y}"} }, "more than 64 combinations"},
		{"include", func(s *Spec) { s.Include = make([]string, 1001) }, "has 1001 patterns; at most 1000"},
		{"exclude[0]", func(s *Spec) { s.Exclude = []string{"/tmp/**"} }, "is absolute"},
		{"exclude[2]", func(s *Spec) { s.Exclude = []string{"a", "b", "c/[x"} }, "not a valid glob pattern"},
		{"exclude[0]", func(s *Spec) { s.Exclude = []string{"x/../y"} }, `".." element`},
		{"mode", func(s *Spec) { s.Mode = ModeSync }, "sync (continuous sync until cutover) is not available yet; use mode: copy"},
		{"mode", func(s *Spec) { s.Mode = "move" }, `is "move"; want copy`},
		{"mode", func(s *Spec) { s.Mode = "" }, `is ""; want copy`},
		{"compression", func(s *Spec) { s.Compression = "gzip" }, `is "gzip"; want auto (zstd where it pays), zstd (always) or none`},
		{"compression_level", func(s *Spec) { s.CompressionLevel = "max" }, `is "max"; want fastest, default or better`},
		{"chunk_size", func(s *Spec) { s.ChunkSize = 3 }, "3 bytes is too small: use at least 64KiB (default 4MiB)"},
		{"chunk_size", func(s *Spec) { s.ChunkSize = 0 }, "0 bytes is too small"},
		{"chunk_size", func(s *Spec) { s.ChunkSize = -1 }, "-1 bytes is too small"},
		{"chunk_size", func(s *Spec) { s.ChunkSize = 32 << 10 }, "32KiB is too small"},
		{"chunk_size", func(s *Spec) { s.ChunkSize = 1 << 30 }, "1GiB is too large: use at most 64MiB (default 4MiB)"},
		{"chunk_size", func(s *Spec) { s.ChunkSize = 4_000_000 }, "4000000 bytes is not a multiple of 4KiB: use 4MiB (KB and MB are powers of 1000"},
		{"chunk_size", func(s *Spec) { s.ChunkSize = 100_000 }, "use 100KiB"},
		{"chunk_size", func(s *Spec) { s.ChunkSize = 65537 }, "use 64KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.field+"/"+tt.problem, func(t *testing.T) {
			s := valid()
			tt.change(&s)
			errs := fieldErrors(t, s.Validate())
			if len(errs) != 1 {
				t.Fatalf("want exactly one problem, got %v", errors.Join(toErrors(errs)...))
			}
			fe := errs[0]
			if fe.Field != tt.field || !strings.Contains(fe.Problem, tt.problem) {
				t.Errorf("got field %q problem %q\nwant field %q problem containing %q", fe.Field, fe.Problem, tt.field, tt.problem)
			}
			if want := fmt.Sprintf("job: %s: %s", fe.Field, fe.Problem); fe.Error() != want {
				t.Errorf("Error() = %q, want %q", fe.Error(), want)
			}
		})
	}
}

func toErrors(errs []*FieldError) []error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return out
}

// TestValidateJoinsInFieldOrder: every problem is reported at once, in
// the order of the keys in a job file, the same way every time.
func TestValidateJoinsInFieldOrder(t *testing.T) {
	s := Spec{
		Source:  Endpoint{Path: "/x"},
		Target:  Endpoint{Volume: "bad name", Agent: "-"},
		Include: []string{"[", "ok", "/abs"},
		Exclude: []string{".."},
		Mode:    "sync", Compression: "lz4", CompressionLevel: "11", ChunkSize: 1,
	}
	want := []string{
		"name", "source.volume", "source.path", "target.volume", "target.agent",
		"include[0]", "include[2]", "exclude[0]",
		"mode", "compression", "compression_level", "chunk_size",
	}
	first := s.Validate().Error()
	for range 5 {
		err := s.Validate()
		if got := fields(t, err); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("fields %q\nwant %q", got, want)
		}
		if err.Error() != first {
			t.Fatalf("message changed between runs")
		}
	}
	var fe *FieldError
	if !errors.As(s.Validate(), &fe) || fe.Field != "name" {
		t.Errorf("errors.As finds %+v, want the name problem first", fe)
	}
}

func TestFieldErrorMessage(t *testing.T) {
	tests := []struct {
		e    FieldError
		want string
	}{
		{FieldError{File: "j.yaml", Field: "mode", Problem: "bad"}, "job j.yaml: mode: bad"},
		{FieldError{Field: "mode", Problem: "bad"}, "job: mode: bad"},
		{FieldError{File: "j.yaml", Problem: "is empty"}, "job j.yaml: is empty"},
		{FieldError{Problem: "not valid JSON"}, "job: not valid JSON"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
