package main

import (
	"strings"
	"testing"
)

// A child's output, however its writes split it, reaches the narration
// whole line by whole line, each indented; an unfinished last line comes
// out on Flush.
func TestIndenterIndentsEveryLineAsItCompletes(t *testing.T) {
	var out strings.Builder
	in := newIndenter(&out, "    ")
	for _, chunk := range []string{"14:00:01 runn", "ing: 10%\n14:00:02 running: 20%\nDone: 3 fi", "les"} {
		if _, err := in.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := out.String(), "    14:00:01 running: 10%\n    14:00:02 running: 20%\n"; got != want {
		t.Fatalf("before Flush:\n%q\nwant\n%q", got, want)
	}
	in.Flush()
	if got := out.String(); !strings.HasSuffix(got, "    Done: 3 files\n") {
		t.Fatalf("after Flush: %q", got)
	}
}

func TestPlural(t *testing.T) {
	for _, tc := range []struct {
		n          int
		noun, want string
	}{{1, "file", "1 file"}, {2, "file", "2 files"}, {0, "FIFO", "0 FIFOs"}, {516, "directory", "516 directories"}} {
		if got := plural(tc.n, tc.noun); got != tc.want {
			t.Errorf("plural(%d, %q) = %q, want %q", tc.n, tc.noun, got, tc.want)
		}
	}
}
