package mover

import (
	"testing"

	"github.com/leptonmesh/lepton/internal/jobspec"
	"github.com/leptonmesh/lepton/internal/manifest"
	"github.com/leptonmesh/lepton/internal/plan"
)

func TestAJobPathNeverClimbsOutOfItsDirectory(t *testing.T) {
	spec := jobspec.Defaults()
	spec.Source.Path, spec.Target.Path = "exports", "dst"
	j := plan.Job{Spec: spec}
	for _, rel := range []string{"a/../../x", "../x", "a/../../../etc/passwd"} {
		for _, p := range []string{sourcePath(j, rel), targetPath(j, rel)} {
			if clean, err := manifest.CleanRel(p); err == nil {
				t.Errorf("%q placed at %q, which the volume takes as %q", rel, p, clean)
			}
		}
	}
	if got := targetPath(j, "a/b"); got != "dst/a/b" {
		t.Errorf("targetPath = %q", got)
	}
	spec.Target.Path = "."
	if got := targetPath(plan.Job{Spec: spec}, "a/b"); got != "a/b" {
		t.Errorf("targetPath at the root = %q", got)
	}
}
