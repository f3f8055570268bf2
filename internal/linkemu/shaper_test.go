package linkemu

import (
	"math"
	"slices"
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

func TestShaperSpacesPacketsAtTheRate(t *testing.T) {
	// 1 Mbit/s: a 1250-byte packet takes 10 ms to serialise.
	s := newShaper(Profile{Rate: 1e6, Delay: 25 * time.Millisecond, QueueBytes: 1 << 20}, 1)
	for i := range int64(5) {
		due, v := s.admit(0, 1250)
		if v != deliver {
			t.Fatalf("packet %d: verdict %v, want delivered", i, v)
		}
		if want := (i+1)*10*ms + 25*ms; due != want {
			t.Fatalf("packet %d due at %v, want %v", i, time.Duration(due), time.Duration(want))
		}
	}
	// Once the queue has drained, a packet waits only for itself.
	if due, _ := s.admit(200*ms, 1250); due != 200*ms+10*ms+25*ms {
		t.Fatalf("packet on an idle link due at %v, want 235ms", time.Duration(due))
	}
}

func TestShaperKeepsOddRatesExact(t *testing.T) {
	// 3 bit/ns does not divide 1500 bytes evenly; the remainder carries.
	s := newShaper(Profile{Rate: 3e9, QueueBytes: 1 << 30}, 1)
	var due int64
	for range 3000 {
		due, _ = s.admit(0, 1500)
	}
	if want := int64(3000 * 1500 * 8 / 3); due != want {
		t.Fatalf("3000 packets at 3 Gbit/s done at %d ns, want %d", due, want)
	}
}

func TestShaperDropsTailWhenQueueIsFull(t *testing.T) {
	// 8 Mbit/s = 1 byte/µs; the queue holds exactly ten 1000-byte packets.
	s := newShaper(Profile{Rate: 8e6, QueueBytes: 10000}, 1)
	for i := range 10 {
		if _, v := s.admit(0, 1000); v != deliver {
			t.Fatalf("packet %d of a burst of 10 into a 10-packet queue: verdict %v", i, v)
		}
	}
	if _, v := s.admit(0, 1000); v != queueDrop {
		t.Fatalf("11th packet into a full queue: verdict %v, want queue drop", v)
	}
	if _, v := s.admit(0, 1); v != queueDrop {
		t.Fatalf("even a 1-byte packet must not fit a full queue: verdict %v", v)
	}
	// 1 ms later one packet has left the bottleneck: room for exactly one.
	if _, v := s.admit(ms, 1000); v != deliver {
		t.Fatalf("packet after one drained: verdict %v, want delivered", v)
	}
	if _, v := s.admit(ms, 1000); v != queueDrop {
		t.Fatalf("second packet after one drained: verdict %v, want queue drop", v)
	}
}

func TestShaperDefaultQueueIsOneBDP(t *testing.T) {
	p := WAN(0)
	if got := p.queueBytes(); got != 6250000 {
		t.Fatalf("WAN queue %d bytes, want 6250000 (1 Gbit/s × 50 ms)", got)
	}
	if got := (Profile{Rate: 1e6, Delay: time.Millisecond}).queueBytes(); got != minQueueBytes {
		t.Fatalf("tiny link's queue %d bytes, want the %d floor", got, minQueueBytes)
	}
	// A burst twice the BDP: about half of it is tail-dropped.
	s := newShaper(p, 1)
	var drops int
	for range 2 * 6250000 / 1500 {
		if _, v := s.admit(0, 1500); v == queueDrop {
			drops++
		}
	}
	if drops < 4100 || drops > 4200 {
		t.Fatalf("%d of 8333 back-to-back packets dropped, want about half", drops)
	}
}

func TestShaperLosesTheConfiguredFraction(t *testing.T) {
	for _, loss := range []float64{0.0001, 0.001, 0.005, 0.5} {
		const n = 400000
		s := newShaper(Profile{Loss: loss, Seed: 7}, 1)
		lost := 0
		for i := range int64(n) {
			if _, v := s.admit(i*1000, 1500); v == lossDrop {
				lost++
			}
		}
		// Binomial: allow about five standard deviations either way.
		want := loss * n
		band := 5 * math.Sqrt(n*loss*(1-loss))
		if float64(lost) < want-band || float64(lost) > want+band {
			t.Errorf("loss %v: %d of %d lost, want %.0f ± %.0f", loss, lost, n, want, band)
		}
	}
}

func TestShaperLossIsRepeatablePerSeed(t *testing.T) {
	pattern := func(seed uint64, stream uint64) []int {
		s := newShaper(Profile{Loss: 0.1, Seed: seed}, stream)
		var lost []int
		for i := range 1000 {
			if _, v := s.admit(int64(i), 100); v == lossDrop {
				lost = append(lost, i)
			}
		}
		return lost
	}
	a, b := pattern(3, 1), pattern(3, 1)
	if !slices.Equal(a, b) {
		t.Fatal("the same seed lost different packets")
	}
	if slices.Equal(a, pattern(4, 1)) || slices.Equal(a, pattern(3, 2)) {
		t.Fatal("another seed or direction lost the very same packets")
	}
}

func TestShaperJitterNeverReorders(t *testing.T) {
	const delay, jitter = 5 * ms, 20 * ms
	s := newShaper(Profile{Delay: time.Duration(delay), Jitter: time.Duration(jitter)}, 1)
	var last, now int64
	spread := map[int64]bool{}
	for i := range 10000 {
		// Dense packets (100 µs apart) would overtake each other without
		// the FIFO clamp; sparse ones (every tenth, 30 ms on) show the
		// jitter's own spread.
		now += 100 * int64(time.Microsecond)
		if i%10 == 0 {
			now += 30 * ms
		}
		due, v := s.admit(now, 200)
		if v != deliver {
			t.Fatalf("packet %d: verdict %v", i, v)
		}
		if due < last {
			t.Fatalf("packet %d due at %d, before its predecessor at %d: reordered", i, due, last)
		}
		extra := due - now - delay
		if extra < 0 || extra >= jitter {
			t.Fatalf("packet %d: extra delay %v outside [0, %v)", i, time.Duration(extra), time.Duration(jitter))
		}
		if i%10 == 0 {
			spread[extra/ms] = true
		}
		last = due
	}
	if len(spread) < 18 {
		t.Fatalf("jitter of sparse packets hit only %d distinct milliseconds of 20", len(spread))
	}
}

func TestShaperAddsDelayWithoutRate(t *testing.T) {
	s := newShaper(Profile{Delay: 25 * time.Millisecond}, 1)
	for _, now := range []int64{0, 0, 3, 40 * ms} {
		if due, _ := s.admit(now, 64000); due != now+25*ms {
			t.Fatalf("packet at %d due at %d, want %d", now, due, now+25*ms)
		}
	}
}

func TestShaperSetProfileTakesEffect(t *testing.T) {
	s := newShaper(Profile{Delay: 30 * time.Millisecond}, 1)
	first, _ := s.admit(0, 100)
	s.setProfile(Profile{Delay: time.Millisecond, Rate: 8e6, QueueBytes: 1000})
	// A shorter delay never overtakes a packet already in flight...
	if due, _ := s.admit(ms, 1000); due != first {
		t.Fatalf("packet after the switch due at %v, want held behind the first at %v", time.Duration(due), time.Duration(first))
	}
	// ...and later packets get the new delay and the new rate and queue.
	if due, _ := s.admit(100*ms, 1000); due != 100*ms+ms+ms {
		t.Fatalf("packet under the new profile due at %v, want 102ms", time.Duration(due))
	}
	if _, v := s.admit(100*ms, 1000); v != queueDrop {
		t.Fatalf("second packet into the new 1000-byte queue: verdict %v, want queue drop", v)
	}
	s.setProfile(Profile{Loss: 1})
	if _, v := s.admit(200*ms, 100); v != lossDrop {
		t.Fatalf("with loss 1: verdict %v, want lost", v)
	}
}

func TestProfileString(t *testing.T) {
	for _, c := range []struct {
		p    Profile
		want string
	}{
		{WAN(0.001), "1 Gbit/s, 50 ms RTT, 6.2 MB queue, 0.1% loss"},
		{WAN(0.0001), "1 Gbit/s, 50 ms RTT, 6.2 MB queue, 0.01% loss"},
		{WAN(0), "1 Gbit/s, 50 ms RTT, 6.2 MB queue, 0% loss"},
		{Profile{Rate: 20e6, Delay: 5 * time.Millisecond, Jitter: 1500 * time.Microsecond, Loss: 0.005},
			"20 Mbit/s, 10 ms RTT, +1.5 ms jitter, 0.1 MB queue, 0.5% loss"},
		{Profile{}, "unlimited rate, 0 ms RTT, 0% loss"},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}
}

func TestProfileValidate(t *testing.T) {
	for _, p := range []Profile{{Rate: -1}, {Delay: -1}, {Jitter: -1}, {Loss: 1.5}, {Loss: -0.1}, {QueueBytes: -1}} {
		if p.validate() == nil {
			t.Errorf("profile %+v accepted", p)
		}
	}
	if err := WAN(0.005).validate(); err != nil {
		t.Fatal(err)
	}
}
