package volume

import "testing"

func TestTempRel(t *testing.T) {
	if got := TempRel("job-7", 42); got != ".lepton/tmp/job-7/42.part" {
		t.Fatalf("TempRel = %q", got)
	}
}
