package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/leptonmesh/lepton/internal/api"
)

// printJSON writes v indented, with a trailing newline, as --json promises.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table writes aligned columns separated by two spaces.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

// row adds one line; an empty cell shows as "-" so columns stay countable.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			cells[i] = "-"
		}
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// sortedMembers returns a copy of ms sorted by name.
func sortedMembers(ms []api.Member) []api.Member {
	out := slices.Clone(ms)
	slices.SortStableFunc(out, func(a, b api.Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// raftCell is a member's Raft role, with "*" marking the leader.
func raftCell(m api.Member) string {
	if m.Leader {
		return m.Raft + "*"
	}
	return m.Raft
}

// labelsCell renders labels as k=v pairs sorted by key.
func labelsCell(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + labels[k]
	}
	return strings.Join(pairs, ",")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
