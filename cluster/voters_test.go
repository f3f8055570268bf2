package cluster

import (
	"slices"
	"testing"
)

func TestPromotionsKeepOddAndSpread(t *testing.T) {
	src := func(name, zone string) seat {
		return seat{Name: name, Side: "source", Labels: map[string]string{"zone": zone}}
	}
	tgt := func(name, zone string) seat {
		return seat{Name: name, Side: "target", Labels: map[string]string{"zone": zone}}
	}
	cases := []struct {
		name     string
		voters   []seat
		eligible []seat
		max      int
		want     []string
	}{
		{"one new server is not enough for an odd count", []seat{src("a", "z1"), src("b", "z1"), src("c", "z2")},
			[]seat{tgt("d", "z3")}, 5, nil},
		{"two new servers: pick both", []seat{src("a", "z1"), src("b", "z1"), src("c", "z2")},
			[]seat{tgt("d", "z3"), tgt("e", "z3")}, 5, []string{"d", "e"}},
		{"prefer the other side", []seat{src("a", "z1"), src("b", "z2"), src("c", "z3")},
			[]seat{src("d", "z4"), src("e", "z5"), tgt("x", "z6"), tgt("y", "z7")}, 5, []string{"x", "y"}},
		{"prefer another zone on the same side", []seat{src("a", "z1")},
			[]seat{tgt("b", "z2"), tgt("c", "z2"), tgt("d", "z3")}, 3, []string{"b", "d"}},
		{"cap at max", []seat{src("a", "z1"), src("b", "z1"), src("c", "z1")},
			[]seat{tgt("d", "z1"), tgt("e", "z1"), tgt("f", "z1"), tgt("g", "z1")}, 5, []string{"d", "e"}},
		{"already full", []seat{src("a", "z1"), src("b", "z1"), src("c", "z1")}, []seat{tgt("d", "z1")}, 3, nil},
		{"from nothing", nil, []seat{src("a", "z1")}, 5, []string{"a"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := promotions(tc.voters, tc.eligible, tc.max)
			if !slices.Equal(got, tc.want) {
				t.Errorf("promotions = %v, want %v", got, tc.want)
			}
			if n := len(tc.voters) + len(got); len(got) > 0 && n%2 == 0 {
				t.Errorf("even voter count %d", n)
			}
		})
	}
}
