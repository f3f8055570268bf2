package procstat

import (
	"os"
	"testing"
	"time"
)

func TestCPUTicksCountsAfterAnOddCommandName(t *testing.T) {
	// A command named "a) b (c" and utime 7, stime 5.
	stat := "42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0 100 1000 10"
	got, err := cpuTicks(stat)
	if err != nil || got != 12 {
		t.Fatalf("cpuTicks = %v, %v; want 12", got, err)
	}
	if _, err := cpuTicks("42 (x) S 1"); err == nil {
		t.Error("a short stat line was accepted")
	}
}

func TestOwnProcessHasCPUAndPeakMemory(t *testing.T) {
	deadline := time.Now().Add(200 * time.Millisecond)
	for n := 0; time.Now().Before(deadline); n++ { // burn some CPU, bounded in time
		_ = n * n
	}
	cpu, err := CPUSeconds(os.Getpid())
	if err != nil || cpu <= 0 {
		t.Fatalf("CPUSeconds of this process = %v, %v", cpu, err)
	}
	hwm, err := PeakRSS(os.Getpid())
	if err != nil || hwm <= 0 {
		t.Fatalf("PeakRSS of this process = %v, %v", hwm, err)
	}
	if _, err := CPUSeconds(-1); err == nil {
		t.Error("CPUSeconds of no process succeeded")
	}
}
