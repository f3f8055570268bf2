package jobspec

import (
	"encoding/json"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
	}{
		{"4194304", 4 << 20},
		{"0", 0},
		{"4MiB", 4 << 20},
		{"512KiB", 512 << 10},
		{"1GiB", 1 << 30},
		{"2TiB", 2 << 40},
		{"4M", 4 << 20},
		{"4m", 4 << 20},
		{"64k", 64 << 10},
		{"1G", 1 << 30},
		{"4Mi", 4 << 20},
		{"4mib", 4 << 20},
		{"4MIB", 4 << 20},
		{"4 MiB", 4 << 20},
		{" 4MiB ", 4 << 20},
		{"4MB", 4_000_000},
		{"4mb", 4_000_000},
		{"512KB", 512_000},
		{"1GB", 1_000_000_000},
		{"65536B", 65536},
		{"8388608b", 8 << 20},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", " ", "MiB", "-4MiB", "+4MiB", "4.5MiB", "4 Mbit", "4MiBs", "4 4", "0x10", "1e6",
		"9223372036854775808", "9223372036854775807KiB", "99999999999TiB"} {
		if got, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) = %d, want an error", bad, got)
		} else if !strings.HasPrefix(err.Error(), "want a size such as 4MiB, 512KiB or 4194304, got ") {
			t.Errorf("ParseByteSize(%q): message %q", bad, err)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	tests := []struct {
		in   ByteSize
		want string
	}{
		{4 << 20, "4MiB"},
		{512 << 10, "512KiB"},
		{1 << 30, "1GiB"},
		{3 << 40, "3TiB"},
		{1536 << 10, "1536KiB"},
		{4_000_000, "4000000"},
		{1000, "1000"},
		{0, "0"},
		{3, "3"},
		{-1, "-1"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		if tt.in < 0 {
			continue
		}
		back, err := ParseByteSize(tt.in.String())
		if err != nil || back != tt.in {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.in.String(), back, err, int64(tt.in))
		}
	}
}

// TestByteSizeYAMLRoundTrip: a size written to YAML reads back the same,
// and is written the way a person would write it.
func TestByteSizeYAMLRoundTrip(t *testing.T) {
	type doc struct {
		Size ByteSize `yaml:"size"`
	}
	for _, size := range []ByteSize{4 << 20, 512 << 10, 1 << 30, 4_000_000, 65537, 0} {
		out, err := yaml.Marshal(doc{size})
		if err != nil {
			t.Fatal(err)
		}
		if size == 4<<20 && string(out) != "size: 4MiB\n" {
			t.Errorf("4MiB marshals as %q", out)
		}
		var back doc
		if err := yaml.Unmarshal(out, &back); err != nil || back.Size != size {
			t.Errorf("%d → %q → %d, %v", int64(size), out, int64(back.Size), err)
		}
	}
	var d doc
	if err := yaml.Unmarshal([]byte("size: 4194304\n"), &d); err != nil || d.Size != 4<<20 {
		t.Errorf("plain integer: %d, %v", int64(d.Size), err)
	}
}

// TestByteSizeJSON: JSON carries a plain integer, and reads a string too.
func TestByteSizeJSON(t *testing.T) {
	out, err := json.Marshal(ByteSize(4 << 20))
	if err != nil || string(out) != "4194304" {
		t.Fatalf("Marshal = %s, %v", out, err)
	}
	for in, want := range map[string]ByteSize{`4194304`: 4 << 20, `"4MiB"`: 4 << 20, `"512KiB"`: 512 << 10, `"65536"`: 65536, ` 7 `: 7} {
		var b ByteSize
		if err := json.Unmarshal([]byte(in), &b); err != nil || b != want {
			t.Errorf("Unmarshal(%s) = %d, %v; want %d", in, int64(b), err, int64(want))
		}
	}
	for _, bad := range []string{`-1`, `4.5`, `"lots"`, `true`, `[1]`, `{}`, `1e6`} {
		var b ByteSize
		if err := json.Unmarshal([]byte(bad), &b); err == nil || !strings.Contains(err.Error(), "want a size such as") {
			t.Errorf("Unmarshal(%s) = %d, %v; want a size error", bad, int64(b), err)
		}
	}
	b := ByteSize(5)
	if err := json.Unmarshal([]byte(`null`), &b); err != nil || b != 5 {
		t.Errorf("null changed the size to %d (%v)", int64(b), err)
	}
}
