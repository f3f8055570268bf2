package ring

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkOwner(b *testing.B) {
	rng := newRand(b, 1)
	r := mustNew(b, agentNames(rng, 16))
	keys := make([]uint64, 1<<16)
	for i := range keys {
		keys[i] = rng.Uint64()
	}
	for i := 0; b.Loop(); i++ {
		_ = r.Owner(keys[i&(len(keys)-1)])
	}
}

func BenchmarkAssignBounded1M(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	r := mustNew(b, agentNames(rng, 16))
	keys := make([]uint64, 1_000_000)
	for i := range keys {
		keys[i] = rng.Uint64()
	}
	for b.Loop() {
		if _, err := r.AssignBounded(keys, nil, DefaultLoadFactor); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAssignBounded1MWeighted(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	r := mustNew(b, agentNames(rng, 16))
	keys := make([]uint64, 1_000_000)
	weights := make([]int64, len(keys))
	for i := range keys {
		keys[i] = rng.Uint64()
		weights[i] = 1 + rng.Int64N(4<<20)
	}
	for b.Loop() {
		if _, err := r.AssignBounded(keys, weights, DefaultLoadFactor); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNew16(b *testing.B) {
	names := agentNames(rand.New(rand.NewPCG(4, 4)), 16)
	for b.Loop() {
		if _, err := New(names); err != nil {
			b.Fatal(err)
		}
	}
}
