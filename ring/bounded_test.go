package ring

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

// capacity is an independent oracle for a member's load bound:
// ceil(c × total × memberWeight / sumOfMemberWeights), in exact rationals.
func capacity(c float64, total int64, memberWeight, sumWeights int) int64 {
	q := new(big.Rat).SetFloat64(c)
	q.Mul(q, new(big.Rat).SetInt64(total))
	q.Mul(q, big.NewRat(int64(memberWeight), int64(sumWeights)))
	n, d := q.Num(), q.Denom()
	ceil := new(big.Int).Add(n, new(big.Int).Sub(d, big.NewInt(1)))
	ceil.Quo(ceil, d)
	if !ceil.IsInt64() {
		return math.MaxInt64
	}
	return ceil.Int64()
}

// checkBounded asserts that got places every key on a member and loads each
// member within capacity plus slack; it reports whether any member is over
// its capacity.
func checkBounded(t *testing.T, r *Ring, weights []int64, memberWeights map[string]int, got []string, c float64, slack int64) (over bool) {
	t.Helper()
	var total int64
	load := map[string]int64{}
	for i, m := range got {
		if !r.Has(m) {
			t.Fatalf("key %d assigned to %q, not a member", i, m)
		}
		w := int64(1)
		if weights != nil {
			w = weights[i]
		}
		load[m] += w
		total += w
	}
	sum := 0
	for _, m := range r.Members() {
		sum += max(1, memberWeights[m])
	}
	for _, m := range r.Members() {
		limit := capacity(c, total, max(1, memberWeights[m]), sum)
		if load[m] > limit && load[m]-limit > slack {
			t.Fatalf("%d members, c=%v: %q carries %d, capacity %d (+%d slack)", r.Len(), c, m, load[m], limit, slack)
		}
		over = over || load[m] > limit
	}
	return over
}

// TestBoundedNeverOverloads covers unit weights across ring sizes, batch
// sizes, vnode counts and load factors, including rings so lumpy that plain
// Owner overloads members badly.
func TestBoundedNeverOverloads(t *testing.T) {
	rng := newRand(t, 31)
	plainOverloaded := 0
	for _, vnodes := range []int{1, 4, DefaultVnodes} {
		for _, c := range []float64{1, 1.05, DefaultLoadFactor, 2} {
			for n := 3; n <= 16; n += 1 + rng.IntN(3) {
				for _, count := range []int{0, 1, n - 1, n + 1, 997, 5000} {
					r := mustNew(t, agentNames(rng, n), WithVnodes(vnodes))
					keys := randomKeys(rng, count)
					got := assignBounded(t, r, keys, nil, c)
					if len(got) != count {
						t.Fatalf("%d results for %d keys", len(got), count)
					}
					checkBounded(t, r, nil, nil, got, c, 0)
					limit := capacity(c, int64(count), 1, n)
					for _, l := range countLoads(owners(r, keys)) {
						if l > limit {
							plainOverloaded++
							break
						}
					}
				}
			}
		}
	}
	if plainOverloaded < 10 {
		t.Fatalf("plain Owner exceeded the bound in only %d cases: the test does not tell bounded from plain", plainOverloaded)
	}
}

// countLoads returns how many keys each member got.
func countLoads(got []string) map[string]int64 {
	load := map[string]int64{}
	for _, m := range got {
		load[m]++
	}
	return load
}

// TestBoundedDefaultLoadFactor: c = 0 means DefaultLoadFactor.
func TestBoundedDefaultLoadFactor(t *testing.T) {
	rng := newRand(t, 32)
	r := mustNew(t, agentNames(rng, 6), WithVnodes(2))
	keys := randomKeys(rng, 3000)
	if !slices.Equal(assignBounded(t, r, keys, nil, 0), assignBounded(t, r, keys, nil, DefaultLoadFactor)) {
		t.Fatal("c = 0 and c = DefaultLoadFactor place keys differently")
	}
}

