package jobspec

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Bounds on what a job may hold; the job travels through Raft and every
// pattern is tried against every file.
const (
	maxPatterns   = 1000
	maxPatternLen = 1024
	maxBranches   = 64   // doublestar tries { } alternatives by backtracking: cost grows with their product
	maxPathLen    = 4096 // PATH_MAX
	nameSyntax    = `letters, digits, "_", "." and "-", starting with a letter or digit, at most 63 characters`
)

// nameRE is the syntax of job, volume and agent names: the agent config's
// node and volume names follow it too.
var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)

// Validate checks everything about the job that does not need the cluster:
// whether the volumes and agents exist is the leader's to check. It runs on
// a Spec however it was decoded, so the API checks a JSON job with it. The
// error is a *FieldError naming the key, or several joined in field order.
func (s *Spec) Validate() error {
	p := &problems{}
	s.validate(p)
	return p.err()
}

// validate records the job's problems in p in field order.
func (s *Spec) validate(p *problems) {
	switch {
	case s.Name == "":
		p.add("name", "required: a name for the job, such as orders-to-tencent")
	case !nameRE.MatchString(s.Name):
		p.add("name", "%s is not a valid job name: use %s", quote(s.Name), nameSyntax)
	}
	s.Source.validate(p, "source", "copy from")
	s.Target.validate(p, "target", "copy into")
	if s.Source.Agent != "" && s.Source.Agent == s.Target.Agent && s.Source.Volume == s.Target.Volume &&
		validPath(s.Source.Path) && validPath(s.Target.Path) && PathsOverlap(s.Source.Path, s.Target.Path) {
		p.add("target", "is the same place as source (agent %s, volume %s, paths %s and %s overlap): a job cannot copy a tree into itself",
			truncate(s.Target.Agent), truncate(s.Target.Volume), quote(s.Source.Path), quote(s.Target.Path))
	}
	checkPatterns(p, "include", s.Include)
	checkPatterns(p, "exclude", s.Exclude)
	switch s.Mode {
	case ModeCopy:
	case ModeSync:
		p.add("mode", "sync (continuous sync until cutover) is not available yet; use mode: copy")
	default:
		p.add("mode", "is %s; want copy (sync, continuous until cutover, comes later)", quote(s.Mode))
	}
	switch s.Compression {
	case CompressionAuto, CompressionZstd, CompressionNone:
	default:
		p.add("compression", "is %s; want auto (zstd where it pays), zstd (always) or none", quote(s.Compression))
	}
	switch s.CompressionLevel {
	case LevelFastest, LevelDefault, LevelBetter:
	default:
		p.add("compression_level", "is %s; want fastest, default or better", quote(s.CompressionLevel))
	}
	switch c := s.ChunkSize; {
	case c < MinChunkSize:
		p.add("chunk_size", "%s is too small: use at least %s (default %s)", c.describe(), ByteSize(MinChunkSize), ByteSize(DefaultChunkSize))
	case c > MaxChunkSize:
		p.add("chunk_size", "%s is too large: use at most %s (default %s)", c.describe(), ByteSize(MaxChunkSize), ByteSize(DefaultChunkSize))
	case c%ChunkAlign != 0:
		p.add("chunk_size", "%d bytes is not a multiple of %s: use %s (KB and MB are powers of 1000; KiB and MiB, powers of 1024)",
			int64(c), ByteSize(ChunkAlign), alignedChunk(c))
	}
}

// alignedChunk is the valid chunk size the writer of c probably meant: the
// binary reading of a decimal size ("4MB" → 4MiB), on a ChunkAlign boundary.
func alignedChunk(c ByteSize) ByteSize {
	switch {
	case c%1e6 == 0:
		c = c / 1e6 << 20
	case c%1e3 == 0:
		c = c / 1e3 << 10
	}
	c = (c + ChunkAlign/2) / ChunkAlign * ChunkAlign
	return min(max(c, MinChunkSize), MaxChunkSize)
}

// validate records the problems of endpoint e, called side in messages.
func (e *Endpoint) validate(p *problems, side, verb string) {
	switch {
	case e.Volume == "":
		p.add(side+".volume", "required: the volume to %s, as named under volumes: in the %s agents' config", verb, side)
	case !nameRE.MatchString(e.Volume):
		p.add(side+".volume", "%s is not a valid volume name: use %s", quote(e.Volume), nameSyntax)
	}
	if e.Agent != "" && !nameRE.MatchString(e.Agent) {
		p.add(side+".agent", "%s is not a valid agent name: use the node_name of a %s agent, or leave agent out", quote(e.Agent), side)
	}
	if problem := pathProblem(e.Path); problem != "" {
		p.add(side+".path", "%s", problem)
	}
}

// validPath reports whether a job path has no problem.
func validPath(p string) bool { return pathProblem(p) == "" }

