package testtree

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// SmallFiles writes n files of size bytes each, spread evenly over dirs
// directories (d000, d001, …) directly under dir: every other file random
// (incompressible, .bin), the rest log-like text (.log). It is the shape
// that makes per-file costs, not bandwidth, set the pace of a migration:
// 100,000 files of 4 KiB in 100 directories is issue 5's small-files
// scenario. The same seed writes the same tree.
func SmallFiles(dir string, n, size, dirs int, seed uint64) error {
	if n < 0 || size < 0 || dirs < 1 {
		return fmt.Errorf("small files: n %d, size %d, dirs %d: want n, size ≥ 0 and dirs ≥ 1", n, size, dirs)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	width := len(fmt.Sprint(max(n-1, 0)))
	for d := range dirs {
		if err := os.MkdirAll(filepath.Join(dir, fmt.Sprintf("d%03d", d)), 0o755); err != nil {
			return fmt.Errorf("small files: %w", err)
		}
	}
	for i := range n {
		name := fmt.Sprintf("d%03d/f%0*d", i%dirs, width, i)
		var data []byte
		if i%2 == 0 {
			name += ".bin"
			data = Random(rng, size)
		} else {
			name += ".log"
			data = LogText(rng, size)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("small files: write %s: %w", p, err)
		}
	}
	return nil
}
