package linkemu

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// mtu is the links' MTU: a plain Ethernet-sized path, so loss applies per
// real packet (the TUN devices have no offloads: no GSO/GRO super-packets).
const mtu = 1500

// txQueueLen is the TUN device's own packet queue ahead of the reader
// (the kernel's default is 500): 100 ms of packets at 1 Gbit/s. It fills
// only when the reader falls behind, e.g. starved of CPU by the very tools
// being measured, or behind a burst from BBR's startup; a packet waiting
// there is late, which is better than lost. What overflows it shows in
// Link.DeviceDrops, not in Stats.
const txQueueLen = 8192

// openTUN creates the TUN device dev inside network namespace ns, so the
// host namespace never sees it, and returns its non-blocking descriptor as
// a file the runtime's poller serves: a read waits in the poller, then
// returns one packet; a write sends one (the descriptor never blocks). The
// device lives as long as the file.
func openTUN(ns, dev string) (*os.File, error) {
	if len(dev) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("TUN device name %q is longer than %d bytes", dev, unix.IFNAMSIZ-1)
	}
	var f *os.File
	err := InNetns(ns, func() error {
		// The device is made in the namespace of the thread that opens the
		// clone device, not the one that issues the ioctl.
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq(dev)
		if err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUN device name %q: %w", dev, err)
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("create TUN device %s: %w", dev, err)
		}
		f = os.NewFile(uintptr(fd), "/dev/net/tun:"+dev)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("in network namespace %s: %w", ns, err)
	}
	args := []string{"-n", ns, "link", "set", "dev", dev, "mtu", fmt.Sprint(mtu), "txqueuelen", fmt.Sprint(txQueueLen), "up"}
	if out, err := ipCmd(args...); err != nil {
		f.Close()
		return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return f, nil
}

// txDropped reads device dev's TX drop counter in namespace ns.
func txDropped(ns, dev string) (int64, error) {
	out, err := ipCmd("-n", ns, "-s", "-j", "link", "show", "dev", dev)
	if err != nil {
		return 0, fmt.Errorf("statistics of %s in %s: %v: %s", dev, ns, err, out)
	}
	var links []struct {
		Stats64 struct {
			TX struct {
				Dropped int64 `json:"dropped"`
			} `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		return 0, fmt.Errorf("statistics of %s in %s: unexpected ip output %q", dev, ns, out)
	}
	return links[0].Stats64.TX.Dropped, nil
}

func ipCmd(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
