package jobspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ByteSize is a number of bytes, written in a job file as an integer
// ("4194304") or an integer with a unit. Binary units: KiB, MiB, GiB, TiB,
// and the one-letter K, M, G, T as dd and rclone read them (4M is 4MiB).
// Decimal units: KB, MB, GB, TB (4MB is 4000000). A trailing B alone means
// bytes. Units ignore case and may follow a space ("4 MiB"). JSON carries
// the plain integer and accepts either form.
type ByteSize int64

// unit is one suffix ParseByteSize accepts, matched without case.
type unit struct {
	suffix string
	size   int64
}

// units are tried longest suffix first, so "kib" wins over "b".
var units = []unit{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"ki", 1 << 10}, {"mi", 1 << 20}, {"gi", 1 << 30}, {"ti", 1 << 40},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// errByteSize says what a size looks like; every parse error wraps it.
var errByteSize = errors.New("want a size such as 4MiB, 512KiB or 4194304")

// ParseByteSize reads a size as a job file writes it: a whole number of
// bytes or of a unit (see ByteSize). Fractions and negative sizes are
// refused.
func ParseByteSize(s string) (ByteSize, error) {
	text := strings.TrimSpace(s)
	digits := len(text) - len(strings.TrimLeft(text, "0123456789"))
	if digits == 0 {
		return 0, fmt.Errorf("%w, got %q", errByteSize, s)
	}
	n, err := strconv.ParseInt(text[:digits], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w, got %q (too large)", errByteSize, s)
	}
	suffix := strings.ToLower(strings.TrimSpace(text[digits:]))
	if suffix == "" {
		return ByteSize(n), nil
	}
	for _, u := range units {
		if suffix != u.suffix {
			continue
		}
		if n > math.MaxInt64/u.size {
			return 0, fmt.Errorf("%w, got %q (too large)", errByteSize, s)
		}
		return ByteSize(n * u.size), nil
	}
	return 0, fmt.Errorf("%w, got %q (units: KiB, MiB, GiB, or KB, MB, GB for powers of 1000)", errByteSize, s)
}

// String writes the size in the largest binary unit that holds it exactly
// ("4MiB", "512KiB"), or as plain bytes ("1000"); ParseByteSize reads it back.
func (b ByteSize) String() string {
	switch {
	case b == 0 || b%(1<<10) != 0:
		return strconv.FormatInt(int64(b), 10)
	case b%(1<<40) == 0:
		return strconv.FormatInt(int64(b>>40), 10) + "TiB"
	case b%(1<<30) == 0:
		return strconv.FormatInt(int64(b>>30), 10) + "GiB"
	case b%(1<<20) == 0:
		return strconv.FormatInt(int64(b>>20), 10) + "MiB"
	}
	return strconv.FormatInt(int64(b>>10), 10) + "KiB"
}

// describe writes the size for messages: "4MiB", or "3 bytes".
func (b ByteSize) describe() string {
	if b == 0 || b%(1<<10) != 0 {
		return fmt.Sprintf("%d bytes", int64(b))
	}
	return b.String()
}

// UnmarshalYAML reads a size from an integer or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("%w, got %s", errByteSize, describe(n))
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalYAML writes the size as String does.
func (b ByteSize) MarshalYAML() (any, error) {
	return b.String(), nil
}

// MarshalJSON writes the size as a plain integer of bytes.
func (b ByteSize) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, int64(b), 10), nil
}

// UnmarshalJSON reads a size from an integer of bytes or a string such as
// "4MiB".
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		return nil
	}
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("%w, got %s", errByteSize, data)
		}
		v, err := ParseByteSize(s)
		if err != nil {
			return err
		}
		*b = v
		return nil
	}
	n, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%w, got %s", errByteSize, truncate(string(data)))
	}
	*b = ByteSize(n)
	return nil
}
