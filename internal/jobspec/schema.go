package jobspec

import (
	"fmt"
	"reflect"

	"go.yaml.in/yaml/v3"
)

// The YAML decoder alone reports an unknown key as "field x not found in
// type jobspec.Spec" and a wrong type without the key's name. walk checks
// the document against Spec's keys first, so each problem names the key's
// dotted path and line, and an unknown key gets a suggestion.

var yamlUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()

// maxNodes bounds the nodes walk visits: aliases and merge keys can make a
// small file name a vast tree ("billion laughs").
const maxNodes = 100_000

// schemaWalk is the state of one walk over a document.
type schemaWalk struct {
	*problems
	open  map[*yaml.Node]bool // the mappings and lists being walked, to catch an alias to its own ancestor
	nodes int                 // the nodes visited so far
}

// checkSchema checks the document root against Spec's keys.
func checkSchema(p *problems, root *yaml.Node) {
	w := &schemaWalk{problems: p, open: map[*yaml.Node]bool{}}
	w.walk(root, specType, "")
}

// walk checks node n against type t at key path, recording each value's
// line in p.lines for later messages.
func (p *schemaWalk) walk(n *yaml.Node, t reflect.Type, path string) {
	if p.nodes++; p.nodes > maxNodes {
		if p.nodes == maxNodes+1 {
			p.errs = append(p.errs, &FieldError{File: p.file,
				Problem: fmt.Sprintf("line %d: more than %d values once aliases are expanded; write the job out without them", n.Line, maxNodes)})
		}
		return
	}
	if path != "" {
		p.lines[path] = n.Line
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		if p.open[n.Alias] {
			p.add(path, "alias *%s refers to a value that holds it", truncate(n.Value))
			return
		}
		n = n.Alias
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		p.open[n] = true
		defer delete(p.open, n)
	}
	if isNull(n) {
		return // the default stays; validation says what is missing
	}
	leaf := reflect.PointerTo(t).Implements(yamlUnmarshaler)
	switch {
	case !leaf && t.Kind() == reflect.Struct:
		p.walkStruct(n, t, path)
	case !leaf && t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			p.add(path, "want a list of patterns such as [\"**/*.parquet\"], got %s", describe(n))
			return
		}
		for i, item := range n.Content {
			p.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			p.add(path, "%s", leafProblem(n, t, err))
		}
	}
}

// walkStruct checks a mapping against the keys of struct t.
func (p *schemaWalk) walkStruct(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		if path == "" {
			p.add("", "line %d: want a mapping of keys (name: …, source: …, target: …), got %s", n.Line, describe(n))
			return
		}
		p.add(path, "want a mapping of keys (%s), got %s", keyNames(t), describe(n))
		return
	}
	keys := keysOf(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" { // "<<: *defaults"
			if v.Kind == yaml.SequenceNode {
				for _, m := range v.Content {
					p.walk(m, t, path)
				}
			} else {
				p.walk(v, t, path)
			}
			continue
		}
		if f, ok := lookup(keys, k.Value); ok && k.Kind == yaml.ScalarNode {
			p.walk(v, f.typ, dotted(path, k.Value))
			p.lines[dotted(path, k.Value)] = k.Line // a block value starts below its key
			continue
		}
		name := k.Value
		if k.Kind != yaml.ScalarNode {
			name = "?"
		}
		field := dotted(path, truncate(name))
		p.errs = append(p.errs, &FieldError{File: p.file, Field: field,
			Problem: fmt.Sprintf("line %d: %s", k.Line, unknownKey(t, path, name))})
	}
}

// leafProblem says in a user's words what a scalar key wants.
func leafProblem(n *yaml.Node, t reflect.Type, err error) string {
	if reflect.PointerTo(t).Implements(yamlUnmarshaler) {
		return err.Error()
	}
	return "want " + want(t) + ", got " + describe(n)
}

// want names what a value of type t looks like, for messages.
func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a single value"
	case reflect.Slice:
		return "a list"
	case reflect.Struct:
		return "a mapping of keys (" + keyNames(t) + ")"
	}
	return t.String()
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
	return quote(n.Value)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}
