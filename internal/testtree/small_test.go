package testtree

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// SmallFiles writes exactly n files of the size asked, spread evenly over
// the directories, half random and half text, and the same seed writes the
// same bytes.
func TestSmallFiles(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	const n, size, dirs = 30, 4096, 4
	for _, d := range []string{a, b} {
		if err := SmallFiles(d, n, size, dirs, 9); err != nil {
			t.Fatal(err)
		}
	}
	var files, text int
	perDir := map[string]int{}
	err := filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if len(data) != size {
			t.Errorf("%s: %d bytes, want %d", p, len(data), size)
		}
		if filepath.Ext(p) == ".log" {
			text++
			if !bytes.Contains(data, []byte("/api/v1/")) {
				t.Errorf("%s: not log text", p)
			}
		}
		files++
		perDir[filepath.Base(filepath.Dir(p))]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files != n || text != n/2 {
		t.Errorf("%d files (%d text), want %d (%d text)", files, text, n, n/2)
	}
	if len(perDir) != dirs {
		t.Errorf("files in %d directories, want %d: %v", len(perDir), dirs, perDir)
	}
	for d, k := range perDir {
		if k < n/dirs || k > n/dirs+1 {
			t.Errorf("%s holds %d files, want about %d", d, k, n/dirs)
		}
	}
	if diffs := Compare(a, b, Options{}); len(diffs) > 0 {
		// mtimes differ between the two writes; contents must not.
		for _, d := range diffs {
			if !bytes.Contains([]byte(d), []byte("mtime")) {
				t.Errorf("same seed, different trees: %s", d)
			}
		}
	}
	if err := SmallFiles(t.TempDir(), 1, 1, 0, 1); err == nil {
		t.Error("zero directories accepted")
	}
}
