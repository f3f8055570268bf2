package strictyaml

import (
	"reflect"
	"strings"
	"unicode/utf8"
)

// Suggest returns the key that key, unknown in the mapping of struct t at
// path, probably meant, as a dotted path: a key of t within a small edit
// distance once case and '-' for '_' are folded ("bootstrap_expected" →
// "bootstrap_expect", "nodeName" → "node_name"), or else a key of that name
// one level down ("ca_file" → "tls.ca_file"). It returns "" when no key is
// close.
func Suggest(key string, t reflect.Type, path string) string {
	norm := strings.ReplaceAll(strings.ToLower(key), "-", "_")
	runes := utf8.RuneCountInString(norm)
	fields := Fields(t)
	best, bestDist := "", -1
	for _, f := range fields {
		limit := max(2, max(len(norm), len(f.Name))/3)
		if gap := runes - utf8.RuneCountInString(f.Name); gap > limit || -gap > limit {
			continue // the distance is at least the gap: spare a long key the work
		}
		d := EditDistance(norm, f.Name)
		if d <= limit && (bestDist < 0 || d < bestDist) {
			best, bestDist = f.Name, d
		}
	}
	if best != "" {
		return Dotted(path, best)
	}
	for _, f := range fields {
		if f.Type.Kind() != reflect.Struct || isLeaf(f.Type) {
			continue
		}
		for _, g := range Fields(f.Type) {
			if g.Name == norm {
				return Dotted(Dotted(path, f.Name), norm)
			}
		}
	}
	return ""
}

// EditDistance is the Levenshtein distance between a and b, in runes: the
// fewest insertions, deletions and substitutions that turn one into the
// other. It takes time in proportion to the product of their lengths.
func EditDistance(a, b string) int {
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
