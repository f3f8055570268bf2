package jobspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/leptonmesh/lepton/internal/strictyaml"
)

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

// ParseJSON reads a job from the API's JSON as strictly as Parse reads a
// file: an unknown key is an error with a suggestion, a value of the wrong
// type names its key, absent or null keys take their defaults, and the job
// is validated. Errors are *FieldError with File "", joined in field order
// (unknown keys last, by name).
func ParseJSON(data []byte) (*Spec, error) {
	if len(data) > MaxFileSize {
		return nil, &FieldError{Problem: fmt.Sprintf("larger than %d bytes", MaxFileSize)}
	}
	p := &problems{}
	s := Defaults()
	decodeObject(p, data, reflect.ValueOf(&s).Elem(), "")
	if err := p.err(); err != nil {
		return nil, err
	}
	s.normalize()
	s.validate(p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return &s, nil
}

// decodeObject decodes the JSON object raw into struct v key by key, so each
// problem names its key.
func decodeObject(p *problems, raw []byte, v reflect.Value, path string) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			p.errs = append(p.errs, &FieldError{Problem: fmt.Sprintf("not valid JSON: %v (at byte %d)", err, se.Offset), err: err})
		case path == "":
			p.add("", "want a JSON object of job keys (name, source, target, …), got %s", describeJSON(raw))
		default:
			p.add(path, "want an object with keys %s, got %s", keyNames(v.Type()), describeJSON(raw))
		}
		return
	}
	keys := strictyaml.Fields(v.Type())
	known := map[string]bool{}
	for _, k := range keys {
		known[k.Name] = true
		value, ok := obj[k.Name]
		if !ok || isNullJSON(value) {
			continue
		}
		field := v.Field(k.Index)
		name := strictyaml.Dotted(path, k.Name)
		if k.Type.Kind() == reflect.Struct && !reflect.PointerTo(k.Type).Implements(jsonUnmarshaler) {
			decodeObject(p, value, field, name)
			continue
		}
		if err := json.Unmarshal(value, field.Addr().Interface()); err != nil {
			if reflect.PointerTo(k.Type).Implements(jsonUnmarshaler) {
				p.add(name, "%v", err)
			} else {
				p.add(name, "want %s, got %s", wantJSON(k.Type), describeJSON(value))
			}
		}
	}
	var unknown []string
	for name := range obj {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		p.add(strictyaml.Dotted(path, truncate(name)), "%s", unknownKey(v.Type(), path, name))
	}
}

// wantJSON names what a JSON value of type t looks like, for messages.
func wantJSON(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of strings"
	}
	return t.String()
}

// describeJSON names what a JSON value holds, for messages.
func describeJSON(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return quote(s)
		}
	case 'n':
		return "null"
	}
	return truncate(string(raw))
}

// isNullJSON reports whether raw is the JSON null.
func isNullJSON(raw []byte) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}
