package config

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The YAML decoder alone reports an unknown key as "field x not found in
// type config.Config" and a wrong type without the key's name. walk checks
// the document against Config's yaml tags first, so each problem names the
// key's dotted path and line, and an unknown key gets a suggestion.

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	configType      = reflect.TypeFor[Config]()
)

// maxNodes bounds the values walk visits: aliases and merge keys can make a
// small file name a vast tree ("billion laughs"). A real config has a few
// dozen values.
const maxNodes = 100_000

// schemaWalk is the state of one walk over a document.
type schemaWalk struct {
	*problems
	open  map[*yaml.Node]bool // the mappings and lists being walked, to catch an alias to its own ancestor
	nodes int                 // the values visited so far
}

// checkSchema checks the document root against Config's keys.
func checkSchema(p *problems, root *yaml.Node) {
	w := &schemaWalk{problems: p, open: map[*yaml.Node]bool{}}
	w.walk(root, configType, "")
}

// walk checks node n against type t at key path, recording each value's
// line in p.lines for later messages.
func (p *schemaWalk) walk(n *yaml.Node, t reflect.Type, path string) {
	if p.nodes++; p.nodes > maxNodes {
		if p.nodes == maxNodes+1 {
			p.errs = append(p.errs, &Error{File: p.file,
				Problem: fmt.Sprintf("line %d: more than %d values once aliases are expanded; write the config out without them", n.Line, maxNodes)})
		}
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		if p.open[n.Alias] {
			if path != "" {
				p.lines[path] = n.Line
			}
			p.add(path, "alias *%s refers to a value that holds it", clip(n.Value))
			return
		}
		n = n.Alias
	}
	if path != "" {
		p.lines[path] = n.Line
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		p.open[n] = true
		defer delete(p.open, n)
	}
	if isNull(n) {
		return // the zero value; validation says what is missing
	}
	leaf := reflect.PointerTo(t).Implements(unmarshalerType)
	switch {
	case !leaf && t.Kind() == reflect.Struct:
		p.walkStruct(n, t, path)
	case !leaf && t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			p.add(path, "want a list, got %s", describe(n))
			return
		}
		for i, item := range n.Content {
			p.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case !leaf && t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			p.add(path, "want a mapping of names to values, got %s", describe(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" {
				p.walkMerge(v, t, path)
				continue
			}
			if k.Kind != yaml.ScalarNode {
				p.lines[path] = k.Line
				p.add(path, "want a name as key, got %s", describe(k))
				continue
			}
			p.walk(v, t.Elem(), path+"."+k.Value)
		}
	default:
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			p.add(path, "%s", leafProblem(n, t, err))
		}
	}
}

// walkMerge checks the value of a merge key ("<<: *defaults" or
// "<<: [*a, *b]") as more keys of the mapping of type t at path.
func (p *schemaWalk) walkMerge(v *yaml.Node, t reflect.Type, path string) {
	if v.Kind != yaml.SequenceNode {
		p.walk(v, t, path)
		return
	}
	for _, m := range v.Content {
		p.walk(m, t, path)
	}
}

// walkStruct checks a mapping against the yaml-tagged fields of struct t.
func (p *schemaWalk) walkStruct(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		if path == "" {
			p.errs = append(p.errs, &Error{File: p.file, Problem: fmt.Sprintf("line %d: want a mapping of keys (node_name: …, side: …), got %s", n.Line, describe(n))})
			return
		}
		p.add(path, "want a mapping of keys, got %s", describe(n))
		return
	}
	fields := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			p.walkMerge(v, t, path)
			continue
		}
		if f, ok := fields[k.Value]; ok && k.Kind == yaml.ScalarNode {
			p.walk(v, f.Type, dotted(path, k.Value))
			continue
		}
		msg := fmt.Sprintf("line %d: unknown key %q", k.Line, dotted(path, clip(k.Value)))
		if s := suggest(k.Value, t, path); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		p.errs = append(p.errs, &Error{File: p.file, Problem: msg})
	}
}

// clip shortens a name from the file for a message.
func clip(s string) string {
	const most = 40
	if r := []rune(s); len(r) > most {
		return string(r[:most]) + "…"
	}
	return s
}

// yamlFields maps yaml key names to the fields of struct t.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	for _, f := range reflect.VisibleFields(t) {
		if name := yamlName(f); name != "" {
			m[name] = f
		}
	}
	return m
}

// yamlName is the key a field decodes from, or "" when it has none.
func yamlName(f reflect.StructField) string {
	if !f.IsExported() || f.Anonymous {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" || name == "" {
		return ""
	}
	return name
}

func dotted(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// leafProblem says in a user's words what a scalar key wants.
func leafProblem(n *yaml.Node, t reflect.Type, err error) string {
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return err.Error()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "want true or false, got " + describe(n)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "want a whole number, got " + describe(n)
	case reflect.String:
		return "want a single value, got " + describe(n)
	}
	return fmt.Sprintf("want %s, got %s", t, describe(n))
}

// describe names what a node holds, for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if isNull(n) {
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// suggest returns the known key closest to an unknown one, as a dotted
// path: a sibling within a small edit distance ("bootstrap_expected" →
// "bootstrap_expect"), or else a key of the same name one level down
// ("ca_file" → "tls.ca_file").
func suggest(key string, t reflect.Type, path string) string {
	norm := normalizeKey(key)
	best, bestDist := "", -1
	for _, f := range reflect.VisibleFields(t) {
		name := yamlName(f)
		if name == "" {
			continue
		}
		d := editDistance(norm, name)
		limit := max(2, max(len(norm), len(name))/3)
		if d <= limit && (bestDist < 0 || d < bestDist) {
			best, bestDist = name, d
		}
	}
	if best != "" {
		return dotted(path, best)
	}
	for _, f := range reflect.VisibleFields(t) {
		name := yamlName(f)
		if name == "" || f.Type.Kind() != reflect.Struct || reflect.PointerTo(f.Type).Implements(unmarshalerType) {
			continue
		}
		if _, ok := yamlFields(f.Type)[norm]; ok {
			return dotted(dotted(path, name), norm)
		}
	}
	return ""
}

// normalizeKey folds the usual slips: case, and '-' for '_'.
func normalizeKey(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), "-", "_")
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
