package linkemu

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// sleeper puts a writer to sleep until its next packet is due. Go's own
// timers wake an idle process up to a millisecond late here (the runtime
// polls with a millisecond timeout), which would add up to 4% to a 25 ms
// delay; a timerfd in the runtime's poller wakes it within tens of
// microseconds. Closing the sleeper wakes a sleeping writer with an error.
type sleeper struct {
	f  *os.File
	rc syscall.RawConn
}

func newSleeper() (*sleeper, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	return &sleeper{f: f, rc: rc}, nil
}

// sleep returns after d nanoseconds, or at once with an error once the
// sleeper is closed.
func (s *sleeper) sleep(d int64) error {
	if d <= 0 {
		return nil
	}
	var serr error
	// Control holds the descriptor open while the timer is armed, so a
	// concurrent close never lets the number be reused under us.
	err := s.rc.Control(func(fd uintptr) {
		its := unix.ItimerSpec{Value: unix.NsecToTimespec(d)}
		serr = unix.TimerfdSettime(int(fd), 0, &its, nil)
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("arm timerfd: %w", serr)
	}
	var ticks [8]byte
	_, err = s.f.Read(ticks[:])
	return err
}

func (s *sleeper) close() error { return s.f.Close() }
