package linkemu

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// InNetns runs fn on an OS thread that has entered the network namespace
// name (as `ip netns` knows it) and returns fn's error. Sockets and TUN
// devices fn opens belong to that namespace for good, so a test or
// benchmark can open them there and use them from any goroutine. The
// thread goes back to its own namespace afterwards; one that cannot is
// never reused (its goroutine exits still locked to it).
func InNetns(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		back, err := inNetnsLocked(name, fn)
		if back {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// inNetnsLocked runs on a locked thread; back reports whether the thread
// is in its own namespace again.
func inNetnsLocked(name string, fn func() error) (back bool, err error) {
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return true, fmt.Errorf("open own network namespace: %w", err)
	}
	defer self.Close()
	target, err := os.Open(filepath.Join("/var/run/netns", name))
	if err != nil {
		return true, fmt.Errorf("open network namespace %s: %w", name, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return true, fmt.Errorf("enter network namespace %s: %w", name, err)
	}
	err = fn()
	if serr := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); serr != nil {
		return false, fmt.Errorf("leave network namespace %s: %w (after: %v)", name, serr, err)
	}
	return true, err
}
