package ring

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// DefaultVnodes is the number of virtual nodes per unit of member weight.
// 128 keeps the plain-lookup load of 8 members within about ±20% of the mean
// (see DESIGN.md) while a ring of 16 members is only 2048 points.
const DefaultVnodes = 128

// MaxPoints bounds the total number of virtual nodes in one ring
// (members × weight × vnodes), so a bad weight cannot exhaust memory.
const MaxPoints = 1 << 20

// Sentinel errors returned by New, With and Without.
var (
	// ErrNoMembers means the ring would have no members.
	ErrNoMembers = errors.New("ring has no members")
	// ErrEmptyName means a member name is the empty string.
	ErrEmptyName = errors.New("empty member name")
	// ErrDuplicateMember means a member name appears twice.
	ErrDuplicateMember = errors.New("duplicate member")
	// ErrUnknownMember means a name is not a member of the ring.
	ErrUnknownMember = errors.New("unknown member")
	// ErrBadOption means an option value is out of range.
	ErrBadOption = errors.New("bad ring option")
)

// Ring is an immutable consistent-hash ring over a set of member names.
// The zero value is not usable; build one with New.
type Ring struct {
	members []string // sorted by name
	weights []int    // weights[i] belongs to members[i]
	vnodes  int      // virtual nodes per unit of weight
	points  []uint64 // sorted vnode positions
	owners  []int32  // owners[j] is the member index of points[j]
}

// Option configures New.
type Option func(*settings)

type settings struct {
	vnodes  int
	weights map[string]int
}

// WithVnodes sets the number of virtual nodes per unit of member weight
// (default DefaultVnodes). More vnodes balance plain lookups better and cost
// memory and build time linearly.
func WithVnodes(n int) Option {
	return func(s *settings) { s.vnodes = n }
}

// WithWeights gives members relative capacities: a member of weight 2 owns
// twice the vnodes (and, in AssignBounded, twice the load bound) of a member
// of weight 1. Members missing from the map have weight 1; every weight must
// be at least 1 and name a member. Growing a weight keeps the member's
// existing vnodes, so only keys that move to it change hands.
func WithWeights(w map[string]int) Option {
	return func(s *settings) { s.weights = w }
}

// New builds a ring over members. Order does not matter: the same set of
// names with the same options gives the same ring on every process.
// It fails on an empty list, an empty name, a duplicate name, or options out
// of range (see ErrBadOption and MaxPoints).
func New(members []string, opts ...Option) (*Ring, error) {
	s := settings{vnodes: DefaultVnodes}
	for _, o := range opts {
		o(&s)
	}
	if s.vnodes < 1 {
		return nil, fmt.Errorf("vnodes %d: must be at least 1: %w", s.vnodes, ErrBadOption)
	}
	names := slices.Clone(members)
	slices.Sort(names)
	weights := make([]int, len(names))
	for i := range names {
		weights[i] = 1
	}
	// Visiting names in sorted order keeps even the reported error
	// independent of map iteration order.
	for _, name := range slices.Sorted(maps.Keys(s.weights)) {
		w := s.weights[name]
		i, ok := slices.BinarySearch(names, name)
		if !ok {
			return nil, fmt.Errorf("weight for %q: %w", name, ErrUnknownMember)
		}
		if w < 1 {
			return nil, fmt.Errorf("weight %d for %q: must be at least 1: %w", w, name, ErrBadOption)
		}
		weights[i] = w
	}
	return build(names, weights, s.vnodes)
}

// build makes a ring from sorted names and their weights.
func build(names []string, weights []int, vnodes int) (*Ring, error) {
	if len(names) == 0 {
		return nil, ErrNoMembers
	}
	total := 0
	for i, name := range names {
		if name == "" {
			return nil, ErrEmptyName
		}
		if i > 0 && names[i-1] == name {
			return nil, fmt.Errorf("member %q: %w", name, ErrDuplicateMember)
		}
		if weights[i] > MaxPoints/vnodes || total+weights[i]*vnodes > MaxPoints {
			return nil, fmt.Errorf("member %q: more than %d vnodes in the ring: %w", name, MaxPoints, ErrBadOption)
		}
		total += weights[i] * vnodes
	}

	type vnode struct {
		point uint64
		owner int32
	}
	vs := make([]vnode, 0, total)
	var buf []byte
	for i, name := range names {
		for v := range weights[i] * vnodes {
			// "name#v" is injective: v has no '#', so the last '#' splits
			// the string back into name and v.
			buf = append(buf[:0], name...)
			buf = append(buf, '#')
			buf = strconv.AppendInt(buf, int64(v), 10)
			vs = append(vs, vnode{point: Key(buf), owner: int32(i)})
		}
	}
	// Ties on a point (vanishingly rare) go to the smaller name, so the
	// order is total and the ring identical everywhere.
	slices.SortFunc(vs, func(a, b vnode) int {
		return cmp.Or(cmp.Compare(a.point, b.point), cmp.Compare(a.owner, b.owner))
	})
	r := &Ring{
		members: names,
		weights: weights,
		vnodes:  vnodes,
		points:  make([]uint64, len(vs)),
		owners:  make([]int32, len(vs)),
	}
	for j, v := range vs {
		r.points[j] = v.point
		r.owners[j] = v.owner
	}
	return r, nil
}

// Owner returns the member owning key: the member of the first vnode at or
// after key, wrapping past the top of the circle. It takes O(log V) for V
// vnodes.
func (r *Ring) Owner(key uint64) string {
	return r.members[r.owners[r.successor(key)]]
}

// successor returns the index of the first point >= key, or 0 when key is
// past the last point.
func (r *Ring) successor(key uint64) int {
	lo, hi := 0, len(r.points)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if r.points[mid] < key {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(r.points) {
		return 0
	}
	return lo
}

// Members returns the member names in sorted order. The slice is a copy.
func (r *Ring) Members() []string { return slices.Clone(r.members) }

// Len returns the number of members.
func (r *Ring) Len() int { return len(r.members) }

// Has reports whether name is a member.
func (r *Ring) Has(name string) bool {
	_, ok := slices.BinarySearch(r.members, name)
	return ok
}

// With returns a new ring that also holds member, with weight 1 and the same
// vnode count and weights as r. It equals New over the enlarged member list.
func (r *Ring) With(member string) (*Ring, error) {
	i, ok := slices.BinarySearch(r.members, member)
	if ok {
		return nil, fmt.Errorf("add %q: %w", member, ErrDuplicateMember)
	}
	return build(slices.Insert(slices.Clone(r.members), i, member),
		slices.Insert(slices.Clone(r.weights), i, 1), r.vnodes)
}

// Without returns a new ring without member, keeping the other members'
// weights. Only the keys member owned change owner. Removing the last member
// fails with ErrNoMembers.
func (r *Ring) Without(member string) (*Ring, error) {
	i, ok := slices.BinarySearch(r.members, member)
	if !ok {
		return nil, fmt.Errorf("remove %q: %w", member, ErrUnknownMember)
	}
	next, err := build(slices.Delete(slices.Clone(r.members), i, i+1),
		slices.Delete(slices.Clone(r.weights), i, i+1), r.vnodes)
	if err != nil {
		return nil, fmt.Errorf("remove %q: %w", member, err)
	}
	return next, nil
}
