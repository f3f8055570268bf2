package main

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{7}, 7},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{5, 5, 1}, 5},
	} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	in := []float64{3, 1, 2}
	median(in)
	if !reflect.DeepEqual(in, []float64{3, 1, 2}) {
		t.Errorf("median reordered its input: %v", in)
	}
}

// samplePoint is S1 with three tools: lepton twice as fast as rsync,
// rclone with one failed run out of three.
func samplePoint() *Point {
	p := &Point{Scenario: "S1", Title: "bulk", Unit: unitMBps, Bytes: 1e9, Files: 100}
	runs := []Run{
		{Tool: toolLepton, Status: statusOK, Seconds: 2, Bytes: 1e9, Files: 100, CPUSeconds: 3, PeakRSS: 150 << 20},
		{Tool: toolRsync, Status: statusOK, Seconds: 4, Bytes: 1e9, Files: 100, CPUSeconds: 4, PeakRSS: 17 << 20},
		{Tool: toolRclone, Status: statusOK, Seconds: 5, Bytes: 1e9, Files: 100, CPUSeconds: 6, PeakRSS: 60 << 20},
		{Tool: toolLepton, Status: statusOK, Seconds: 2.5, Bytes: 1e9, Files: 100, CPUSeconds: 3, PeakRSS: 160 << 20},
		{Tool: toolRsync, Status: statusOK, Seconds: 4, Bytes: 1e9, Files: 100, CPUSeconds: 4, PeakRSS: 17 << 20},
		{Tool: toolRclone, Status: statusFailed, Seconds: 1, Bytes: 1e9, Files: 100, Error: "contents differ"},
		{Tool: toolLepton, Status: statusOK, Seconds: 1.5, Bytes: 1e9, Files: 100, CPUSeconds: 3, PeakRSS: 140 << 20},
		{Tool: toolRsync, Status: statusOK, Seconds: 4, Bytes: 1e9, Files: 100, CPUSeconds: 4, PeakRSS: 17 << 20},
		{Tool: toolRclone, Status: statusOK, Seconds: 5, Bytes: 1e9, Files: 100, CPUSeconds: 6, PeakRSS: 60 << 20},
	}
	for i, r := range runs {
		r.Repeat = i/3 + 1
		p.add(r, r.Tool+" command")
	}
	p.summarize()
	return p
}

// A failed run never becomes a time: medians skip it, the row says so.
func TestSummarizeSkipsFailedRuns(t *testing.T) {
	p := samplePoint()
	l, r, c := p.row(toolLepton), p.row(toolRsync), p.row(toolRclone)
	if l.Seconds != 2 || l.MBps != 500 || l.PeakRSS != 160<<20 {
		t.Errorf("lepton: %.2f s, %.0f MB/s, peak %d; want 2 s, 500 MB/s, the largest peak", l.Seconds, l.MBps, l.PeakRSS)
	}
	if l.Ratio != 2 || r.Ratio != 1 {
		t.Errorf("ratios lepton %.2f rsync %.2f, want 2 and 1", l.Ratio, r.Ratio)
	}
	if c.Failed != 1 || c.Ok != 2 || c.Seconds != 5 || c.status() != "FAILED 1/3" {
		t.Errorf("rclone: %d failed %d ok, %.1f s, %q", c.Failed, c.Ok, c.Seconds, c.status())
	}
}

func TestMarkdownTable(t *testing.T) {
	p := samplePoint()
	capped := &Point{Scenario: "S3", Title: "WAN", Variant: "loss 0.5%", Loss: 0.005, Unit: unitMBps}
	capped.add(Run{Tool: toolLepton, Status: statusCapped, Seconds: 20, Bytes: 60e6}, "x")
	capped.add(Run{Tool: toolRsync, Status: statusFailed, Error: "exit 23"}, "y")
	capped.summarize()
	small := &Point{Scenario: "S2", Title: "small files", Unit: unitFiles, Error: "sshd: no such file"}
	small.add(Run{Tool: toolRsync, Status: statusOK, Seconds: 10, Files: 100000, Bytes: 4e8}, "z")
	small.summarize()
	got := markdownTable([]*Point{p, capped, small})
	for _, want := range []string{
		"| scenario | tool | time | throughput | × rsync | CPU s | peak RSS | runs |",
		"| S1 bulk | lepton | 2.00 s | 500 MB/s | 2.00× | 3.0 | 160 MiB | ok |",
		"| S1 bulk | rclone | 5.00 s | 200 MB/s | 0.80× | 6.0 | 60 MiB | FAILED 1/3 |",
		"| S3 loss 0.5% | lepton | 20.0 s (cap) | ≥ 3.00 MB/s | – | 0.0 | – | capped 1/1 |",
		"| S3 loss 0.5% | rsync | FAILED | – | – | – | – | FAILED 1/1 |",
		"| S2 small files | rsync | 10.0 s | 10,000 files/s | 1.00× |",
		"| S2 small files | – | – | – | – | – | – | stopped: sshd: no such file |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "\n"); n != 2+3+2+2 {
		t.Errorf("%d lines, want 9:\n%s", n, got)
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	rep := &Report{
		Started: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), Finished: time.Date(2026, 11, 22, 10, 5, 0, 0, time.UTC),
		Mode: "quick", Repeats: 3, Machine: map[string]string{"cpus": "2"}, Versions: map[string]string{"rsync": "3.2.7"},
		Method: []string{"medians"}, Points: []*Point{samplePoint()},
	}
	rep.Points[0].Rows[0].Runs[0].Extra = map[string]float64{"wire_bytes": 123}
	rep.Goals = evaluateGoals(rep.Points)
	dir := t.TempDir()
	path, err := rep.writeJSON(dir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "20261122T100000Z-quick.json" {
		t.Errorf("file %s, want a timestamped name", path)
	}
	for _, p := range []string{path, filepath.Join(dir, "latest.json")} {
		got, err := readReport(p)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, rep) {
			t.Errorf("%s read back differs:\n got %+v\nwant %+v", p, got, rep)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 100000: "100,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
