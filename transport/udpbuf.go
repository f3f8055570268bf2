package transport

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// UDP buffer sizes. quic-go asks the kernel for 7 MiB socket buffers and
// gets at most net.core.rmem_max / wmem_max (unless it runs as root);
// configs/sysctl.d/60-lepton-quic.conf sets both to 8 MiB.
const (
	quicWantsBufferBytes = 7 << 20
	suggestedBufferBytes = 8 << 20
)

// UDPBufferWarning returns a one-line warning when the kernel caps UDP
// socket buffers below what QUIC needs for fast transfers, or "" when the
// limits are fine or cannot be read (not Linux).
func UDPBufferWarning() string {
	rmem, err := readSysctlInt("/proc/sys/net/core/rmem_max")
	if err != nil {
		return ""
	}
	wmem, err := readSysctlInt("/proc/sys/net/core/wmem_max")
	if err != nil {
		return ""
	}
	return bufferWarning(rmem, wmem)
}

// bufferWarning is UDPBufferWarning's logic on the two sysctl values.
func bufferWarning(rmem, wmem int) string {
	var low []string
	if rmem < quicWantsBufferBytes {
		low = append(low, fmt.Sprintf("net.core.rmem_max=%d", rmem))
	}
	if wmem < quicWantsBufferBytes {
		low = append(low, fmt.Sprintf("net.core.wmem_max=%d", wmem))
	}
	if len(low) == 0 {
		return ""
	}
	return fmt.Sprintf("UDP buffer limits too small for QUIC: %s, want at least %d (7 MiB); "+
		"install configs/sysctl.d/60-lepton-quic.conf or run `sysctl -w net.core.rmem_max=%d net.core.wmem_max=%d`",
		strings.Join(low, " "), quicWantsBufferBytes, suggestedBufferBytes, suggestedBufferBytes)
}

func readSysctlInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return n, nil
}
