package ring

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"sync"
	"testing"
)

func TestNewRejectsBadInput(t *testing.T) {
	cases := []struct {
		name    string
		members []string
		opts    []Option
		want    error
	}{
		{"no members", nil, nil, ErrNoMembers},
		{"empty name", []string{"a", ""}, nil, ErrEmptyName},
		{"duplicate", []string{"a", "b", "a"}, nil, ErrDuplicateMember},
		{"zero vnodes", []string{"a"}, []Option{WithVnodes(0)}, ErrBadOption},
		{"weight of stranger", []string{"a"}, []Option{WithWeights(map[string]int{"b": 2})}, ErrUnknownMember},
		{"zero weight", []string{"a", "b"}, []Option{WithWeights(map[string]int{"b": 0})}, ErrBadOption},
		{"too many points", []string{"a", "b"}, []Option{WithVnodes(MaxPoints)}, ErrBadOption},
		{"huge weight", []string{"a"}, []Option{WithWeights(map[string]int{"a": math.MaxInt})}, ErrBadOption},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.members, tc.opts...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("New(%q) = %v, %v; want error %v", tc.members, r, err, tc.want)
			}
		})
	}
}

func TestMembersSortedCopied(t *testing.T) {
	r := mustNew(t, []string{"tgt-3", "tgt-1", "tgt-2"})
	got := r.Members()
	if want := []string{"tgt-1", "tgt-2", "tgt-3"}; !slices.Equal(got, want) {
		t.Fatalf("Members() = %q, want %q", got, want)
	}
	got[0] = "mallory"
	if r.Members()[0] != "tgt-1" || r.Len() != 3 {
		t.Fatalf("ring changed through Members(): %q, Len %d", r.Members(), r.Len())
	}
	if !r.Has("tgt-2") || r.Has("tgt-4") || r.Has("") {
		t.Fatal("Has gives wrong answers")
	}
}

// TestOwnerIndependentOfMemberOrder: agents that list live members in
// different orders must agree on every owner.
func TestOwnerIndependentOfMemberOrder(t *testing.T) {
	rng := newRand(t, 11)
	names := agentNames(rng, 9)
	a := mustNew(t, names)
	shuffled := slices.Clone(names)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	b := mustNew(t, shuffled)
	keys := randomKeys(rng, 5000)
	if !slices.Equal(owners(a, keys), owners(b, keys)) {
		t.Fatalf("owners differ between member orders %q and %q", names, shuffled)
	}
}

// TestOwnerMatchesLinearScan checks the binary search against the
// definition: the first vnode at or after the key, wrapping around.
func TestOwnerMatchesLinearScan(t *testing.T) {
	rng := newRand(t, 12)
	r := mustNew(t, agentNames(rng, 5), WithVnodes(7))
	keys := append(randomKeys(rng, 2000), 0, 1, math.MaxUint64, r.points[0], r.points[0]+1,
		r.points[len(r.points)-1], r.points[len(r.points)-1]+1, r.points[10]-1, r.points[10])
	for _, k := range keys {
		want := r.owners[0]
		for j, p := range r.points {
			if p >= k {
				want = r.owners[j]
				break
			}
		}
		if got := r.Owner(k); got != r.members[want] {
			t.Fatalf("Owner(%#x) = %q, want %q", k, got, r.members[want])
		}
	}
}

// TestGolden pins the hash and the vnode layout. Changing either would
// make agents of different versions disagree on placement mid-migration,
// so it must be a deliberate, versioned change.
func TestGolden(t *testing.T) {
	if got := KeyString("abc"); got != 0x44bc2cf5ad770999 {
		t.Fatalf("KeyString(abc) = %#x, want xxhash64 0x44bc2cf5ad770999", got)
	}
	if Key([]byte("abc")) != KeyString("abc") {
		t.Fatal("Key and KeyString disagree")
	}
	r := mustNew(t, []string{"src-1", "src-2", "src-3", "src-4"})
	golden := []struct{ chunk, owner, bounded string }{
		{"job-1/file-0/chunk-0", "src-1", "src-1"},
		{"job-1/file-1/chunk-0", "src-4", "src-4"},
		{"job-1/file-2/chunk-0", "src-1", "src-4"},
		{"job-1/file-3/chunk-0", "src-2", "src-2"},
		{"job-1/file-4/chunk-0", "src-1", "src-1"},
		{"job-1/file-5/chunk-0", "src-1", "src-2"},
		{"job-1/file-6/chunk-0", "src-3", "src-3"},
		{"job-1/file-7/chunk-0", "src-2", "src-3"},
	}
	keys := make([]uint64, len(golden))
	for i, g := range golden {
		keys[i] = KeyString(g.chunk)
	}
	// c = 1: each of the 4 members may take ceil(8/4) = 2 chunks, so two
	// of src-1's four plain chunks spill clockwise.
	bounded := assignBounded(t, r, keys, nil, 1)
	for i, g := range golden {
		if got := r.Owner(keys[i]); got != g.owner {
			t.Errorf("Owner(KeyString(%q)) = %q, want %q", g.chunk, got, g.owner)
		}
		if bounded[i] != g.bounded {
			t.Errorf("AssignBounded placed %q on %q, want %q", g.chunk, bounded[i], g.bounded)
		}
	}
}

