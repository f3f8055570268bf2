package volume

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
)

// maxCachedDirs bounds the directory descriptors a volume keeps open.
const maxCachedDirs = 64

// dirCache keeps descriptors of directories in Lepton's temp area open, so
// that writing and finalizing each of a million small files does not walk
// `.lepton/tmp/<job>` through the root (three openat and three close calls)
// two or three times per file. Only the temp area is cached: Lepton alone
// makes and removes directories there. A descriptor may outlive its
// directory (another job's cleanup removed it while empty); callers that
// then fail with ENOENT, or find the descriptor closed, evict it and walk
// again (see withDir).
//
// A descriptor is opened by openDir, so it is a real directory reached
// without following a symlink, and it stays that directory: a name it was
// opened by being swapped for a symlink later is never followed through
// it. Calls keep acting on the directory that was there (wherever it has
// been moved to, or failing once it is removed, which evicts it and opens
// the name afresh, where the symlink is refused). That is the same as a
// call that had opened the directory just before the swap.
type dirCache struct {
	mu   sync.Mutex
	dirs map[string]*os.File
}

// get returns the cached descriptor of rel, opening it with open on a miss.
func (c *dirCache) get(rel string, open func() (*os.File, error)) (*os.File, error) {
	c.mu.Lock()
	if d, ok := c.dirs[rel]; ok {
		c.mu.Unlock()
		return d, nil
	}
	c.mu.Unlock()
	d, err := open()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.dirs[rel]; ok { // raced with another opener
		d.Close()
		return old, nil
	}
	if c.dirs == nil {
		c.dirs = map[string]*os.File{}
	}
	if len(c.dirs) >= maxCachedDirs {
		for k, old := range c.dirs { // any one: jobs come and go, there are few
			old.Close()
			delete(c.dirs, k)
			break
		}
	}
	c.dirs[rel] = d
	return d, nil
}

// evict closes and forgets rel and every cached directory below it. An
// operation running on a descriptor being closed finishes first (os.File
// counts its users); later ones fail with os.ErrClosed and walk again.
func (c *dirCache) evict(rel string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, d := range c.dirs {
		if k == rel || strings.HasPrefix(k, rel+"/") {
			d.Close()
			delete(c.dirs, k)
		}
	}
}

// closeAll closes every cached descriptor.
func (c *dirCache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, d := range c.dirs {
		d.Close()
		delete(c.dirs, k)
	}
}

// stale reports whether an error from a cached directory may come from the
// descriptor itself being stale: its directory removed, or it was closed.
func stale(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOENT) || errors.Is(err, os.ErrClosed)
}
