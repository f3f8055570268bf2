package main

import (
	"slices"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-mode=full", "-only=s1, S3", "-repeats=1", "-s1-size=512MiB", "-s3-loss=0,0.01%,0.5", "-cap=30s"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.mode != "full" || !slices.Equal(cfg.only, []string{"S1", "S3"}) || cfg.repeats != 1 || cfg.s1Size != 512<<20 ||
		!slices.Equal(cfg.s3Loss, []float64{0, 0.0001, 0.005}) || cfg.wanCap != 30*time.Second || cfg.s4Size != 2<<30 {
		t.Errorf("parsed %+v", cfg)
	}
	if !cfg.runs("S3") || cfg.runs("S2") {
		t.Error("-only not honoured")
	}
	q, err := parseFlags(nil)
	if err != nil || q.mode != "quick" || q.repeats != 1 || q.s2Files != 5000 || !q.runs("S4") {
		t.Errorf("defaults %+v, %v", q, err)
	}
	if presets["quick"].s3Loss[1] != 0.001 {
		t.Error("a flag changed the preset")
	}
	for _, bad := range [][]string{{"-mode=slow"}, {"-only=S9"}, {"-s3-loss=abc"}, {"-s1-size=lots"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// The quick mode fits in a few minutes by its own estimate; the full one
// is said to take longer.
func TestEstimate(t *testing.T) {
	q, f := presets["quick"], presets["full"]
	if e := estimate(q); e <= 0 || e > 4*time.Minute {
		t.Errorf("quick estimate %v", e)
	}
	if estimate(f) <= estimate(q) {
		t.Error("full is not estimated longer than quick")
	}
}
