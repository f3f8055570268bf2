package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// parseJoin checks one join address and returns it as host:port, with the
// default gossip port when it has none. It takes "10.0.0.6:7946",
// "10.0.0.6", "src-1.example.internal:7946", "[fd00::6]:7946", "[fd00::6]"
// and "fd00::6".
func parseJoin(s string) (string, error) {
	const want = "want host:port such as 10.0.0.6:7946 (the port defaults to 7946)"
	if s == "" {
		return "", errors.New("empty; " + want)
	}
	if strings.Contains(s, "://") {
		return "", errors.New("has a scheme; " + want)
	}
	host, port, explicitPort := s, "", false
	switch {
	case net.ParseIP(s) != nil:
		// a bare IPv4 or IPv6 address
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		host = s[1 : len(s)-1]
	case strings.Contains(s, ":"):
		h, pt, err := net.SplitHostPort(s)
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), "address "+s+": ")
			if strings.Count(s, ":") > 1 {
				msg += " (write an IPv6 address in brackets: [fd00::6]:7946)"
			}
			return "", fmt.Errorf("%s; %s", msg, want)
		}
		host, port, explicitPort = h, pt, true
	}
	if host == "" {
		return "", errors.New("no host; " + want)
	}
	if net.ParseIP(host) == nil && !validHostName(host) {
		return "", fmt.Errorf("host %q is not an IP address or DNS name; %s", host, want)
	}
	if !explicitPort {
		port = strconv.Itoa(DefaultGossipPort)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return net.JoinHostPort(host, port), nil
}

// validHostName reports whether s is a DNS name (RFC 1123 labels) whose last
// label is not all digits, so a mistyped IPv4 address such as 10.0.0.300 is
// not taken for a name.
func validHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != ""
}
