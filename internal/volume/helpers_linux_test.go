package volume

import (
	"context"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/manifest"
	"golang.org/x/sys/unix"
)

// Sizes of the generated tree.
const (
	testChunk  = 1 << 20          // chunk size of the test copier
	multiSize  = 3*testChunk + 77 // a file of several chunks
	sparseSize = 8 << 20
	ownerID    = 1234 // uid and gid given to some entries when tests run as root
)

// baseTime is the mtime of generated entries; nanoseconds on purpose.
var baseTime = time.Unix(1_600_000_000, 123_456_789)

// isRoot reports whether the tests may chown.
func isRoot() bool { return os.Geteuid() == 0 }

// makeTree writes a tree holding every shape Lepton must carry, plus the
// shapes it must skip, under dir.
func makeTree(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	write := func(rel string, data []byte, mode os.FileMode) {
		p := filepath.Join(dir, rel)
		mustOK(t, os.MkdirAll(filepath.Dir(p), 0o755))
		mustOK(t, os.WriteFile(p, data, mode))
		mustOK(t, os.Chmod(p, mode)) // umask
	}
	write("empty.txt", nil, 0o644)
	write("random.bin", random(100<<10), 0o644)
	write("multi.bin", random(multiSize), 0o640)
	write("log.txt", []byte(strings.Repeat("GET /orders 200 12ms\n", 5000)), 0o644)
	write("deep/a/b/c/d/e/f/g/leaf.txt", []byte("leaf"), 0o644)
	write("café/naïve file.txt", []byte("non-ascii"), 0o644)
	write("with space/x y.txt", []byte("spaces"), 0o644)
	write("back\\slash.txt", []byte("a backslash is a normal character"), 0o644)
	write("hard1.txt", []byte("linked"), 0o644)
	mustOK(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	mustOK(t, os.Link(filepath.Join(dir, "hard1.txt"), filepath.Join(dir, "sub/hard2.txt")))
	write("private/secret.txt", []byte("secret"), 0o600)
	mustOK(t, os.Chmod(filepath.Join(dir, "private"), 0o700))
	write("modes/suid", []byte("#!/bin/sh\n"), 0o755|os.ModeSetuid)
	write("modes/ro", []byte("read only"), 0o444)
	mustOK(t, os.MkdirAll(filepath.Join(dir, "modes/sticky"), 0o755))
	mustOK(t, os.Chmod(filepath.Join(dir, "modes/sticky"), 0o777|os.ModeSticky))
	mustOK(t, os.MkdirAll(filepath.Join(dir, "emptydir"), 0o755))
	write("readonly-dir/file", []byte("in a 0555 directory"), 0o644)
	mustOK(t, os.Chmod(filepath.Join(dir, "readonly-dir"), 0o555))
	t.Cleanup(func() { os.Chmod(filepath.Join(dir, "readonly-dir"), 0o755) }) // so TempDir can remove it

	// A sparse file: two 4 KiB blocks of data in 8 MiB.
	sp, err := os.Create(filepath.Join(dir, "sparse.img"))
	mustOK(t, err)
	mustOK(t, sp.Truncate(sparseSize))
	_, err = sp.WriteAt(random(4096), 1<<20)
	mustOK(t, err)
	_, err = sp.WriteAt(random(4096), 6<<20)
	mustOK(t, err)
	mustOK(t, sp.Close())

	mustOK(t, os.MkdirAll(filepath.Join(dir, "links"), 0o755))
	mustOK(t, os.Symlink("../random.bin", filepath.Join(dir, "links/rel")))
	mustOK(t, os.Symlink("/etc/hostname", filepath.Join(dir, "links/abs")))
	mustOK(t, os.Symlink("../../../nowhere", filepath.Join(dir, "links/dangling")))

	// Never transferred: a FIFO and a socket.
	mustOK(t, os.MkdirAll(filepath.Join(dir, "special"), 0o755))
	mustOK(t, syscall.Mkfifo(filepath.Join(dir, "special/fifo"), 0o644))
	l, err := net.Listen("unix", filepath.Join(dir, "special/sock"))
	mustOK(t, err)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	mustOK(t, l.Close())

	if isRoot() {
		write("owned.txt", []byte("owned by 1234"), 0o644)
		mustOK(t, os.Chown(filepath.Join(dir, "owned.txt"), ownerID, ownerID))
		mustOK(t, os.Symlink("owned.txt", filepath.Join(dir, "owned-link")))
		mustOK(t, os.Lchown(filepath.Join(dir, "owned-link"), ownerID, ownerID))
		mustOK(t, os.MkdirAll(filepath.Join(dir, "owned-dir"), 0o755))
		mustOK(t, os.Chown(filepath.Join(dir, "owned-dir"), ownerID, ownerID))
	}

	// Mtimes last, contents before their directory, each one different.
	var paths []string
	mustOK(t, filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		paths = append(paths, p)
		return err
	}))
	for i := len(paths) - 1; i >= 1; i-- { // deepest and last first; not dir itself
		mt := baseTime.Add(time.Duration(i) * time.Hour)
		ts := []unix.Timespec{unix.NsecToTimespec(mt.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
		mustOK(t, unix.UtimesNanoAt(unix.AT_FDCWD, paths[i], ts, unix.AT_SYMLINK_NOFOLLOW))
	}
}

// walkAll returns every entry Walk emits for sub.
func walkAll(t *testing.T, v *Volume, sub string, match func(string, bool) bool) []manifest.Entry {
	t.Helper()
	var out []manifest.Entry
	mustOK(t, v.Walk(context.Background(), sub, match, func(e manifest.Entry) error {
		out = append(out, e)
		return nil
	}))
	return out
}

// byPath indexes entries by path.
func byPath(es []manifest.Entry) map[string]manifest.Entry {
	m := make(map[string]manifest.Entry, len(es))
	for _, e := range es {
		m[e.Path] = e
	}
	return m
}

// openVolume opens dir as a volume closed at the end of the test.
func openVolume(t testing.TB, dir string) *Volume {
	t.Helper()
	v, err := Open(dir)
	mustOK(t, err)
	t.Cleanup(func() { v.Close() })
	return v
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// allocated is the bytes a file occupies on disk.
func allocated(t *testing.T, p string) int64 {
	t.Helper()
	var st unix.Stat_t
	mustOK(t, unix.Lstat(p, &st))
	return st.Blocks * 512
}
