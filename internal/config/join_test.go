package config

import (
	"testing"

	"github.com/leptonmesh/lepton/internal/strictyaml"
)

func TestParseJoinAcceptedShapes(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.6:7946":          "10.0.0.6:7946",
		"10.0.0.6":               "10.0.0.6:7946",
		"10.0.0.6:1":             "10.0.0.6:1",
		"src-2.example.internal": "src-2.example.internal:7946",
		"src-2:9000":             "src-2:9000",
		"[fd00::6]:7000":         "[fd00::6]:7000",
		"[fd00::6]":              "[fd00::6]:7946",
		"fd00::6":                "[fd00::6]:7946",
	} {
		got, err := parseJoin(in)
		if err != nil || got != want {
			t.Errorf("parseJoin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParseJoinRefusedShapes(t *testing.T) {
	for _, in := range []string{
		"", ":7946", "10.0.0.6:", "10.0.0.6:0", "10.0.0.6:65536", "10.0.0.6:-1", "10.0.0.6:http",
		"10.0.0.300", "256.1.1.1:7946", "-bad.example", "bad..example", "under_score", "a b",
		"tcp://10.0.0.6:7946", "10.0.0.6:7946:1", "[fd00::6", "[]:7946", "[fd00::6]:",
	} {
		if got, err := parseJoin(in); err == nil {
			t.Errorf("parseJoin(%q) = %q, want an error", in, got)
		}
	}
}

func TestSuggest(t *testing.T) {
	for in, want := range map[string]string{
		"bootstrap_expected": "bootstrap_expect",
		"nodeName":           "node_name",
		"node-name":          "node_name",
		"encryption":         "encrypt",
		"ca_file":            "tls.ca_file",
		"quic":               "ports.quic",
		"completely_else":    "",
	} {
		if got := strictyaml.Suggest(in, configType, ""); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
