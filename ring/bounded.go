package ring

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// DefaultLoadFactor is the bound c used when AssignBounded gets c == 0: no
// member carries more than 25% above its fair share.
const DefaultLoadFactor = 1.25

// MaxLoadFactor is the largest c AssignBounded accepts. Near it the bound
// no longer binds on rings of fewer than 1000 members, and plain Owner gives
// the same answer faster.
const MaxLoadFactor = 1000

// MaxBatch is the largest number of keys one AssignBounded call accepts;
// callers place larger jobs in several batches.
const MaxBatch = math.MaxInt32

// ErrBadBatch means AssignBounded got arguments it cannot place: weights of
// the wrong length, a negative weight, a total weight that overflows int64,
// more than MaxBatch keys, or c outside [1, MaxLoadFactor].
var ErrBadBatch = errors.New("bad bounded-load batch")

// loadScale turns the load factor into an integer (parts per million), so
// capacities are computed in exact integer arithmetic on every platform.
const loadScale = 1_000_000

// AssignBounded places a batch of keys so that no member is overloaded, and
// returns the owner of each: the result's i-th name is the owner of keys[i].
//
// weights[i] is the load keys[i] adds, for example its size in bytes; nil
// means 1 for every key. c is the load factor, at least 1 (0 selects
// DefaultLoadFactor). Member m's capacity is
//
//	cap(m) = ceil(c × totalWeight × weight(m) / sum of member weights)
//
// which with equal member weights is ceil(c × mean). Keys are taken in
// ascending order of (key, weight), not input order, and each goes to the
// first member clockwise from the key whose load plus the key's weight stays
// within its capacity; members that are full are skipped. So the placement
// depends only on the multiset of (key, weight) pairs and the ring, and every
// process that runs it over the same inputs gets the same answer.
//
// With unit weights every member stays within its capacity. With weights,
// first fit succeeds whenever every key weighs at most (c−1) × totalWeight /
// (members−1), as chunk sizes do in any batch of more than a few chunks per
// member. A heavier key goes to the member it overflows least (the first
// clockwise on a tie); even then no member exceeds its capacity by as much as
// the heaviest key. Every key is always assigned.
//
// It takes O(K + K·p) time for K keys (a radix sort, then p vnodes probed
// per key, few on average for c ≥ 1.25) and about 70 bytes per key.
func (r *Ring) AssignBounded(keys []uint64, weights []int64, c float64) ([]string, error) {
	idx, err := r.assign(keys, weights, c)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(keys))
	for i, m := range idx {
		out[i] = r.members[m]
	}
	return out, nil
}

// batchKey is one key of a batch with its weight and input position.
type batchKey struct {
	key    uint64
	weight int64
	index  int32
}

// assign is AssignBounded returning member indexes.
func (r *Ring) assign(keys []uint64, weights []int64, c float64) ([]int32, error) {
	if c == 0 {
		c = DefaultLoadFactor
	}
	if !(c >= 1 && c <= MaxLoadFactor) { // also rejects NaN
		return nil, fmt.Errorf("load factor %v: want 1..%d: %w", c, MaxLoadFactor, ErrBadBatch)
	}
	if len(keys) > MaxBatch {
		return nil, fmt.Errorf("%d keys: more than %d: %w", len(keys), MaxBatch, ErrBadBatch)
	}
	if weights != nil && len(weights) != len(keys) {
		return nil, fmt.Errorf("%d weights for %d keys: %w", len(weights), len(keys), ErrBadBatch)
	}

	batch := make([]batchKey, len(keys))
	var total int64
	for i, k := range keys {
		w := int64(1)
		if weights != nil {
			w = weights[i]
		}
		if w < 0 {
			return nil, fmt.Errorf("weight %d of key %d: negative: %w", w, i, ErrBadBatch)
		}
		if total > math.MaxInt64-w {
			return nil, fmt.Errorf("total weight overflows int64 at key %d: %w", i, ErrBadBatch)
		}
		total += w
		batch[i] = batchKey{key: k, weight: w, index: int32(i)}
	}
	// A total order: equal (key, weight) pairs are interchangeable, so the
	// index tie-break changes which position gets which member, never the
	// multiset of (key, weight, member).
	sortBatch(batch)

	caps := r.capacities(total, int64(math.Round(c*loadScale)))
	loads := make([]int64, len(r.members))
	out := make([]int32, len(keys))
	n := len(r.points)
	p := 0 // keys ascend, so the successor point only moves forward
	for _, e := range batch {
		for p < n && r.points[p] < e.key {
			p++
		}
		start := p
		if start == n {
			start = 0
		}
		m := r.firstFit(start, e.weight, loads, caps)
		if m < 0 {
			m = r.leastOverflow(start, e.weight, loads, caps)
		}
		loads[m] += e.weight
		out[e.index] = m
	}
	return out, nil
}

// capacities returns each member's load bound,
// ceil(cScaled × total × weight(m) / (loadScale × sum of weights)),
// computed with 128-bit intermediates and saturating at MaxInt64.
func (r *Ring) capacities(total, cScaled int64) []int64 {
	var sum uint64
	for _, w := range r.weights {
		sum += uint64(w)
	}
	den := sum * loadScale
	caps := make([]int64, len(r.members))
	for i, w := range r.weights {
		hi, lo := bits.Mul64(uint64(total), uint64(cScaled)*uint64(w))
		if hi >= den {
			caps[i] = math.MaxInt64
			continue
		}
		q, rem := bits.Div64(hi, lo, den)
		if rem != 0 {
			q++
		}
		caps[i] = int64(min(q, math.MaxInt64))
	}
	return caps
}

// firstFit walks the circle clockwise from point start and returns the
// first member that can take weight within its capacity, or -1.
func (r *Ring) firstFit(start int, weight int64, loads, caps []int64) int32 {
	n := len(r.points)
	j := start
	for range n {
		m := r.owners[j]
		if loads[m]+weight <= caps[m] {
			return m
		}
		j++
		if j == n {
			j = 0
		}
	}
	return -1
}

// leastOverflow walks the circle clockwise from point start and returns the
// member whose capacity weight would exceed by the least, the first such
// member clockwise on a tie.
func (r *Ring) leastOverflow(start int, weight int64, loads, caps []int64) int32 {
	n := len(r.points)
	best := int32(-1)
	var bestOver int64
	j := start
	for range n {
		m := r.owners[j]
		if over := loads[m] + weight - caps[m]; best < 0 || over < bestOver {
			best, bestOver = m, over
		}
		j++
		if j == n {
			j = 0
		}
	}
	return best
}
