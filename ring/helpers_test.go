package ring

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
)

var seedFlag = flag.Uint64("ring.seed", 0, "seed for the property tests (0: each test's fixed seed)")

// newRand returns a generator seeded with fixed (or -ring.seed) and logs
// the seed if the test fails, so a failure can be replayed.
func newRand(t testing.TB, fixed uint64) *rand.Rand {
	t.Helper()
	seed := fixed
	if *seedFlag != 0 {
		seed = *seedFlag
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("random seed %d (replay with -ring.seed=%d)", seed, seed)
		}
	})
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// agentNames returns n distinct agent names with a random suffix, so each
// property run sees a different ring.
func agentNames(rng *rand.Rand, n int) []string {
	out := make([]string, n)
	tag := rng.Uint32()
	for i := range out {
		out[i] = fmt.Sprintf("agent-%08x-%d", tag, i)
	}
	return out
}

// randomKeys returns n distinct random keys.
func randomKeys(rng *rand.Rand, n int) []uint64 {
	seen := make(map[uint64]bool, n)
	out := make([]uint64, 0, n)
	for len(out) < n {
		k := rng.Uint64()
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// mustNew is New that fails the test on error.
func mustNew(t testing.TB, members []string, opts ...Option) *Ring {
	t.Helper()
	r, err := New(members, opts...)
	if err != nil {
		t.Fatalf("New(%v): %v", members, err)
	}
	return r
}

// owners returns r.Owner of every key.
func owners(r *Ring, keys []uint64) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = r.Owner(k)
	}
	return out
}

// assignBounded is AssignBounded that fails the test on error.
func assignBounded(t testing.TB, r *Ring, keys []uint64, weights []int64, c float64) []string {
	t.Helper()
	got, err := r.AssignBounded(keys, weights, c)
	if err != nil {
		t.Fatalf("AssignBounded(%d keys, c=%v): %v", len(keys), c, err)
	}
	return got
}

// changed returns the fraction of positions where a and b differ.
func changed(a, b []string) float64 {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return float64(n) / float64(len(a))
}
