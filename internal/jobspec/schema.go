package jobspec

import (
	"fmt"
	"maps"
	"reflect"

	"github.com/leptonmesh/lepton/internal/strictyaml"
	"go.yaml.in/yaml/v3"
)

// The YAML decoder alone reports an unknown key as "field x not found in
// type jobspec.Spec" and a wrong type without the key's name. checkSchema
// checks the document against Spec's keys first (strictyaml does the
// walking), so each problem names the key's dotted path and line, and an
// unknown key gets a suggestion. The words are the job file's own.

// checkSchema checks the document root against Spec's keys, recording each
// value's line in p.lines for later messages. Problems found while walking
// point at the value as written; once the walk is done, a key points at its
// own line, since a block value starts below its key.
func checkSchema(p *problems, root *yaml.Node) {
	keyLines := map[string]int{}
	strictyaml.Check(root, specType, func(path string, key, v *yaml.Node) {
		if path == "" {
			return
		}
		p.lines[path] = v.Line
		if key != nil {
			keyLines[path] = key.Line
		}
	}, p.schemaProblem)
	maps.Copy(p.lines, keyLines)
}

// schemaProblem words one problem strictyaml found.
func (p *problems) schemaProblem(sp strictyaml.Problem) {
	n, path := sp.Node, sp.Path
	switch sp.Kind {
	case strictyaml.TooManyValues:
		p.errs = append(p.errs, &FieldError{File: p.file,
			Problem: fmt.Sprintf("line %d: more than %d values once aliases are expanded; write the job out without them", n.Line, strictyaml.MaxValues)})
	case strictyaml.AliasLoop:
		p.add(path, "alias *%s refers to a value that holds it", truncate(n.Value))
	case strictyaml.UnknownKey:
		name := n.Value
		if n.Kind != yaml.ScalarNode {
			name = "?"
		}
		p.errs = append(p.errs, &FieldError{File: p.file, Field: strictyaml.Dotted(path, truncate(name)),
			Problem: fmt.Sprintf("line %d: %s", n.Line, unknownKey(sp.Type, path, name))})
	case strictyaml.NotMapping:
		if path == "" {
			p.add("", "line %d: want a mapping of keys (name: …, source: …, target: …), got %s", n.Line, describe(n))
			return
		}
		p.add(path, "want a mapping of keys (%s), got %s", keyNames(sp.Type), describe(n))
	case strictyaml.NotList:
		p.add(path, "want a list of patterns such as [\"**/*.parquet\"], got %s", describe(n))
	case strictyaml.KeyNotName: // a job has no maps; here for completeness
		p.add(path, "want a name as key, got %s", describe(n))
	case strictyaml.Refused:
		p.add(path, "%s", sp.Err)
	default:
		p.add(path, "want %s, got %s", want(sp.Type), describe(n))
	}
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
	return strictyaml.Describe(n, quote)
}
