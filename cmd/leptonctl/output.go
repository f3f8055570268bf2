package main

import (
	"encoding/json"
	"io"
	"slices"
	"strings"

	"github.com/mattn/go-runewidth"

	"github.com/leptonmesh/lepton/internal/api"
)

// printJSON writes v indented, with a trailing newline, as --json promises.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table writes aligned columns separated by two spaces. Widths are display
// widths (go-runewidth), so names in CJK scripts, which take two columns
// each, stay aligned where text/tabwriter, counting runes, would not.
type table struct {
	w    io.Writer
	rows [][]string
}

// cellPadding is the space between columns.
const cellPadding = 2

func newTable(w io.Writer, header ...string) *table {
	t := &table{w: w}
	t.row(header...)
	return t
}

// newFields is a table of "Key:  value" lines, without a header.
func newFields(w io.Writer) *table {
	return &table{w: w}
}

// row adds one line; an empty cell shows as "-" so columns stay countable.
func (t *table) row(cells ...string) {
	line := make([]string, len(cells))
	for i, c := range cells {
		if c == "" {
			c = "-"
		}
		line[i] = c
	}
	t.rows = append(t.rows, line)
}

// flush writes the rows, each cell but a line's last padded to its
// column's widest cell.
func (t *table) flush() error {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r[:max(len(r)-1, 0)] {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], runewidth.StringWidth(c))
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-runewidth.StringWidth(c)+cellPadding))
			}
		}
		b.WriteByte('\n')
	}
	t.rows = nil
	_, err := io.WriteString(t.w, b.String())
	return err
}

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
