package jobspec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/leptonmesh/lepton/internal/strictyaml"
	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds a job file (and a job's JSON at the API); a real one
// is well under a KiB, and the job travels through Raft.
const MaxFileSize = 1 << 20

// Load reads the job file at file and returns it as Parse does.
func Load(file string) (*Spec, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, &FieldError{File: file, Problem: "cannot read: " + cause(err).Error(), err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &FieldError{File: file, Problem: "cannot read: " + cause(err).Error(), err: err}
	}
	return Parse(file, data)
}

// Parse reads a job from YAML, strictly: an unknown key is an error that
// suggests the key meant, a value of the wrong type names its key. Keys the
// file leaves out (or sets to null) take their defaults (mode copy,
// compression auto, compression_level fastest, verify true, chunk_size
// 4MiB), then the job is validated. file names the job in messages.
//
// Every error is a *FieldError, or several joined with errors.Join in a
// fixed order: file order while decoding, field order while validating.
// Problems with a key the file sets start with its line number.
func Parse(file string, data []byte) (*Spec, error) {
	if len(data) > MaxFileSize {
		return nil, &FieldError{File: file, Problem: fmt.Sprintf("larger than %d bytes; is this a job file?", MaxFileSize)}
	}
	p := &problems{file: file, lines: strictyaml.Lines{}}

	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(file, err)
	}
	if len(doc.Content) == 0 || strictyaml.IsNull(doc.Content[0]) {
		return nil, &FieldError{File: file, Problem: "is empty; a job needs at least name, source.volume and target.volume"}
	}
	checkSchema(p, doc.Content[0])
	if err := p.err(); err != nil {
		return nil, err
	}

	s := Defaults()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, yamlError(file, err) // walk should have caught it; keep YAML's words
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return nil, &FieldError{File: file, Problem: fmt.Sprintf("line %d: a second YAML document (after ---); a job file holds one job", next.Line)}
	}
	s.normalize()
	s.validate(p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return &s, nil
}

// yamlError turns a YAML syntax or type error into a *FieldError that keeps
// YAML's line number.
func yamlError(file string, err error) *FieldError {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return &FieldError{File: file, Problem: strings.Join(te.Errors, "; "), err: err}
	}
	return &FieldError{File: file, Problem: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), err: err}
}

// cause strips the path from an *fs.PathError, since the message names the
// file already.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
