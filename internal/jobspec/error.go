package jobspec

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/leptonmesh/lepton/internal/strictyaml"
)

// FieldError is one problem with a job. Field is the dotted path of the
// offending key (name, source.path, include[2], chunk_size), or "" when the
// problem concerns the whole job (bad YAML, an empty file). File is the job
// file's name, or "" when the job came from the API.
type FieldError struct {
	File    string
	Field   string
	Problem string

	err error // the cause, when there is one, for errors.Is and errors.As
}

// Error reads "job FILE: FIELD: PROBLEM", leaving out FILE or FIELD when
// they are empty ("job: chunk_size: …", "job j.yaml: not valid YAML: …").
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString("job")
	if e.File != "" {
		b.WriteString(" " + e.File)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Problem)
	return b.String()
}

// Unwrap returns the cause, such as an *fs.PathError, or nil.
func (e *FieldError) Unwrap() error { return e.err }

// problems collects the errors of one parse or validation in a fixed order:
// file order while decoding, field order while validating.
type problems struct {
	file  string
	lines strictyaml.Lines // field path -> line of its value in the file; nil for JSON
	errs  []error
}

// add records a problem with field; when the file set that field (or the
// key enclosing it), the problem starts with its line.
func (p *problems) add(field, format string, args ...any) {
	msg := p.lines.Mark(field, fmt.Sprintf(format, args...))
	p.errs = append(p.errs, &FieldError{File: p.file, Field: field, Problem: msg})
}

// err returns nil, the one *FieldError, or all of them joined.
func (p *problems) err() error {
	return strictyaml.Join(p.errs)
}

// truncate shortens a user's value for a message, so a megabyte of garbage
// does not become a megabyte of error.
func truncate(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// quote is %q of a user's value, shortened.
func quote(s string) string {
	return fmt.Sprintf("%q", truncate(s))
}
