package main

import (
	"strings"
	"testing"
)

func sweep() []*Point {
	var out []*Point
	for i, loss := range []float64{0, 0.0001, 0.001, 0.005} {
		p := &Point{Scenario: "S3", Variant: "loss " + fmtLoss(loss), Loss: loss, Unit: unitMBps}
		p.add(Run{Tool: toolLepton, Status: statusOK, Seconds: 1, Bytes: int64(100e6 / (i + 1))}, "")
		p.add(Run{Tool: toolRsync, Status: statusOK, Seconds: 1, Bytes: 30e6}, "")
		if i < 3 {
			p.add(Run{Tool: toolRclone, Status: statusOK, Seconds: 1, Bytes: 20e6}, "")
		} else {
			p.add(Run{Tool: toolRclone, Status: statusCapped, Seconds: 20, Bytes: 40e6}, "")
		}
		p.summarize()
		out = append(out, p)
	}
	return out
}

func TestFmtLoss(t *testing.T) {
	for v, want := range map[float64]string{0: "0%", 0.0001: "0.01%", 0.001: "0.1%", 0.005: "0.5%", 0.02: "2%"} {
		if got := fmtLoss(v); got != want {
			t.Errorf("fmtLoss(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestSweepTable(t *testing.T) {
	got := sweepTable(sweep())
	for _, want := range []string{
		"| 0% | 100 MB/s | 30 MB/s | 20 MB/s | 3.33× |",
		"| 0.5% | 25 MB/s | 30 MB/s | ≥ 2.00 MB/s, capped | 0.83× |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("sweep lacks %q:\n%s", want, got)
		}
	}
}

// The plot has one mark per tool and loss, the top value on the y axis,
// every loss on the x axis, and the highest point on the top row.
func TestPlotSweep(t *testing.T) {
	got := plotSweep(sweep(), 40, 9)
	lines := strings.Split(got, "\n")
	if !strings.Contains(lines[1], "100 ┤L") || !strings.Contains(lines[5], "50 ┤") || !strings.Contains(lines[9], "0 ┤") {
		t.Errorf("top row %q: want lepton's 100 MB/s at loss 0", lines[1])
	}
	body := strings.Join(lines[1:10], "\n")
	for mark, want := range map[string]int{"L": 4, "R": 4, "C": 4} {
		// R and C may share a spot with each other (shown as *), never with L here.
		if n := strings.Count(body, mark) + strings.Count(body, "*"); n < want {
			t.Errorf("%d %s marks (with *), want %d:\n%s", n, mark, want, got)
		}
	}
	for _, l := range []string{"0%", "0.01%", "0.1%", "0.5%", "random loss"} {
		if !strings.Contains(lines[11], l) {
			t.Errorf("x axis %q lacks %s", lines[11], l)
		}
	}
	if got := plotSweep(nil, 40, 10); !strings.Contains(got, "no throughput") {
		t.Errorf("empty plot: %q", got)
	}
}

func TestNiceCeil(t *testing.T) {
	for v, want := range map[float64]float64{39.9: 40, 40: 40, 100: 100, 101: 200, 7: 8, 0.3: 0.4, 850: 1000} {
		if got := niceCeil(v); got < want*0.999999 || got > want*1.000001 {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
}
