package jobspec

import (
	"reflect"
	"strings"
)

// The keys of a job, taken from the yaml tags of Spec and Endpoint (the
// json tags carry the same names), so that unknown-key checks in YAML and
// JSON and their suggestions follow the types as they grow.

var specType = reflect.TypeFor[Spec]()

// key is one field of a struct and the name it has in a job.
type key struct {
	name  string
	index int
	typ   reflect.Type
}

// keysOf lists the keys of struct t in field order.
func keysOf(t reflect.Type) []key {
	var keys []key
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		keys = append(keys, key{name: name, index: i, typ: f.Type})
	}
	return keys
}

// lookup finds the key called name in keys.
func lookup(keys []key, name string) (key, bool) {
	for _, k := range keys {
		if k.name == name {
			return k, true
		}
	}
	return key{}, false
}

// keyNames lists the names of t's keys for a message: "name, source, …".
func keyNames(t reflect.Type) string {
	var names []string
	for _, k := range keysOf(t) {
		names = append(names, k.name)
	}
	return strings.Join(names, ", ")
}

// unknownKey says that name, found in struct t at path, is not a key, and
// what the writer probably meant.
func unknownKey(t reflect.Type, path, name string) string {
	if s := suggest(t, path, name); s != "" {
		return "unknown key (did you mean " + quote(s) + "?)"
	}
	return "unknown key; the keys here are " + keyNames(t)
}

// suggest returns the known key closest to an unknown one, as a dotted
// path: a sibling within a small edit distance ("chunksize" → "chunk_size"),
// or else a key of that name one level down ("volume" → "source.volume").
func suggest(t reflect.Type, path, name string) string {
	norm := strings.ReplaceAll(strings.ToLower(name), "-", "_")
	if len(norm) > 64 {
		return "" // no key is that long; spare the edit distance
	}
	best, bestDist := "", -1
	for _, k := range keysOf(t) {
		d := editDistance(norm, k.name)
		limit := max(2, max(len(norm), len(k.name))/3)
		if d <= limit && (bestDist < 0 || d < bestDist) {
			best, bestDist = k.name, d
		}
	}
	if best != "" {
		return dotted(path, best)
	}
	for _, k := range keysOf(t) {
		if k.typ.Kind() != reflect.Struct {
			continue
		}
		if _, ok := lookup(keysOf(k.typ), norm); ok {
			return dotted(dotted(path, k.name), norm)
		}
	}
	return ""
}

// dotted joins a key path and a key.
func dotted(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