// pathProblem says what is wrong with an endpoint path, or "". The empty
// path and "." both mean the volume root.
func pathProblem(p string) string {
	switch {
	case p == "" || p == ".":
		return ""
	case len(p) > maxPathLen:
		return fmt.Sprintf("is %d bytes long; at most %d", len(p), maxPathLen)
	case strings.IndexByte(p, 0) >= 0:
		return fmt.Sprintf("%s holds a NUL byte", quote(p))
	case strings.HasPrefix(p, "/"):
		return fmt.Sprintf("%s: path must stay inside the volume: remove the leading /", quote(p))
	case hasElem(p, ".."):
		return fmt.Sprintf("%s has a \"..\" element: path must stay inside the volume", quote(p))
	case path.Clean(p) != p:
		return fmt.Sprintf("%s is not in clean form: write %s", quote(p), quote(path.Clean(p)))
	}
	return ""
}

// PathsOverlap reports whether one of two clean relative paths lies inside the
// other ("" and "." are the root, which holds everything).
func PathsOverlap(a, b string) bool {
	if a == "." {
		a = ""
	}
	if b == "." {
		b = ""
	}
	return a == "" || b == "" || a == b || strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/")
}

// hasElem reports whether slash-separated p has an element equal to elem.
func hasElem(p, elem string) bool {
	for e := range strings.SplitSeq(p, "/") {
		if e == elem {
			return true
		}
	}
	return false
}

// checkPatterns records the problems of the include or exclude list.
func checkPatterns(p *problems, list string, patterns []string) {
	if len(patterns) > maxPatterns {
		p.add(list, "has %d patterns; at most %d", len(patterns), maxPatterns)
		return
	}
	for i, pat := range patterns {
		if problem := patternProblem(pat, list == "include"); problem != "" {
			p.add(fmt.Sprintf("%s[%d]", list, i), "%s", problem)
		}
	}
}

// patternProblem says what is wrong with a glob pattern, or "".
func patternProblem(pat string, include bool) string {
	body := strings.TrimSuffix(pat, "/")
	switch {
	case pat == "":
		return "is empty; remove it, or write a pattern such as \"**/*.parquet\""
	case len(pat) > maxPatternLen:
		return fmt.Sprintf("is %d bytes long; at most %d", len(pat), maxPatternLen)
	case strings.IndexByte(pat, 0) >= 0:
		return fmt.Sprintf("%s holds a NUL byte", quote(pat))
	case strings.HasPrefix(pat, "/"):
		return fmt.Sprintf("%s is absolute; patterns match paths relative to source.path: remove the leading /", quote(pat))
	case !doublestar.ValidatePattern(pat):
		return fmt.Sprintf("%s is not a valid glob pattern: check that [ ] and { } are closed and that no \\ ends it", quote(pat))
	case branches(pat) > maxBranches:
		return fmt.Sprintf("%s has more than %d combinations of { } alternatives, and each is tried against every file: simplify it or split it into several patterns", quote(pat), maxBranches)
	case hasElem(body, ".."):
		return fmt.Sprintf("%s has a \"..\" element; patterns cannot reach outside source.path", quote(pat))
	case body == "" || hasElem(body, "."):
		return fmt.Sprintf("%s has a \".\" element, which never matches: patterns match clean paths such as \"logs/*.txt\"", quote(pat))
	case hasElem(body, ""):
		return fmt.Sprintf("%s has an empty element (//), which never matches: write %s", quote(pat), quote(path.Clean(pat)))
	case include && body != pat:
		return fmt.Sprintf("%s ends with /, which matches only directories, and include patterns select files: write %s to take everything beneath it", quote(pat), quote(pat+"**"))
	}
	return ""
}

// branches counts the ways through a pattern's { } alternatives: the
// product over its groups of the sum over each group's alternatives, so
// "*.{csv,json}" has 2 and "{a,b}/{c,d}" 4. The count stops growing past
// maxBranches. pat must be a valid pattern.
func branches(pat string) int {
	n, _ := branchSeq(pat, 0, false)
	return n
}

// branchSeq counts the branches of the sequence starting at pat[i], up to
// the "," or "}" that ends it when it is inside a group, and returns the
// index it stopped at.
func branchSeq(pat string, i int, inGroup bool) (int, int) {
	n := 1
	for i < len(pat) {
		switch pat[i] {
		case '\\':
			i += 2
		case '[':
			// a class: braces inside it are plain characters
			i++
			if i < len(pat) && (pat[i] == '^' || pat[i] == '!') {
				i++
			}
			if i < len(pat) && pat[i] == ']' {
				i++
			}
			for i < len(pat) && pat[i] != ']' {
				if pat[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case '{':
			sum := 0
			for {
				var k int
				k, i = branchSeq(pat, i+1, true)
				sum = min(sum+k, maxBranches+1)
				if i >= len(pat) || pat[i] == '}' {
					break
				}
			}
			i++
			n = min(n*sum, maxBranches+1)
		case ',', '}':
			if inGroup {
				return n, i
			}
			i++
		default:
			i++
		}
	}
	return n, i
}
