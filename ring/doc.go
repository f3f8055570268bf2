// Package ring places chunks on agents with consistent hashing.
//
// A Ring is built from the names of the live agents that can serve one side
// of a migration (the source agents holding the source volume, or the target
// agents holding the target volume). Each member owns many virtual nodes:
// points on a 64-bit circle at xxhash64("name#i"). A key (xxhash64 of a
// chunk's identity, see Key and KeyString) belongs to the member of the first
// point at or after it, clockwise (Owner). When a member joins or leaves,
// only the keys on its own arcs change hands.
//
// AssignBounded adds bounded loads (Mirrokni, Thorup and Zadimoghaddam,
// "Consistent Hashing with Bounded Loads", 2017): a batch of keys is spread
// so that no member carries more than ceil(c × its fair share), while keys
// still move little when membership changes.
//
// The package is pure: no I/O, no goroutines, no knowledge of who is alive.
// A Ring never changes after New, so any number of goroutines may read it.
// Every result depends only on stable inputs (member names, weights, options,
// keys), never on map iteration order or the platform, so the leader and a
// later leader compute the same placement from the same inputs.
package ring
