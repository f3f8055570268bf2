package config

import (
	"fmt"

	"github.com/leptonmesh/lepton/internal/strictyaml"
)

// Error is a problem with the configuration file. Key is the dotted path of
// the offending key (tls.cert_file, volumes[1].name, join[0], ports.api), or
// "" when the problem concerns the whole file (bad YAML, an unknown key).
type Error struct {
	File    string
	Key     string
	Problem string

	err error // the cause, when there is one, for errors.Is and errors.As
}

// Error reads "config FILE: KEY: PROBLEM", or "config FILE: PROBLEM" when
// Key is empty.
func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("config %s: %s", e.File, e.Problem)
	}
	return fmt.Sprintf("config %s: %s: %s", e.File, e.Key, e.Problem)
}

// Unwrap returns the cause, such as a *pki.FileError, or nil.
func (e *Error) Unwrap() error { return e.err }

// problems collects the errors of one load in a fixed order: file order for
// decoding, key order for validation.
type problems struct {
	file  string
	lines strictyaml.Lines // key path -> line of its value in the file
	errs  []error
}

// add records a problem with key; the value's line, when the file set it,
// starts the message.
func (p *problems) add(key, format string, args ...any) {
	p.addErr(key, nil, format, args...)
}

// addErr is add with a cause.
func (p *problems) addErr(key string, cause error, format string, args ...any) {
	msg := p.lines.Mark(key, fmt.Sprintf(format, args...))
	p.errs = append(p.errs, &Error{File: p.file, Key: key, Problem: msg, err: cause})
}

// err returns nil, the one *Error, or all of them joined.
func (p *problems) err() error {
	return strictyaml.Join(p.errs)
}
