package main

import (
	"github.com/leptonmesh/lepton/internal/procstat"
	"os"
	"os/exec"
	"slices"
	"testing"
)

func TestParseMachineCPU(t *testing.T) {
	stat := "cpu  1000 50 300 9000 20 7 13 5 0 0\ncpu0 500 25 150 4500 10 3 6 2 0 0\nintr 1\n"
	got, err := parseMachineCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := (1000 + 50 + 300 + 7 + 13) / procstat.TicksPerSecond(); got != want {
		t.Errorf("busy %v s, want %v (user+nice+system+irq+softirq)", got, want)
	}
	if _, err := parseMachineCPU("intr 1\n"); err == nil {
		t.Error("no cpu line, no error")
	}
	if _, err := machineCPU(); err != nil {
		t.Errorf("this machine: %v", err)
	}
}

func TestParentOfAndDescendants(t *testing.T) {
	if p, ok := parentOf("42 (ssh (x) y) S 7 42 42 0 -1"); !ok || p != 7 {
		t.Errorf("parent %d %v, want 7", p, ok)
	}
	if _, ok := parentOf("garbage"); ok {
		t.Error("parsed garbage")
	}
	parents := map[int]int{10: 1, 11: 10, 12: 11, 13: 10, 20: 1, 21: 20}
	got := descendants(parents, []int{10})
	slices.Sort(got)
	if !slices.Equal(got, []int{10, 11, 12, 13}) {
		t.Errorf("descendants of 10: %v", got)
	}
	// A child of this process is in its tree, found either way.
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for _, tree := range [][]int{processTree([]int{os.Getpid()}), descendants(processParents(), []int{os.Getpid()})} {
		if !slices.Contains(tree, cmd.Process.Pid) || tree[0] != os.Getpid() {
			t.Errorf("tree of this process %v lacks its child %d", tree, cmd.Process.Pid)
		}
	}
	// This process is its own tree's root and has a VmHWM.
	if hwm, err := procstat.PeakRSS(os.Getpid()); err != nil || hwm <= 0 {
		t.Errorf("own VmHWM %d: %v", hwm, err)
	}
}

func TestParseSysctl(t *testing.T) {
	got, err := parseSysctl("# comment\n\nnet.core.rmem_max = 8388608\n; other\nnet.core.wmem_max=4194304\n")
	if err != nil {
		t.Fatal(err)
	}
	if got["net.core.rmem_max"] != 8388608 || got["net.core.wmem_max"] != 4194304 || len(got) != 2 {
		t.Errorf("parsed %v", got)
	}
	if _, err := parseSysctl("net.core.rmem_max\n"); err == nil {
		t.Error("a line without '=' parsed")
	}
	// The file the bench applies parses and names both keys.
	data, err := os.ReadFile("../../configs/sysctl.d/60-lepton-quic.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf, err := parseSysctl(string(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range bufferKeys {
		if conf[k] <= 0 {
			t.Errorf("configs/sysctl.d sets no %s", k)
		}
	}
}

// BenchmarkTreeSample is the cost of one look at /proc by the RSS
// sampler (it runs every 50 ms during rsync and rclone runs).
func BenchmarkTreeSample(b *testing.B) {
	t := &treeSampler{roots: []int{os.Getpid()}}
	for b.Loop() {
		t.sample()
	}
}
