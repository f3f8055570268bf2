package jobspec

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

type entry struct {
	rel   string
	isDir bool
	want  bool
}

func file(rel string, want bool) entry { return entry{rel, false, want} }
func dir(rel string, want bool) entry  { return entry{rel, true, want} }

func TestMatcher(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude []string
		entries          []entry
	}{
		{
			name: "no patterns takes everything",
			entries: []entry{
				dir("", true), dir(".", true), file("a.txt", true), dir("tmp", true), file("x/y/z", true),
			},
		},
		{
			name:    "include only",
			include: []string{"**/*.parquet"},
			entries: []entry{
				file("a.parquet", true), file("x/y/a.parquet", true), file("a.csv", false),
				file("x/a.parquet.tmp", false), dir("x", true), dir("x/y", true), dir("a.parquet", true),
			},
		},
		{
			name:    "include anchored path",
			include: []string{"logs/*.txt"},
			entries: []entry{
				file("logs/a.txt", true), file("old/logs/a.txt", false), file("logs/x/a.txt", false),
				file("a.txt", false), dir("old", true),
			},
		},
		{
			name:    "exclude only",
			exclude: []string{"tmp/**", "*.partial"},
			entries: []entry{
				file("a.txt", true), dir("tmp", false), file("tmp/a", false), file("tmp/x/y", false),
				dir("tmp/x", false), dir("x/tmp", true), file("x/tmp/a", true), file("tmpfile", true),
				file("a.partial", false), file("x/y/b.partial", false), file("a.partial.txt", true),
			},
		},
		{
			name:    "exclude bare directory name",
			exclude: []string{"tmp"},
			entries: []entry{
				dir("tmp", false), file("tmp/a", false), dir("x/tmp", false), file("x/tmp/y/z", false),
				file("tmp2/a", true), file("x/tmpx", true),
			},
		},
		{
			name:    "exclude anchored directory prunes only at the top",
			exclude: []string{"build/**"},
			entries: []entry{
				dir("build", false), file("build/out.o", false), dir("src/build", true), file("src/build/x", true),
			},
		},
		{
			name:    "exclude nested ** prunes at any depth",
			exclude: []string{"**/node_modules/**"},
			entries: []entry{
				dir("node_modules", false), dir("a/b/node_modules", false), file("a/b/node_modules/x.js", false),
				file("a/node_modules.txt", true),
			},
		},
		{
			name:    "trailing slash matches directories only",
			exclude: []string{".cache/"},
			entries: []entry{
				dir(".cache", false), file(".cache/x", false), dir("a/.cache", false), file("a/.cache/b/c", false),
				file(".cache", true), file("a/.cache", true),
			},
		},
		{
			name:    "include and exclude: exclude wins",
			include: []string{"*.parquet", "manifest.json"},
			exclude: []string{"tmp/**", "**/bad-*.parquet"},
			entries: []entry{
				file("a.parquet", true), file("x/a.parquet", true), file("manifest.json", true),
				file("x/manifest.json", true), file("tmp/a.parquet", false), dir("tmp", false),
				file("x/bad-1.parquet", false), file("bad-1.parquet", false), file("a.csv", false), dir("x", true),
			},
		},
		{
			name:    "basename patterns with classes and alternatives",
			include: []string{"*.{csv,json}", "part-[0-9]?"},
			entries: []entry{
				file("a.csv", true), file("d/a.json", true), file("d/a.xml", false),
				file("d/e/part-01", true), file("part-x1", false), file("part-123", false),
			},
		},
		{
			name:    "nested ** in the middle",
			include: []string{"data/**/2024/*.log"},
			entries: []entry{
				file("data/2024/a.log", true), file("data/x/y/2024/a.log", true), file("data/x/2023/a.log", false),
				file("other/2024/a.log", false), file("data/2024/sub/a.log", false),
			},
		},
		{
			name:    "case-sensitive",
			include: []string{"*.LOG"},
			entries: []entry{file("a.LOG", true), file("a.log", false)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			s.Include, s.Exclude = tt.include, tt.exclude
			if err := s.Validate(); err != nil {
				t.Fatalf("patterns do not validate: %v", err)
			}
			m := s.Matcher()
			for _, e := range tt.entries {
				if got := m.Match(e.rel, e.isDir); got != e.want {
					t.Errorf("Match(%q, dir=%v) = %v, want %v", e.rel, e.isDir, got, e.want)
				}
			}
			if got, want := m.KeepsEmptyDirs(), len(tt.include) == 0; got != want {
				t.Errorf("KeepsEmptyDirs() = %v, want %v", got, want)
			}
		})
	}
}

func TestNilMatcherTakesEverything(t *testing.T) {
	var m *Matcher
	if !m.Match("a/b", false) || !m.Match("a", true) || !m.KeepsEmptyDirs() {
		t.Error("a nil Matcher refused something")
	}
}

// TestMatcherWalk drives the Matcher the way the scanner does, over a real
// tree: prune what Match refuses, keep what it takes.
func TestMatcherWalk(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{
		"a.parquet", "notes.txt", "2024/01/b.parquet", "2024/01/b.csv", "tmp/c.parquet",
		"x/tmp/d.parquet", "x/.cache/e.parquet", "empty/", "deep/er/",
	} {
		full := filepath.Join(root, filepath.FromSlash(p))
		if p[len(p)-1] == '/' {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	walk := func(include, exclude []string) []string {
		s := valid()
		s.Include, s.Exclude = include, exclude
		m := s.Matcher()
		var kept []string
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			if !m.Match(rel, d.IsDir()) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.IsDir() {
				kept = append(kept, rel)
			} else if rel != "." && m.KeepsEmptyDirs() {
				if entries, _ := os.ReadDir(p); len(entries) == 0 {
					kept = append(kept, rel+"/")
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(kept)
		return kept
	}

	got := walk([]string{"**/*.parquet"}, []string{"tmp/**", ".cache/"})
	want := []string{"2024/01/b.parquet", "a.parquet", "x/tmp/d.parquet"}
	if !slices.Equal(got, want) {
		t.Errorf("include+exclude kept %q, want %q", got, want)
	}
	got = walk(nil, []string{"tmp", "*.csv"})
	want = []string{"2024/01/b.parquet", "a.parquet", "deep/er/", "empty/", "notes.txt", "x/.cache/e.parquet"}
	if !slices.Equal(got, want) {
		t.Errorf("exclude only kept %q, want %q", got, want)
	}
}
