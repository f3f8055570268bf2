// Package testtree makes file trees for migration tests, the demo and the
// benchmarks, and compares two trees the way a user of rsync -aHS would:
// bytes, modes, mtimes to the nanosecond, owners, symlink targets,
// hardlinks and holes.
package testtree

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Shapes writes a tree holding every shape a migration must carry: random
// and compressible data, empty files, a file of several chunks (of
// chunkSize), deep directories, names with spaces and non-ASCII letters,
// symlinks, hardlinks, a sparse file, an empty directory, a 0700 directory
// and, when run as root, files owned by other users. It also writes a FIFO
// and a unix socket, which a migration must skip. It returns the number of
// regular-file bytes written.
func Shapes(dir string, chunkSize int64, seed uint64) (int64, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var total int64
	write := func(rel string, data []byte, mode os.FileMode) error {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			return err
		}
		total += int64(len(data))
		return os.Chmod(p, mode)
	}
	steps := []struct {
		rel  string
		data []byte
		mode os.FileMode
	}{
		{"random.bin", Random(rng, 300_000), 0o644},
		{"logs/app.log", LogText(rng, 400_000), 0o640},
		{"empty.txt", nil, 0o600},
		{"big/several-chunks.bin", Random(rng, int(chunkSize*2+chunkSize/3)), 0o644},
		{"a/b/c/d/e/f/g/deep.txt", []byte("deep\n"), 0o644},
		{"names/with spaces and ünïcödé — 日本語.txt", []byte("hello, wörld\n"), 0o644},
		{"names/script.sh", []byte("#!/bin/sh\necho hi\n"), 0o755},
		{"private/secret.txt", []byte("top secret\n"), 0o600},
		{"hard/original.txt", LogText(rng, 5000), 0o644},
	}
	for i := range 200 {
		steps = append(steps, struct {
			rel  string
			data []byte
			mode os.FileMode
		}{fmt.Sprintf("small/%03d/file-%03d.txt", i/50, i), LogText(rng, 100+rng.IntN(3000)), 0o644})
	}
	for _, s := range steps {
		if err := write(s.rel, s.data, s.mode); err != nil {
			return 0, err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "private"), 0o700); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "empty-dir"), 0o755); err != nil {
		return 0, err
	}
	if err := os.Link(filepath.Join(dir, "hard/original.txt"), filepath.Join(dir, "hard/link.txt")); err != nil {
		return 0, err
	}
	if err := os.Symlink("../random.bin", filepath.Join(dir, "names/link-to-random")); err != nil {
		return 0, err
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(dir, "names/absolute-link")); err != nil {
		return 0, err
	}
	sparse := filepath.Join(dir, "sparse.img")
	f, err := os.Create(sparse)
	if err != nil {
		return 0, err
	}
	if err := f.Truncate(chunkSize*3 + 12345); err != nil {
		return 0, err
	}
	for _, off := range []int64{0, chunkSize + 4096, chunkSize * 3} {
		data := Random(rng, 4096)
		if _, err := f.WriteAt(data, off); err != nil {
			return 0, err
		}
		total += int64(len(data))
	}
	f.Close()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		return 0, err
	}
	sock, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "socket"), Net: "unix"})
	if err != nil {
		return 0, err
	}
	sock.SetUnlinkOnClose(false)
	sock.Close()
	if os.Geteuid() == 0 { // owners travel only when the agents run as root
		if err := os.Lchown(filepath.Join(dir, "private/secret.txt"), 1234, 5678); err != nil {
			return 0, err
		}
		if err := os.Lchown(filepath.Join(dir, "names/link-to-random"), 4321, 8765); err != nil {
			return 0, err
		}
	}
	// Distinct mtimes with nanoseconds, set last (deepest first so
	// directory mtimes stick).
	return total, stampMtimes(dir, rng)
}

// Mixed writes about size bytes: half random (incompressible) files, half
// log-like text, in files from 4 KiB to 8 MiB across nested directories.
func Mixed(dir string, size int64, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	var written int64
	for i := 0; written < size; i++ {
		n := int64(4<<10) << rng.IntN(12) // 4 KiB .. 8 MiB
		n = min(n, size-written)
		rel := fmt.Sprintf("d%02d/e%02d/f%05d", i%16, (i/16)%8, i)
		var data []byte
		if i%2 == 0 {
			rel += ".bin"
			data = Random(rng, int(n))
		} else {
			rel += ".log"
			data = LogText(rng, int(n))
		}
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		written += n
	}
	return nil
}

// Random returns n random bytes.
func Random(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(rng.Uint32())
	}
	return b
}

var (
	levels   = []string{"INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"}
	services = []string{"orders", "billing", "auth", "search", "inventory"}
	verbs    = []string{"GET", "POST", "PUT", "DELETE"}
)

// LogText returns about n bytes of log-like lines, which compress the way
// real application logs do.
func LogText(rng *rand.Rand, n int) []byte {
	var b bytes.Buffer
	t := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for b.Len() < n {
		t = t.Add(time.Duration(rng.IntN(2000)) * time.Millisecond)
		fmt.Fprintf(&b, "%s %-5s %s: %s /api/v1/%s/%d took=%dms user=%x status=%d\n",
			t.Format(time.RFC3339Nano), levels[rng.IntN(len(levels))], services[rng.IntN(len(services))],
			verbs[rng.IntN(len(verbs))], services[rng.IntN(len(services))], rng.IntN(100000), rng.IntN(900), rng.Uint32(), 200+100*rng.IntN(4))
	}
	return b.Bytes()[:n]
}

func stampMtimes(dir string, rng *rand.Rand) error {
	var paths []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return err
	}
	base := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	for i := len(paths) - 1; i >= 0; i-- {
		ts := base.Add(time.Duration(rng.Int64N(int64(300 * 24 * time.Hour))))
		ts = ts.Add(time.Duration(rng.IntN(1e9)))
		if err := lutimes(paths[i], ts); err != nil {
			return fmt.Errorf("set mtime of %s: %w", paths[i], err)
		}
	}
	return nil
}

func lutimes(p string, t time.Time) error {
	ts := []syscall.Timespec{syscall.NsecToTimespec(t.UnixNano()), syscall.NsecToTimespec(t.UnixNano())}
	return utimesNanoAt(p, ts)
}

// Rel makes a path relative to root with slashes.
func rel(root, p string) string {
	r, _ := filepath.Rel(root, p)
	return filepath.ToSlash(strings.TrimPrefix(r, "./"))
}
