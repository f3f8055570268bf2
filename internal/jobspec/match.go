package jobspec

import (
	"path"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Matcher decides which entries of the source tree a job takes, from its
// include and exclude patterns. The scanner calls Match for every entry,
// with its path relative to source.path, slash-separated and clean
// ("logs/2024/a.txt"); the root itself is "" or ".".
//
// The rules, as rsync's and rclone's filters would lead one to expect:
//
//   - Patterns are doublestar globs: * and ? stay within one path element,
//     ** spans any number of them ("**/*.parquet" finds a.parquet and
//     x/y/a.parquet), [a-z] and {a,b} work as in a shell. Matching is
//     case-sensitive.
//   - A pattern matches the whole relative path ("logs/*.txt" matches
//     logs/a.txt but not old/logs/a.txt). A pattern without "/" also
//     matches the base name at any depth, like "*.log" in rsync and rclone:
//     "*.log" matches a.log and x/y/a.log, ".git" matches x/.git.
//   - A pattern ending in "/" matches only directories ("cache/" prunes
//     every directory named cache, not a file of that name).
//   - Exclude wins over include. A directory an exclude pattern matches is
//     pruned: Match returns false, the scanner does not descend, and
//     nothing beneath it is taken. "tmp/**" prunes tmp itself as well as
//     what it holds, so "tmp" and "tmp/**" both exclude the tree. Match
//     gives the same answer for a path beneath an excluded directory, so
//     it is right even for a caller that does not prune.
//   - With no include patterns every file is taken. With include patterns
//     a file is taken only when one of them matches it. Include patterns
//     say nothing about directories: a directory is always traversed
//     unless excluded, so nested files are found, and it is created on the
//     target when a file beneath it is taken.
//   - An empty directory is copied only when there are no include
//     patterns (KeepsEmptyDirs).
//   - Symlinks, sockets and the like are matched as files.
//
// A Matcher is built from a validated Spec and is safe for concurrent use.
type Matcher struct {
	include []pattern
	exclude []pattern
}

// pattern is one compiled include or exclude pattern.
type pattern struct {
	glob    string // the pattern without a trailing "/"
	dirOnly bool   // it ended in "/": it matches directories only
	base    bool   // it holds no "/": it matches base names too
	tree    string // for "x/**", "x": the directory whose tree it names
}

// Matcher compiles the job's include and exclude patterns.
func (s *Spec) Matcher() *Matcher {
	return &Matcher{include: compile(s.Include), exclude: compile(s.Exclude)}
}

func compile(patterns []string) []pattern {
	out := make([]pattern, 0, len(patterns))
	for _, pat := range patterns {
		glob := strings.TrimSuffix(pat, "/")
		c := pattern{glob: glob, dirOnly: glob != pat, base: !strings.Contains(glob, "/")}
		if tree, ok := strings.CutSuffix(glob, "/**"); ok {
			c.tree = tree
		}
		out = append(out, c)
	}
	return out
}

// Match reports whether the job takes the entry at rel: for a file,
// whether it is copied; for a directory, whether the scanner descends into
// it. A nil Matcher takes everything.
func (m *Matcher) Match(rel string, isDir bool) bool {
	if m == nil || rel == "" || rel == "." {
		return true // the root is always traversed
	}
	if len(m.exclude) > 0 {
		for i := range len(rel) {
			if rel[i] == '/' && m.excluded(rel[:i], true) {
				return false // beneath a pruned directory
			}
		}
		if m.excluded(rel, isDir) {
			return false
		}
	}
	if isDir || len(m.include) == 0 {
		return true
	}
	for _, p := range m.include {
		if p.match(rel, false) {
			return true
		}
	}
	return false
}

// KeepsEmptyDirs reports whether an empty directory (or one whose entries
// are all left out) is created on the target: only when the job has no
// include patterns, since with them the job asked for files.
func (m *Matcher) KeepsEmptyDirs() bool {
	return m == nil || len(m.include) == 0
}

func (m *Matcher) excluded(rel string, isDir bool) bool {
	for _, p := range m.exclude {
		if p.match(rel, isDir) {
			return true
		}
	}
	return false
}

// match reports whether the pattern matches the entry at rel.
func (p pattern) match(rel string, isDir bool) bool {
	if p.dirOnly && !isDir {
		return false
	}
	if doublestar.MatchUnvalidated(p.glob, rel) {
		return true
	}
	if p.base && strings.Contains(rel, "/") && doublestar.MatchUnvalidated(p.glob, path.Base(rel)) {
		return true
	}
	return isDir && p.tree != "" && doublestar.MatchUnvalidated(p.tree, rel)
}