func TestWithAndWithoutEqualNew(t *testing.T) {
	rng := newRand(t, 13)
	names := agentNames(rng, 6)
	weights := map[string]int{names[1]: 3}
	r := mustNew(t, names[:5], WithVnodes(32), WithWeights(weights))

	grown, err := r.With(names[5])
	if err != nil {
		t.Fatal(err)
	}
	if want := mustNew(t, names, WithVnodes(32), WithWeights(weights)); !reflect.DeepEqual(grown, want) {
		t.Fatal("r.With(m) differs from New over the members plus m")
	}
	shrunk, err := r.Without(names[2])
	if err != nil {
		t.Fatal(err)
	}
	rest := slices.Delete(slices.Clone(names[:5]), 2, 3)
	if want := mustNew(t, rest, WithVnodes(32), WithWeights(weights)); !reflect.DeepEqual(shrunk, want) {
		t.Fatal("r.Without(m) differs from New over the members minus m")
	}
	if r.Len() != 5 {
		t.Fatalf("With/Without changed the original ring: Len %d", r.Len())
	}

	if _, err := r.With(names[0]); !errors.Is(err, ErrDuplicateMember) {
		t.Fatalf("With(existing) = %v, want ErrDuplicateMember", err)
	}
	if _, err := r.With(""); !errors.Is(err, ErrEmptyName) {
		t.Fatalf("With(\"\") = %v, want ErrEmptyName", err)
	}
	if _, err := r.Without("stranger"); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("Without(stranger) = %v, want ErrUnknownMember", err)
	}
	one := mustNew(t, []string{"only"})
	if _, err := one.Without("only"); !errors.Is(err, ErrNoMembers) {
		t.Fatalf("Without(last) = %v, want ErrNoMembers", err)
	}
}

// TestWeightsShareLoad: a member of weight 2 among three of weight 1
// serves about 2/5 of the keys, and raising its weight only moves keys to it.
func TestWeightsShareLoad(t *testing.T) {
	rng := newRand(t, 14)
	const rings = 8
	var sum float64
	for range rings {
		names := agentNames(rng, 4)
		keys := randomKeys(rng, 20000)
		before := owners(mustNew(t, names), keys)
		after := owners(mustNew(t, names, WithWeights(map[string]int{names[0]: 2})), keys)
		share := 0
		for i := range keys {
			if after[i] == names[0] {
				share++
			}
			if before[i] != after[i] && after[i] != names[0] {
				t.Fatalf("key %#x moved from %q to %q, not to the heavier member", keys[i], before[i], after[i])
			}
		}
		f := float64(share) / float64(len(keys))
		if f < 0.3 || f > 0.5 {
			t.Fatalf("weight-2 member of %q owns %.3f of keys, want about 0.40", names, f)
		}
		sum += f
	}
	// Weight ignored would give 0.25; one ring's share varies by ±0.03.
	if mean := sum / rings; mean < 0.37 || mean > 0.43 {
		t.Fatalf("weight-2 member owns %.3f of keys on average, want about 0.40", mean)
	}
}

// TestConcurrentReaders exercises the immutability promise under -race.
func TestConcurrentReaders(t *testing.T) {
	rng := newRand(t, 15)
	r := mustNew(t, agentNames(rng, 5))
	keys := randomKeys(rng, 2000)
	want := owners(r, keys)
	wantBounded := assignBounded(t, r, keys, nil, 0)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 4 {
		wg.Go(func() {
			if !slices.Equal(owners(r, keys), want) {
				errs <- "Owner differs under concurrency"
			}
			got, err := r.AssignBounded(keys, nil, 0)
			if err != nil || !slices.Equal(got, wantBounded) {
				errs <- "AssignBounded differs under concurrency"
			}
			_ = r.Members()
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
