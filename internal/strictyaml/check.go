// Package strictyaml checks a YAML document against the Go type it is about
// to be decoded into, before the decoder sees it. The decoder alone reports an
// unknown key as "field x not found in type config.Config" and a wrong type
// without the key's name; Check instead hands each problem to its caller with
// the key's dotted path and the node (so its line), and Suggest finds the key
// an unknown one probably meant. Check also guards the decoder's blind spots:
// an alias to the value that holds it, and aliases that expand into a vast
// tree ("billion laughs").
//
// The wording of messages stays with each caller (the agent config and the
// job file say things differently); this package says what is wrong, where.
package strictyaml

import (
	"fmt"
	"reflect"

	"go.yaml.in/yaml/v3"
)

// MaxValues bounds the values one Check visits, counting every expansion of
// an alias or merge key: a small file can otherwise name 10^11 values. A real
// config or job file holds a few dozen.
const MaxValues = 100_000

// Kind says what is wrong with a value.
type Kind int

// The problems Check reports.
const (
	// UnknownKey is a mapping key that names no field of the struct. Node
	// is the key and Path the mapping's path.
	UnknownKey Kind = iota + 1
	// KeyNotName is a key of a Go map that is a mapping, a list or an alias
	// rather than a name. Node is the key and Path the mapping's path.
	KeyNotName
	// NotMapping is a scalar or a list where a struct or a map goes.
	NotMapping
	// NotList is a scalar or a mapping where a slice goes.
	NotList
	// WrongType is a value the decoder cannot fit into its Go type ("yes
	// please" for a bool, "7x" for an int). Err is the decoder's error.
	WrongType
	// Refused is a value that a type with its own UnmarshalYAML refused. Err
	// is that method's error, worded for the user.
	Refused
	// AliasLoop is an alias to a mapping or list that holds it, which would
	// expand without end. Node is the alias. The walk does not follow it.
	AliasLoop
	// TooManyValues says the document names more than MaxValues values once
	// aliases are expanded. It is reported once, at the value where the walk
	// stopped (Node, as written), and nothing after it is checked.
	TooManyValues
)

// Problem is one way a document does not fit its Go type.
type Problem struct {
	Kind Kind
	// Path is the dotted path of the value: "tls.ca_file", "volumes[1].name",
	// "labels.zone", or "" for the document's top value (or a mapping merged
	// into it).
	Path string
	// Node is the value at fault, its alias resolved, or the node Kind names
	// instead; Node.Line is where it stands in the file.
	Node *yaml.Node
	// Type is the Go type the value must fit: for UnknownKey, the struct.
	Type reflect.Type
	// Err is the decoder's error, for WrongType and Refused.
	Err error
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// isLeaf reports whether values of t decode themselves (UnmarshalYAML), so
// that Check does not look inside them.
func isLeaf(t reflect.Type) bool {
	return reflect.PointerTo(t).Implements(unmarshalerType)
}

// Check walks root, a document's top value, against t, the Go type it will be
// decoded into, as go.yaml.in/yaml/v3 decodes: a struct's keys are the
// fields Fields lists, merge keys ("<<: *defaults", "<<: [*a, *b]") add keys
// to their mapping, slices hold lists, maps hold mappings of names, and
// every other type, or one with its own UnmarshalYAML, must decode alone. A
// null value is not looked into: the decoder leaves the Go value as it was.
//
// As it enters each value, Check calls seen, when not nil, with the value's
// dotted path, the mapping key that names it (nil for the top value, a list
// item or a merged mapping) and the value as written (an alias unresolved):
// enough to remember where each key stands for later messages. It calls
// report for each problem. Both come in document order, so the same file
// always gives the same messages in the same order.
func Check(root *yaml.Node, t reflect.Type, seen func(path string, key, value *yaml.Node), report func(Problem)) {
	w := &walker{
		seen:   seen,
		report: report,
		open:   map[*yaml.Node]bool{},
		keys:   map[reflect.Type]map[string]reflect.Type{},
	}
	w.walk(root, t, "", nil)
}

// walker is the state of one Check.
type walker struct {
	seen   func(path string, key, value *yaml.Node)
	report func(Problem)
	open   map[*yaml.Node]bool                      // the mappings and lists being walked, to catch an alias to its own ancestor
	values int                                      // the values visited so far
	keys   map[reflect.Type]map[string]reflect.Type // each struct's keys and their types
}

// walk checks value n, named by key, against type t at path.
func (w *walker) walk(n *yaml.Node, t reflect.Type, path string, key *yaml.Node) {
	if w.values++; w.values > MaxValues {
		if w.values == MaxValues+1 {
			w.report(Problem{Kind: TooManyValues, Path: path, Node: n, Type: t})
		}
		return
	}
	if w.seen != nil {
		w.seen(path, key, n)
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		if w.open[n.Alias] {
			w.report(Problem{Kind: AliasLoop, Path: path, Node: n, Type: t})
			return
		}
		n = n.Alias
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		w.open[n] = true
		defer delete(w.open, n)
	}
	if IsNull(n) {
		return
	}
	leaf := isLeaf(t)
	switch {
	case !leaf && t.Kind() == reflect.Struct:
		w.walkStruct(n, t, path)
	case !leaf && t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.report(Problem{Kind: NotList, Path: path, Node: n, Type: t})
			return
		}
		for i, item := range n.Content {
			w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), nil)
		}
	case !leaf && t.Kind() == reflect.Map:
		w.walkMap(n, t, path)
	default:
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			kind := WrongType
			if leaf {
				kind = Refused
			}
			w.report(Problem{Kind: kind, Path: path, Node: n, Type: t, Err: err})
		}
	}
}

// walkStruct checks mapping n against the keys of struct t.
func (w *walker) walkStruct(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		w.report(Problem{Kind: NotMapping, Path: path, Node: n, Type: t})
		return
	}
	keys := w.keysOf(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			w.walkMerge(v, t, path)
			continue
		}
		if ft, ok := keys[k.Value]; ok && k.Kind == yaml.ScalarNode {
			w.walk(v, ft, Dotted(path, k.Value), k)
			continue
		}
		w.report(Problem{Kind: UnknownKey, Path: path, Node: k, Type: t})
	}
}

// walkMap checks mapping n against map type t: any name, each value of t's
// element type.
func (w *walker) walkMap(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		w.report(Problem{Kind: NotMapping, Path: path, Node: n, Type: t})
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			w.walkMerge(v, t, path)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			w.report(Problem{Kind: KeyNotName, Path: path, Node: k, Type: t})
			continue
		}
		w.walk(v, t.Elem(), Dotted(path, k.Value), k)
	}
}

// walkMerge checks the value of a merge key ("<<: *defaults" or
// "<<: [*a, *b]") as more keys of the mapping of type t at path.
func (w *walker) walkMerge(v *yaml.Node, t reflect.Type, path string) {
	if v.Kind != yaml.SequenceNode {
		w.walk(v, t, path, nil)
		return
	}
	for _, m := range v.Content {
		w.walk(m, t, path, nil)
	}
}

// keysOf maps the keys of struct t to their types, once per type.
func (w *walker) keysOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := w.keys[t]; ok {
		return m
	}
	m := map[string]reflect.Type{}
	for _, f := range Fields(t) {
		m[f.Name] = f.Type
	}
	w.keys[t] = m
	return m
}
