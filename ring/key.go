package ring

import "github.com/cespare/xxhash/v2"

// Key returns the ring position of b: its xxhash64, the same hash on every
// platform. Callers hash a stable identity of the thing being placed, for
// example a job ID, file index and chunk index.
func Key(b []byte) uint64 { return xxhash.Sum64(b) }

// KeyString is Key for a string, without copying it.
func KeyString(s string) uint64 { return xxhash.Sum64String(s) }
