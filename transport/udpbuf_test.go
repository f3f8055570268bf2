package transport

import (
	"strings"
	"testing"
)

func TestBufferWarningNamesLowLimitsAndTheFix(t *testing.T) {
	w := bufferWarning(4194304, 4194304)
	for _, want := range []string{
		"net.core.rmem_max=4194304", "net.core.wmem_max=4194304", "7340032",
		"configs/sysctl.d/60-lepton-quic.conf", "sysctl -w net.core.rmem_max=8388608 net.core.wmem_max=8388608",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warning %q does not contain %q", w, want)
		}
	}
	if strings.Contains(w, "\n") {
		t.Errorf("warning spans several lines: %q", w)
	}
	if w, _, _ := strings.Cut(bufferWarning(8388608, 212992), ", want"); strings.Contains(w, "rmem_max") || !strings.Contains(w, "wmem_max=212992") {
		t.Errorf("warning with only wmem_max low: %q", w)
	}
	if w := bufferWarning(8388608, 8388608); w != "" {
		t.Errorf("warning with large enough limits: %q", w)
	}
}

func TestUDPBufferWarningReadsTheKernelLimits(t *testing.T) {
	rmem, err1 := readSysctlInt("/proc/sys/net/core/rmem_max")
	wmem, err2 := readSysctlInt("/proc/sys/net/core/wmem_max")
	if err1 != nil || err2 != nil {
		t.Skipf("no /proc/sys/net/core here: %v %v", err1, err2)
	}
	if got, want := UDPBufferWarning(), bufferWarning(rmem, wmem); got != want {
		t.Errorf("UDPBufferWarning() = %q, want %q for rmem_max=%d wmem_max=%d", got, want, rmem, wmem)
	}
}
