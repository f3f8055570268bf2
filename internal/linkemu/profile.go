// Package linkemu emulates a wide-area link in user space: two TUN devices,
// one in each of two network namespaces, joined by a forwarder that applies
// a bottleneck rate with a drop-tail queue, propagation delay, jitter and
// random loss. It stands in for netem/tbf on kernels that have neither, so
// Lepton's QUIC traffic and rsync/rclone's TCP traffic cross the very same
// link in benchmarks. See DESIGN.md for the model and its measured cost.
package linkemu

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Profile is one direction's link behaviour (both directions get the same
// profile). Jitter never reorders: a packet is delivered no earlier than
// the one before it, so when packets come much closer together than
// Jitter their extra delay tends towards its top.
type Profile struct {
	Rate       int64         // bits per second; 0 = unlimited
	Delay      time.Duration // one-way propagation delay
	Jitter     time.Duration // uniform extra delay in [0, Jitter); packets stay in order (no reordering)
	Loss       float64       // probability a packet is dropped at random, 0..1
	QueueBytes int           // drop-tail bottleneck queue in bytes; 0 = one bandwidth-delay product of Rate×2×Delay (min 64 KiB)
	Seed       uint64        // loss/jitter RNG seed (0 = fixed default), so runs are repeatable
}

// minQueueBytes is the smallest default queue: a few dozen full packets,
// so a link with a tiny bandwidth-delay product still absorbs a burst.
const minQueueBytes = 64 << 10

// defaultSeed is the seed a zero Profile.Seed stands for.
const defaultSeed = 0x1e9704

// WAN is the inter-cloud link of the benchmarks: 1 Gbit/s, 25 ms each way
// (50 ms round trip), a drop-tail queue of one bandwidth-delay product
// (6.25 MB), and the given random loss probability.
func WAN(loss float64) Profile {
	return Profile{Rate: 1e9, Delay: 25 * time.Millisecond, Loss: loss}
}

// queueBytes is the drop-tail limit in force: QueueBytes, or one
// bandwidth-delay product of the round trip, at least minQueueBytes.
func (p Profile) queueBytes() int {
	if p.QueueBytes > 0 {
		return p.QueueBytes
	}
	bdp := int(float64(p.Rate) * (2 * p.Delay).Seconds() / 8)
	return max(bdp, minQueueBytes)
}

// validate reports a profile no link can have.
func (p Profile) validate() error {
	switch {
	case p.Rate < 0:
		return fmt.Errorf("link profile: negative rate %d bit/s", p.Rate)
	case p.Delay < 0 || p.Jitter < 0:
		return fmt.Errorf("link profile: negative delay %v or jitter %v", p.Delay, p.Jitter)
	case !(p.Loss >= 0 && p.Loss <= 1):
		return fmt.Errorf("link profile: loss %v is not a probability in [0, 1]", p.Loss)
	case p.QueueBytes < 0:
		return fmt.Errorf("link profile: negative queue %d bytes", p.QueueBytes)
	}
	return nil
}

// String describes the link as a benchmark report names it, e.g.
// "1 Gbit/s, 50 ms RTT, 6.2 MB queue, 0.1% loss".
func (p Profile) String() string {
	parts := make([]string, 0, 5)
	if p.Rate > 0 {
		parts = append(parts, formatRate(p.Rate))
	} else {
		parts = append(parts, "unlimited rate")
	}
	parts = append(parts, formatDuration(2*p.Delay)+" RTT")
	if p.Jitter > 0 {
		parts = append(parts, "+"+formatDuration(p.Jitter)+" jitter")
	}
	if p.Rate > 0 {
		parts = append(parts, strconv.FormatFloat(float64(p.queueBytes())/1e6, 'f', 1, 64)+" MB queue")
	}
	parts = append(parts, strconv.FormatFloat(p.Loss*100, 'g', 3, 64)+"% loss")
	return strings.Join(parts, ", ")
}

func formatRate(bps int64) string {
	for _, u := range []struct {
		div  float64
		name string
	}{{1e9, "Gbit/s"}, {1e6, "Mbit/s"}, {1e3, "kbit/s"}} {
		if float64(bps) >= u.div {
			return strconv.FormatFloat(float64(bps)/u.div, 'g', 4, 64) + " " + u.name
		}
	}
	return strconv.FormatInt(bps, 10) + " bit/s"
}

func formatDuration(d time.Duration) string {
	if d%time.Millisecond == 0 {
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	}
	return strconv.FormatFloat(float64(d)/1e6, 'g', 4, 64) + " ms"
}