// TestBoundedWeightedChunks: with chunk sizes as weights, no agent is
// given more than ceil(1.25 × mean bytes), including agents of weight 2.
func TestBoundedWeightedChunks(t *testing.T) {
	rng := newRand(t, 33)
	for _, vnodes := range []int{2, DefaultVnodes} {
		for n := 3; n <= 16; n += 1 + rng.IntN(4) {
			names := agentNames(rng, n)
			memberWeights := map[string]int{}
			if n%2 == 0 {
				memberWeights[names[0]] = 2
				memberWeights[names[1]] = 3
			}
			r := mustNew(t, names, WithVnodes(vnodes), WithWeights(memberWeights))
			keys := randomKeys(rng, 20000)
			weights := chunkSizes(rng, len(keys))
			got := assignBounded(t, r, keys, weights, DefaultLoadFactor)
			checkBounded(t, r, weights, memberWeights, got, DefaultLoadFactor, 0)
		}
	}
}

// chunkSizes returns sizes like a migration's: mostly full 4 MiB chunks,
// some file tails, many small files.
func chunkSizes(rng *rand.Rand, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		switch rng.IntN(4) {
		case 0, 1:
			out[i] = 4 << 20
		case 2:
			out[i] = 1 + rng.Int64N(4<<20)
		default:
			out[i] = rng.Int64N(64 << 10) // includes empty files
		}
	}
	return out
}

// TestBoundedHeavyKeys: when a few keys are heavier than the free room
// anywhere (small batches), each is still placed, and no member goes over
// its capacity by the heaviest key or more.
func TestBoundedHeavyKeys(t *testing.T) {
	rng := newRand(t, 34)
	overloaded := 0
	for trial := range 200 {
		n := 2 + rng.IntN(6)
		r := mustNew(t, agentNames(rng, n), WithVnodes(1+rng.IntN(8)))
		keys := randomKeys(rng, 1+rng.IntN(12))
		weights := make([]int64, len(keys))
		var heaviest int64
		for i := range weights {
			weights[i] = rng.Int64N(1 << (rng.IntN(40)))
			heaviest = max(heaviest, weights[i])
		}
		c := 1 + rng.Float64()
		got := assignBounded(t, r, keys, weights, c)
		if checkBounded(t, r, weights, nil, got, c, max(0, heaviest-1)) {
			overloaded++
		}
		if again := assignBounded(t, r, keys, weights, c); !slices.Equal(got, again) {
			t.Fatalf("trial %d: two calls disagree", trial)
		}
	}
	if overloaded == 0 {
		t.Fatal("no trial needed the heavy-key fallback: the test does not exercise it")
	}
}

// TestBoundedDependsOnlyOnKeySet: the leader and any later leader get the
// same placement whatever order the chunks are listed in.
func TestBoundedDependsOnlyOnKeySet(t *testing.T) {
	rng := newRand(t, 35)
	for _, weighted := range []bool{false, true} {
		for n := 3; n <= 16; n += 1 + rng.IntN(4) {
			r := mustNew(t, agentNames(rng, n), WithVnodes(1+rng.IntN(DefaultVnodes)))
			keys := randomKeys(rng, 5000)
			var weights []int64
			if weighted {
				weights = chunkSizes(rng, len(keys))
			}
			first := assignBounded(t, r, keys, weights, DefaultLoadFactor)
			if second := assignBounded(t, r, keys, weights, DefaultLoadFactor); !slices.Equal(first, second) {
				t.Fatalf("N=%d weighted=%v: two calls disagree", n, weighted)
			}
			want := map[uint64]string{}
			for i, k := range keys {
				want[k] = first[i]
			}

			perm := rng.Perm(len(keys))
			shufKeys := make([]uint64, len(keys))
			var shufWeights []int64
			if weighted {
				shufWeights = make([]int64, len(keys))
			}
			for i, p := range perm {
				shufKeys[i] = keys[p]
				if weighted {
					shufWeights[i] = weights[p]
				}
			}
			// A ring rebuilt from a reordered member list, as on another agent.
			members := r.Members()
			slices.Reverse(members)
			other := mustNew(t, members, WithVnodes(r.vnodes))
			for i, m := range assignBounded(t, other, shufKeys, shufWeights, DefaultLoadFactor) {
				if want[shufKeys[i]] != m {
					t.Fatalf("N=%d weighted=%v: key %#x on %q after shuffling, %q before", n, weighted, shufKeys[i], m, want[shufKeys[i]])
				}
			}
		}
	}
}

