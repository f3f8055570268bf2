//go:build rogue

package mover

import (
	"os"
	"strings"

	"github.com/leptonmesh/lepton/internal/manifest"
	"github.com/leptonmesh/lepton/internal/plan"
)

// rogueManifest makes a scanner hostile, for the end-to-end tests of
// authorisation (internal/e2e/rogue_test.go); a leptond is built so only
// with the test-only tag rogue. With LEPTON_ROGUE holding
// "manifest-escape", every batch gains an entry whose path climbs out of
// the job's directories: the leader must refuse the batch.
func rogueManifest(b *plan.Manifest) {
	if !strings.Contains(os.Getenv("LEPTON_ROGUE"), "manifest-escape") {
		return
	}
	b.Entries = append(b.Entries, manifest.Entry{Path: "zz/../../escaped", Kind: manifest.KindFile, Size: 6, Mode: 0o644})
}
