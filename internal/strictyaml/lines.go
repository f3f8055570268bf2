package strictyaml

import (
	"errors"
	"fmt"
	"strings"
)

// Lines maps the dotted path of each value a document sets to its line, so
// that problems found after decoding (by validation) can point into the
// file. A nil Lines, for a value that came from no file, knows no lines.
type Lines map[string]int

// Line returns the line of path's value, or of the nearest enclosing value
// the document sets (a missing "tls.key_file" points at "tls:"), or 0.
func (l Lines) Line(path string) int {
	for path != "" {
		if line, ok := l[path]; ok {
			return line
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

// Mark starts problem with the line Line finds for path ("line 9: …"), or
// returns it unchanged when there is none.
func (l Lines) Mark(path, problem string) string {
	if line := l.Line(path); line > 0 {
		return fmt.Sprintf("line %d: %s", line, problem)
	}
	return problem
}

// Join returns nil for no errors, the one error itself, so that a caller can
// type-assert it, or errors.Join of them all in their order.
func Join(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}
