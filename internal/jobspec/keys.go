package jobspec

import (
	"reflect"
	"strings"

	"github.com/leptonmesh/lepton/internal/strictyaml"
)

// The keys of a job are taken from the yaml tags of Spec and Endpoint (the
// json tags carry the same names), so that unknown-key checks in YAML and
// JSON and their suggestions follow the types as they grow.

var specType = reflect.TypeFor[Spec]()

// keyNames lists the names of t's keys for a message: "name, source, …".
func keyNames(t reflect.Type) string {
	var names []string
	for _, k := range strictyaml.Fields(t) {
		names = append(names, k.Name)
	}
	return strings.Join(names, ", ")
}

// unknownKey says that name, found in struct t at path, is not a key, and
// what the writer probably meant.
func unknownKey(t reflect.Type, path, name string) string {
	if s := strictyaml.Suggest(name, t, path); s != "" {
		return "unknown key (did you mean " + quote(s) + "?)"
	}
	return "unknown key; the keys here are " + keyNames(t)
}
