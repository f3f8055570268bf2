package strictyaml

import (
	"reflect"
	"strings"
)

// Field is one key of a struct as a document spells it.
type Field struct {
	Name  string       // the key: the field's yaml tag name
	Index int          // the field's index in the struct, for reflect.Value.Field
	Type  reflect.Type // the field's type
}

// Fields lists the keys of struct t in field order: its exported fields
// whose yaml tag names a key other than "-". A field without a yaml tag, or
// with ",inline", is no key here, so a struct that Check walks tags every
// field the file may set. Fields of a type that is not a struct is nil.
func Fields(t reflect.Type) []Field {
	if t.Kind() != reflect.Struct {
		return nil
	}
	var fields []Field
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		fields = append(fields, Field{Name: name, Index: i, Type: f.Type})
	}
	return fields
}

// Dotted joins a key path and a key: Dotted("tls", "ca_file") is
// "tls.ca_file", Dotted("", "side") is "side".
func Dotted(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
