package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/testtree"
)

// Sample tree bounds. The mixed tree is written in parts, two at a time on
// two cores, so Ctrl-C never waits for more than one part.
const (
	defaultSize = 512 << 20
	minSize     = 1 << 20
	maxSize     = 64 << 30
	treeParts   = 8
	chunkSize   = 4 << 20 // the job's chunk_size; Shapes sizes its big and sparse files by it
	shapesDir   = "shapes"
	mixedDir    = "mixed"
)

// sampleTree is where the demo's trees live and what the source holds.
type sampleTree struct {
	root     string // the data dir: source/ and target/ under it
	source   string // the source volume's root
	target   string // the target volume's root
	inMemory bool   // root is on /dev/shm
	census   census
}

// census counts what a tree holds, as `find` would.
type census struct {
	files, dirs, symlinks, hardlinks, sparse, fifos, sockets, devices int
	bytes                                                             int64 // regular files' sizes, each inode once
}

// demoSize reads LEPTON_DEMO_SIZE ("512MiB", "2GiB", a number of bytes).
func demoSize(s *session) int64 {
	env := os.Getenv("LEPTON_DEMO_SIZE")
	if env == "" {
		return defaultSize
	}
	n, err := jobspec.ParseByteSize(env)
	if err != nil {
		s.Fatalf("LEPTON_DEMO_SIZE: %v", err)
	}
	if n < minSize || n > maxSize {
		s.Fatalf("LEPTON_DEMO_SIZE: %s is out of range; use from 1MiB to 64GiB", env)
	}
	return int64(n)
}

// makeTree writes the sample source tree and an empty target, and says
// what it made.
func (d *demo) makeTree(size int64) {
	d.heading("Generating a sample tree to migrate")
	parent, inMemory := dataParent(size)
	root := d.s.DataDir(parent)
	d.tree = sampleTree{root: root, source: filepath.Join(root, "source"), target: filepath.Join(root, "target"), inMemory: inMemory}
	for _, dir := range []string{d.tree.source, d.tree.target} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			d.s.Fatalf("make %s: %v", dir, err)
		}
	}
	where := "the temp dir"
	if inMemory {
		where = "/dev/shm (in memory, so the disk does not set the pace)"
	}
	d.say("In %s: %s", where, root)
	began := time.Now()
	d.generate(size)
	d.tree.census = takeCensus(d.s, d.tree.source)
	c := d.tree.census
	d.say("  source/%-6s %s: files from 4 KiB to 8 MiB, half random (incompressible), half", mixedDir, mib(size))
	d.say("                log-like text (compresses well), in nested directories")
	d.say("  source/%-6s every shape a migration must carry: empty files, a file of several chunks,", shapesDir)
	d.say("                deep directories, names with spaces and non-ASCII letters, a 0700 directory,")
	d.say("                symlinks, a hardlink, a sparse file (mostly holes), files of other owners (as")
	d.say("                root), and a FIFO and a unix socket, which a migration skips")
	d.say("  target        empty")
	d.say("Made %s (%s), %s, %s, %s, %s, %s and %s in %s.",
		plural(c.files, "file"), mib(c.bytes), plural(c.dirs, "directory"), plural(c.symlinks, "symlink"),
		plural(c.hardlinks, "hardlinked name"), plural(c.sparse, "sparse file"), plural(c.fifos, "FIFO"),
		plural(c.sockets, "socket"), seconds(time.Since(began)))
}

// plural writes "1 file", "2 files", "3 directories".
func plural(n int, noun string) string {
	switch {
	case n == 1:
		return "1 " + noun
	case strings.HasSuffix(noun, "y"):
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(noun, "y"))
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// dataParent picks where the trees go: /dev/shm when it exists and has room
// for both trees with a margin, else the system temp dir.
func dataParent(size int64) (string, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err == nil {
		free := int64(st.Bavail) * st.Bsize
		if free > 2*size+size/4+256<<20 {
			return "/dev/shm", true
		}
	}
	return "", false
}

// generate writes the mixed tree in treeParts parts and the shapes tree,
// on as many goroutines as there are cores. On Ctrl-C the parts not yet
// begun are left out, and the data dir's removal waits (bounded) for the
// ones being written, so nothing is recreated after it.
func (d *demo) generate(size int64) {
	type task struct {
		what string
		run  func() error
	}
	var tasks []task
	part := size / treeParts
	for i := range treeParts {
		n := part
		if i == treeParts-1 {
			n = size - part*(treeParts-1)
		}
		dir := filepath.Join(d.tree.source, mixedDir, fmt.Sprintf("part-%d", i+1))
		tasks = append(tasks, task{dir, func() error { return testtree.Mixed(dir, n, uint64(1000+i)) }})
	}
	shapes := filepath.Join(d.tree.source, shapesDir)
	tasks = append(tasks, task{shapes, func() error {
		if err := os.Mkdir(shapes, 0o755); err != nil {
			return err
		}
		_, err := testtree.Shapes(shapes, chunkSize, 7)
		return err
	}})

	queue := make(chan task, len(tasks))
	for _, t := range tasks {
		queue <- t
	}
	close(queue)
	var wg sync.WaitGroup
	errs := make(chan error, len(tasks))
	for range min(runtime.NumCPU(), len(tasks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range queue {
				if d.ctx.Err() != nil {
					return
				}
				if err := t.run(); err != nil {
					errs <- fmt.Errorf("write %s: %w", t.what, err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	d.s.Cleanup(func() { // runs before the data dir's removal
		select {
		case <-done:
		case <-time.After(15 * time.Second):
		}
	})
	<-done
	d.halt()
	close(errs)
	if err := <-errs; err != nil {
		d.s.Fatalf("generate the sample tree: %v", err)
	}
}

// takeCensus counts what the tree under root holds.
func takeCensus(s *session, root string) census {
	var c census
	seen := map[uint64]bool{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		st, _ := info.Sys().(*syscall.Stat_t)
		switch {
		case e.IsDir():
			c.dirs++
		case e.Type()&fs.ModeSymlink != 0:
			c.symlinks++
		case e.Type().IsRegular():
			c.files++
			if st != nil && seen[st.Ino] {
				c.hardlinks++
				return nil
			}
			if st != nil {
				seen[st.Ino] = true
				if st.Blocks*512 < info.Size() {
					c.sparse++
				}
			}
			c.bytes += info.Size()
		case e.Type()&fs.ModeNamedPipe != 0:
			c.fifos++
		case e.Type()&fs.ModeSocket != 0:
			c.sockets++
		default:
			c.devices++
		}
		return nil
	})
	if err != nil {
		s.Fatalf("count the sample tree: %v", err)
	}
	return c
}
