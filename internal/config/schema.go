package config

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/leptonmesh/lepton/internal/strictyaml"
	"go.yaml.in/yaml/v3"
)

// The YAML decoder alone reports an unknown key as "field x not found in
// type config.Config" and a wrong type without the key's name. checkSchema
// checks the document against Config's yaml tags first (strictyaml does the
// walking), so each problem names the key's dotted path and line, and an
// unknown key gets a suggestion. The words are the agent config's own.

var configType = reflect.TypeFor[Config]()

// checkSchema checks the document root against Config's keys, recording
// each value's line in p.lines for later messages: for an alias, the line
// of the value it names.
func checkSchema(p *problems, root *yaml.Node) {
	strictyaml.Check(root, configType, func(path string, _, v *yaml.Node) {
		if path == "" {
			return
		}
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		p.lines[path] = v.Line
	}, p.schemaProblem)
}

// schemaProblem words one problem strictyaml found.
func (p *problems) schemaProblem(sp strictyaml.Problem) {
	n, path := sp.Node, sp.Path
	switch sp.Kind {
	case strictyaml.TooManyValues:
		p.errs = append(p.errs, &Error{File: p.file,
			Problem: fmt.Sprintf("line %d: more than %d values once aliases are expanded; write the config out without them", n.Line, strictyaml.MaxValues)})
	case strictyaml.AliasLoop:
		if path != "" {
			p.lines[path] = n.Line
		}
		p.add(path, "alias *%s refers to a value that holds it", clip(n.Value))
	case strictyaml.UnknownKey:
		msg := fmt.Sprintf("line %d: unknown key %q", n.Line, strictyaml.Dotted(path, clip(n.Value)))
		if s := strictyaml.Suggest(n.Value, sp.Type, path); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		p.errs = append(p.errs, &Error{File: p.file, Problem: msg})
	case strictyaml.KeyNotName:
		p.lines[path] = n.Line
		p.add(path, "want a name as key, got %s", describe(n))
	case strictyaml.NotMapping:
		switch {
		case path == "":
			p.errs = append(p.errs, &Error{File: p.file, Problem: fmt.Sprintf("line %d: want a mapping of keys (node_name: …, side: …), got %s", n.Line, describe(n))})
		case sp.Type.Kind() == reflect.Map:
			p.add(path, "want a mapping of names to values, got %s", describe(n))
		default:
			p.add(path, "want a mapping of keys, got %s", describe(n))
		}
	case strictyaml.NotList:
		p.add(path, "want a list, got %s", describe(n))
	case strictyaml.Refused:
		p.add(path, "%s", sp.Err)
	default:
		p.add(path, "%s", leafProblem(n, sp.Type))
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

// leafProblem says in a user's words what a scalar key of type t wants.
func leafProblem(n *yaml.Node, t reflect.Type) string {
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
	return strictyaml.Describe(n, strconv.Quote)
}