// TestBoundedDuplicateKeys: repeated (key, weight) pairs are
// interchangeable, so the multiset of placements ignores input order.
func TestBoundedDuplicateKeys(t *testing.T) {
	rng := newRand(t, 36)
	r := mustNew(t, agentNames(rng, 4), WithVnodes(3))
	var keys []uint64
	var weights []int64
	for _, k := range randomKeys(rng, 50) {
		for range 1 + rng.IntN(6) {
			keys = append(keys, k)
			weights = append(weights, 1+rng.Int64N(3))
		}
	}
	placements := func(keys []uint64, weights []int64) []string {
		got := assignBounded(t, r, keys, weights, 1.1)
		checkBounded(t, r, weights, nil, got, 1.1, 0)
		out := make([]string, len(keys))
		for i := range keys {
			out[i] = fmt.Sprintf("%x/%d/%s", keys[i], weights[i], got[i])
		}
		slices.Sort(out)
		return out
	}
	want := placements(keys, weights)
	for range 5 {
		rng.Shuffle(len(keys), func(i, j int) {
			keys[i], keys[j] = keys[j], keys[i]
			weights[i], weights[j] = weights[j], weights[i]
		})
		if got := placements(keys, weights); !slices.Equal(got, want) {
			t.Fatal("placements of duplicate keys depend on input order")
		}
	}
}

func TestBoundedRejectsBadBatch(t *testing.T) {
	r := mustNew(t, []string{"a", "b"})
	cases := []struct {
		name    string
		keys    []uint64
		weights []int64
		c       float64
	}{
		{"short weights", []uint64{1, 2}, []int64{1}, 0},
		{"negative weight", []uint64{1, 2}, []int64{1, -1}, 0},
		{"total overflows", []uint64{1, 2}, []int64{math.MaxInt64, 1}, 0},
		{"c below 1", []uint64{1}, nil, 0.99},
		{"negative c", []uint64{1}, nil, -1},
		{"NaN c", []uint64{1}, nil, math.NaN()},
		{"infinite c", []uint64{1}, nil, math.Inf(1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.AssignBounded(tc.keys, tc.weights, tc.c)
			if !errors.Is(err, ErrBadBatch) {
				t.Fatalf("AssignBounded = %q, %v; want ErrBadBatch", got, err)
			}
		})
	}
}

// TestBoundedExtremeWeights: totals near the int64 limit and a huge c do
// not overflow capacities.
func TestBoundedExtremeWeights(t *testing.T) {
	rng := newRand(t, 37)
	r := mustNew(t, agentNames(rng, 5), WithWeights(nil))
	keys := randomKeys(rng, 4)
	weights := []int64{math.MaxInt64 / 4, math.MaxInt64 / 4, math.MaxInt64 / 4, 1}
	for _, c := range []float64{1, DefaultLoadFactor, MaxLoadFactor} {
		got := assignBounded(t, r, keys, weights, c)
		checkBounded(t, r, weights, nil, got, c, math.MaxInt64/4)
	}
	// With the largest c the bound never binds: plain placement.
	if got := assignBounded(t, r, keys, nil, MaxLoadFactor); !slices.Equal(got, owners(r, keys)) {
		t.Fatalf("c = MaxLoadFactor: %q, want plain owners %q", got, owners(r, keys))
	}
}

// TestSortBatchMatchesComparisonSort checks the radix sort, including
// duplicate keys and keys sharing high digits (skipped passes).
func TestSortBatchMatchesComparisonSort(t *testing.T) {
	rng := newRand(t, 38)
	for _, n := range []int{0, 1, 1023, 1024, 5000} {
		for _, spread := range []uint64{3, 1 << 20, math.MaxUint64} {
			batch := make([]batchKey, n)
			for i := range batch {
				batch[i] = batchKey{key: rng.Uint64() % spread, weight: rng.Int64N(3), index: int32(i)}
			}
			want := slices.Clone(batch)
			slices.SortFunc(want, compareBatchKeys)
			sortBatch(batch)
			if !slices.Equal(batch, want) {
				t.Fatalf("n=%d spread=%d: radix order differs from comparison order", n, spread)
			}
		}
	}
}
