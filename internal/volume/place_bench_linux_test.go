package volume

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/leptonmesh/lepton/internal/manifest"
	"golang.org/x/sys/unix"
)

// placeDirs is how many directories BenchmarkPlaceSmallFiles spreads its
// files over, and placeRun how many files share a run (a unit of S2's
// tree holds about 1,000).
const (
	placeDirs = 100
	placeRun  = 1000
)

// BenchmarkPlaceSmallFiles measures what writing one small file costs a
// target agent, and the floor of that cost on this machine: files of
// 4 KiB, placeRun at a time into one of placeDirs directories (a unit's
// files are neighbours), on /dev/shm when it exists (tmpfs, so no disk sets
// the pace).
//
//   - lepton: the receiver's path for a file whole in its unit:
//     OpenTempWhole, WriteAt, DirRun.PlaceFile (mode, owner, times on the
//     descriptor, fsync, rename into place), a directory fsync per run.
//   - syscalls: the bare system calls of the same work, through one
//     directory descriptor each: openat(O_CREAT|O_EXCL), pwrite, fchmod,
//     futimens, fsync, renameat, close. Any tool that writes each file
//     whole and renames it into place pays about this (rsync does the same
//     without the fsync).
//
// Run it with
//
//	go test -run '^$' -bench BenchmarkPlaceSmallFiles -benchtime 50000x ./internal/volume/
func BenchmarkPlaceSmallFiles(b *testing.B) {
	data := make([]byte, 4096)
	e := manifest.Entry{Kind: manifest.KindFile, Size: int64(len(data)), Mode: 0o644, MtimeNs: baseTime.UnixNano()}
	b.Run("lepton", func(b *testing.B) {
		dir := placeRoot(b)
		v := openVolume(b, dir)
		b.SetBytes(int64(len(data)))
		run := v.Run()
		i := 0
		for b.Loop() {
			f, err := v.OpenTempWhole("j", uint64(i), e.Size)
			mustOK(b, err)
			mustOK(b, WriteAt(f, data, 0))
			mustOK(b, run.PlaceFile(f, e.Size, "j", uint64(i), fmt.Sprintf("d%03d/f%d", i/placeRun%placeDirs, i), e, false))
			if i++; i%placeRun == 0 {
				mustOK(b, run.Close())
				run = v.Run()
			}
		}
		mustOK(b, run.Close())
	})
	b.Run("syscalls", func(b *testing.B) {
		dir := placeRoot(b)
		tmp := openDir(b, filepath.Join(dir, "tmp"))
		dirs := make([]int, placeDirs)
		for d := range dirs {
			dirs[d] = openDir(b, filepath.Join(dir, fmt.Sprintf("d%03d", d)))
		}
		ts := []unix.Timespec{unix.NsecToTimespec(e.MtimeNs), unix.NsecToTimespec(e.MtimeNs)}
		b.SetBytes(int64(len(data)))
		i := 0
		for b.Loop() {
			name := strconv.Itoa(i)
			fd, err := unix.Openat(tmp, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
			mustOK(b, err)
			_, err = unix.Pwrite(fd, data, 0)
			mustOK(b, err)
			mustOK(b, unix.Fchmod(fd, 0o644))
			mustOK(b, unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH))
			mustOK(b, unix.Fsync(fd))
			mustOK(b, unix.Renameat(tmp, name, dirs[i/placeRun%placeDirs], "f"+name))
			mustOK(b, unix.Close(fd))
			i++
		}
	})
}

// placeRoot is an empty directory for BenchmarkPlaceSmallFiles, with the
// placeDirs directories and a tmp directory made, on /dev/shm when it can.
func placeRoot(b *testing.B) string {
	parent := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		parent = "/dev/shm"
	}
	dir, err := os.MkdirTemp(parent, "lepton-place-bench-")
	mustOK(b, err)
	b.Cleanup(func() { os.RemoveAll(dir) })
	for d := range placeDirs {
		mustOK(b, os.MkdirAll(filepath.Join(dir, fmt.Sprintf("d%03d", d)), 0o755))
	}
	mustOK(b, os.Mkdir(filepath.Join(dir, "tmp"), 0o755))
	return dir
}

// openDir opens a directory for *at system calls, closed at the end.
func openDir(b *testing.B, path string) int {
	fd, err := unix.Open(path, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	mustOK(b, err)
	b.Cleanup(func() { unix.Close(fd) })
	return fd
}
