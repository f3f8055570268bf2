package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// bufferKeys are the sysctls of configs/sysctl.d that the comparison
// applies: the caps on UDP socket buffers quic-go asks for.
var bufferKeys = []string{"net.core.rmem_max", "net.core.wmem_max"}

// parseSysctl reads "key = value" lines, skipping comments and blanks.
func parseSysctl(text string) (map[string]int64, error) {
	out := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: no '=': %q", n, line)
		}
		val, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out[strings.TrimSpace(k)] = val
	}
	return out, sc.Err()
}

func sysctlPath(key string) string { return "/proc/sys/" + strings.ReplaceAll(key, ".", "/") }

func readSysctl(key string) (int64, error) {
	b, err := os.ReadFile(sysctlPath(key))
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// raiseBuffers raises net.core.rmem_max and wmem_max to what file
// recommends when they are lower, so quic-go gets the socket buffers it
// asks for, and restores the old values when the session exits (Ctrl-C
// included). Not root: it says what the kernel allows and goes on. These
// sysctls are global: network namespaces cannot set their own.
func raiseBuffers(s *session, file string) error {
	text, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	want, err := parseSysctl(string(text))
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	for _, key := range bufferKeys {
		w, ok := want[key]
		if !ok {
			continue
		}
		old, err := readSysctl(key)
		if err != nil {
			return fmt.Errorf("read %s: %w", key, err)
		}
		if old >= w {
			fmt.Fprintf(os.Stderr, "sysctl %s = %d (≥ %d recommended by %s)\n", key, old, w, file)
			continue
		}
		if os.Geteuid() != 0 {
			fmt.Fprintf(os.Stderr, "sysctl %s = %d, below the %d of %s; not root, so quic-go gets smaller buffers\n", key, old, w, file)
			continue
		}
		if err := os.WriteFile(sysctlPath(key), []byte(strconv.FormatInt(w, 10)), 0o644); err != nil {
			return fmt.Errorf("set %s: %w", key, err)
		}
		fmt.Fprintf(os.Stderr, "sysctl %s: %d → %d for this run (as %s recommends); restored at exit\n", key, old, w, file)
		s.Cleanup(func() {
			if err := os.WriteFile(sysctlPath(key), []byte(strconv.FormatInt(old, 10)), 0o644); err != nil {
				fmt.Fprintf(os.Stderr, "restore %s to %d: %v\n", key, old, err)
				return
			}
			fmt.Fprintf(os.Stderr, "sysctl %s restored to %d\n", key, old)
		})
	}
	return nil
}
