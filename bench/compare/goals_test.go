package main

import (
	"strings"
	"testing"
)

func point(scenario string, loss float64, unit string, lepton, rsync Run) *Point {
	titles := map[string]string{"S1": "bulk", "S2": "small files", "S3": "WAN", "S4": "fan-out"}
	p := &Point{Scenario: scenario, Title: titles[scenario], Unit: unit, Loss: loss}
	if scenario == "S3" {
		p.Variant = "loss " + fmtLoss(loss)
	}
	lepton.Tool, rsync.Tool = toolLepton, toolRsync
	p.add(lepton, "")
	p.add(rsync, "")
	p.summarize()
	return p
}

func TestGoals(t *testing.T) {
	ok := func(secs float64, rss int64) Run {
		return Run{Status: statusOK, Seconds: secs, Bytes: 1e9, Files: 1000, PeakRSS: rss}
	}
	points := []*Point{
		point("S1", 0, unitMBps, ok(1, 200<<20), ok(2.5, 10<<20)),     // 2.5×: met
		point("S2", 0, unitFiles, ok(1, 100<<20), ok(1.2, 10<<20)),    // 1.2×: not met
		point("S3", 0, unitMBps, ok(1, 300<<20), ok(3, 10<<20)),       // 3×, but RSS over
		point("S3", 0.001, unitMBps, ok(1, 100<<20), ok(1, 10<<20)),   // 1×: met
		point("S3", 0.005, unitMBps, ok(9, 100<<20), ok(1, 10<<20)),   // reported only
		point("S4", 0, unitMBps, Run{Status: statusFailed}, ok(1, 0)), // no Lepton figure
	}
	got := goalLines(evaluateGoals(points))
	for _, want := range []string{
		"✔ S1 bulk: Lepton ≥ 2.0× rsync MB/s — 2.50×",
		"✘ S2 small files: Lepton ≥ 1.5× rsync files/s — 1.20×",
		"✔ S3 loss 0%: Lepton ≥ 3.0× rsync MB/s — 3.00×",
		"✔ S3 loss 0.1%: Lepton ≥ 1.0× rsync MB/s — 1.00×",
		"· S3 loss 0.5%: Lepton vs rsync MB/s (reported) — 0.11×",
		"✔ S1: peak RSS of every Lepton agent ≤ 256 MiB — 200 MiB",
		"✘ S3: peak RSS of every Lepton agent ≤ 256 MiB — 300 MiB (largest agent, S3 loss 0%)",
		"✘ S4: peak RSS of every Lepton agent ≤ 256 MiB — no Lepton figure",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("goals lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "S4 fan-out: Lepton") {
		t.Errorf("S4 has no throughput goal:\n%s", got)
	}
}

// A capped Lepton run is judged on its lower bound, and says so.
func TestGoalOfACappedRun(t *testing.T) {
	// 400 MB in a 20 s cap is ≥ 20 MB/s against rsync's 10 MB/s: 2×, short of 3×.
	capped := Run{Status: statusCapped, Seconds: 20, Bytes: 400e6}
	p := point("S3", 0.0001, unitMBps, capped, Run{Status: statusOK, Seconds: 10, Bytes: 100e6})
	got := goalLines(evaluateGoals([]*Point{p}))
	if want := "✘ S3 loss 0.01%: Lepton ≥ 3.0× rsync MB/s — 2.00× (Lepton ≥ 20 MB/s, capped, rsync 10 MB/s)"; !strings.Contains(got, want) {
		t.Errorf("capped goal:\n%s\nwant %s", got, want)
	}
}
