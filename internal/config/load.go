package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/leptonmesh/lepton/internal/strictyaml"
	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds the configuration file; a real one is a few KiB.
const MaxFileSize = 1 << 20

// Load reads the configuration file at path and returns it completed and
// checked. Every error is an *Error, or several joined with errors.Join in a
// fixed order (file order while decoding, key order while validating).
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Problem: fmt.Sprintf("cannot read: %v; pass the agent config with --config (see configs/leptond.yaml)", cause(err)), err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &Error{File: path, Problem: fmt.Sprintf("cannot read: %v", cause(err)), err: err}
	}
	if len(data) > MaxFileSize {
		return nil, &Error{File: path, Problem: fmt.Sprintf("larger than %d bytes; is this the agent config?", MaxFileSize)}
	}
	return Parse(path, data)
}

// Parse is Load from bytes already read. path names the file in messages,
// and relative paths inside it resolve against path's directory.
func Parse(path string, data []byte) (*Config, error) {
	p := &problems{file: path, lines: strictyaml.Lines{}}

	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(path, err)
	}
	if len(doc.Content) == 0 || strictyaml.IsNull(doc.Content[0]) {
		return nil, &Error{File: path, Problem: "is empty; it needs at least side, encrypt and tls (see configs/leptond.yaml)"}
	}
	checkSchema(p, doc.Content[0])
	if err := p.err(); err != nil {
		return nil, err
	}

	c := defaults()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, yamlError(path, err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return nil, &Error{File: path, Problem: fmt.Sprintf("line %d: a second YAML document (after ---); an agent config is one document", next.Line)}
	}

	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, &Error{File: path, Problem: fmt.Sprintf("cannot resolve its directory: %v", err), err: err}
	}
	c.File = path
	c.complete(p, dir)
	if err := p.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// yamlError turns a YAML syntax or type error into an *Error that keeps
// YAML's line number.
func yamlError(path string, err error) *Error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return &Error{File: path, Problem: strings.Join(te.Errors, "; "), err: err}
	}
	return &Error{File: path, Problem: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), err: err}
}

// cause strips the path from an *os.PathError, since the message names the
// file already.
func cause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
