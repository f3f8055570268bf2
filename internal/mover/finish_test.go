package mover

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func TestHashRangeReadsExactlyTheRange(t *testing.T) {
	data := make([]byte, 3<<10+17)
	for i := range data {
		data[i] = byte(i * 7)
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1000) // smaller than the range: several reads
	for _, r := range []struct{ off, n int64 }{{0, int64(len(data))}, {100, 2500}, {int64(len(data)) - 1, 1}, {5, 0}} {
		d := xxhash.New()
		if err := hashRange(d, f, r.off, r.n, buf); err != nil {
			t.Fatalf("range %d+%d: %v", r.off, r.n, err)
		}
		if got, want := d.Sum64(), xxhash.Sum64(data[r.off:r.off+r.n]); got != want {
			t.Errorf("range %d+%d: hash %x, want %x", r.off, r.n, got, want)
		}
	}
	// A target shorter than the unit says (truncated after it was written)
	// is an error that says so, not a hash of fewer bytes.
	err = hashRange(xxhash.New(), f, 3000, 2000, buf)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("range past the end: %v, want io.ErrUnexpectedEOF", err)
	}
}
