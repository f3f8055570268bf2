//go:build !rogue

package mover

import "github.com/leptonmesh/lepton/internal/plan"

// rogueManifest does nothing: only a leptond built with the test-only tag
// rogue (rogue_on.go) misbehaves, for the end-to-end tests of authorisation.
func rogueManifest(*plan.Manifest) {}
