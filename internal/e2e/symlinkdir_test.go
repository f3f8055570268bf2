package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/api"
	"github.com/leptonmesh/lepton/internal/testcluster"
)

// TestASymlinkedDirectoryOnTheTargetIsNotFollowed migrates a tree into a
// target whose path already holds a symlinked directory, dst/photos ->
// ../data. Every entry that would go through it fails with a reason naming
// the link, in the job's report; the rest is copied; the job ends failed;
// and data/, where the link points, is exactly as it was.
func TestASymlinkedDirectoryOnTheTargetIsNotFollowed(t *testing.T) {
	c := testcluster.New(t)
	src, dst := filepath.Join(c.Dir, "src"), filepath.Join(c.Dir, "dst")
	mkdirs(t, filepath.Join(src, "photos/sub"), filepath.Join(src, "other"), filepath.Join(dst, "data/sub"), filepath.Join(dst, "dst"))
	for p, body := range map[string]string{
		"top.txt":          "top",
		"other/x.txt":      "x, and photos/hard.jpg",
		"photos/a.jpg":     "a photo",
		"photos/sub/c.jpg": "another photo",
	} {
		if err := os.WriteFile(filepath.Join(src, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(src, "other/x.txt"), filepath.Join(src, "photos/hard.jpg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.jpg", filepath.Join(src, "photos/link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "data/keep.txt"), []byte("not Lepton's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../data", filepath.Join(dst, "dst/photos")); err != nil {
		t.Fatal(err)
	}
	before := snapshotTree(t, filepath.Join(dst, "data"))

	s, _ := pair(t, c, src, dst)
	sp := spec("through-a-link", "data", "data")
	sp.Target.Path = "dst"
	sp.Verify = true
	id := submit(t, s, sp)
	j := waitJob(t, c, s, id, 60*time.Second)
	if j.State != api.JobFailed {
		t.Fatalf("job ended %s (%s); want failed for the entries under the link", j.State, j.Reason)
	}
	rep, err := s.Client().JobReport(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	const why = "dst/photos is a symlink, not a directory; Lepton does not follow symlinks on the target: remove it or change the job's target path"
	seen := 0
	for _, f := range rep.Files {
		if f.Path == "photos" || strings.HasPrefix(f.Path, "photos/") {
			seen++
			if f.Outcome != api.OutcomeFailed || !strings.Contains(f.Reason, why) {
				t.Errorf("%s: %s (%s), want failed because %s", f.Path, f.Outcome, f.Reason, why)
			}
		} else if f.Outcome != api.OutcomeDone {
			t.Errorf("%s: %s (%s), want done", f.Path, f.Outcome, f.Reason)
		}
	}
	if seen != 6 { // photos, photos/{a.jpg,hard.jpg,link,sub,sub/c.jpg}
		t.Errorf("the report lists %d entries under photos, want 6", seen)
	}
	for p, body := range map[string]string{"dst/top.txt": "top", "dst/other/x.txt": "x, and photos/hard.jpg"} {
		if got, err := os.ReadFile(filepath.Join(dst, p)); err != nil || string(got) != body {
			t.Errorf("%s on the target: %q, %v", p, got, err)
		}
	}
	if l, err := os.Readlink(filepath.Join(dst, "dst/photos")); err != nil || l != "../data" {
		t.Errorf("the link is now %q (%v)", l, err)
	}
	after := snapshotTree(t, filepath.Join(dst, "data"))
	for p, d := range after {
		if before[p] != d {
			t.Errorf("data/%s changed: %q, was %q", p, d, before[p])
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("data/%s is gone", p)
		}
	}
}

// snapshotTree describes every object under dir, links not followed: mode, size,
// mtime and content.
func snapshotTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		s := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s += " " + string(b)
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
