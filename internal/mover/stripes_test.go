package mover

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestCutStripesCoversThePayloadInBigEnoughPieces(t *testing.T) {
	for _, c := range []struct{ n, k, want int }{
		{4 << 20, 4, 4},
		{4 << 20, 1, 1},
		{300 << 10, 4, 1}, // too small to be worth two streams
		{600 << 10, 4, 2},
		{1, 3, 1},
	} {
		cuts := cutStripes(c.n, c.k)
		if len(cuts)-1 != c.want || cuts[0] != 0 || cuts[len(cuts)-1] != c.n {
			t.Errorf("cutStripes(%d, %d) = %v, want %d stripes over [0, %d]", c.n, c.k, cuts, c.want, c.n)
		}
		for i := 1; i < len(cuts)-1; i++ {
			if cuts[i]-cuts[i-1] < minStripe {
				t.Errorf("cutStripes(%d, %d): stripe %d has %d bytes", c.n, c.k, i, cuts[i]-cuts[i-1])
			}
		}
	}
}

// Stripes may come before their chunk's header (they travel on other
// connections); the payload is whole once every byte is in.
func TestAssemblyPutsStripesTogetherInAnyOrder(t *testing.T) {
	a := newAssemblies(time.Now)
	payload := bytes.Repeat([]byte("lepton"), 200_000)
	k := assemblyKey{"src-1", 42}
	cuts := cutStripes(len(payload), 3)
	for i := len(cuts) - 2; i >= 0; i-- { // last stripe first, before the header
		x, err := a.joinStripe(k, uint32(len(payload)))
		if err != nil {
			t.Fatal(err)
		}
		copy(x.buf[cuts[i]:cuts[i+1]], payload[cuts[i]:cuts[i+1]])
		a.filled(x, uint32(cuts[i+1]-cuts[i]))
	}
	x, err := a.join(k, uint32(len(payload))) // the header
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.wait(k, x, time.Second)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("assembled %d bytes (%v), want the %d-byte payload", len(got), err, len(payload))
	}
	if len(a.m) != 0 {
		t.Errorf("%d assemblies kept after the chunk was taken", len(a.m))
	}
}

func TestAssemblyBoundsAndTimeouts(t *testing.T) {
	now := time.Unix(100, 0)
	a := newAssemblies(func() time.Time { return now })
	for i := range maxAssemblies {
		if _, err := a.join(assemblyKey{"p", uint64(i + 1)}, 10); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.join(assemblyKey{"p", 999}, 10); !errors.Is(err, errTooManyAssemblies) {
		t.Fatalf("assembly %d: %v, want errTooManyAssemblies", maxAssemblies+1, err)
	}
	if _, err := a.join(assemblyKey{"p", 1}, 11); err == nil {
		t.Error("a stripe disagreeing on the payload's size was accepted")
	}
	// Transfers whose other parts never came are dropped once too old.
	now = now.Add(assemblyTimeout + time.Second)
	if _, err := a.join(assemblyKey{"p", 999}, 10); err != nil {
		t.Fatalf("after the old transfers expired: %v", err)
	}
	x, _ := a.joinStripe(assemblyKey{"q", 7}, 100)
	a.filled(x, 40)
	if _, err := a.wait(assemblyKey{"q", 7}, x, 10*time.Millisecond); err == nil {
		t.Error("a transfer missing 60 of 100 bytes was handed out")
	}
}
