// Package jobspec reads a migration job: one YAML file that names the source
// and target volumes, which files to take, and how to move them. Parsing is
// strict (an unknown key is an error, with a suggestion), defaults fill the
// keys the file leaves out, and Validate checks everything that can be checked
// without the cluster: names, paths that stay inside their volume, glob
// patterns, the chunk size. Whether the volumes and agents exist is for the
// leader to check at submit.
//
// The same Spec travels as JSON from leptonctl to the API and into Raft;
// ParseJSON is the strict entry point for the API, and Validate runs on any
// Spec however it was decoded.
package jobspec

import (
	"encoding/json"
	"fmt"
)

// Chunk size bounds. A chunk is the unit of hashing, compression, transfer
// and retry: too small and per-chunk overhead dominates, too large and memory
// in flight per stream grows.
const (
	DefaultChunkSize = 4 << 20
	MinChunkSize     = 64 << 10
	MaxChunkSize     = 64 << 20
	// ChunkAlign is what every chunk size must be a multiple of, so chunks
	// start on file-system block boundaries.
	ChunkAlign = 4 << 10
)

// Modes: copy moves the tree once; sync (a later issue) keeps the target in
// step until cutover.
const (
	ModeCopy = "copy"
	ModeSync = "sync"
)

// Compression settings. Auto compresses chunks with zstd and sends them raw
// when that does not pay; zstd always compresses; none never does.
const (
	CompressionAuto = "auto"
	CompressionZstd = "zstd"
	CompressionNone = "none"
)

// Compression levels, named as klauspost/compress/zstd names its encoder
// levels (SpeedFastest, SpeedDefault, SpeedBetterCompression).
const (
	LevelFastest = "fastest"
	LevelDefault = "default"
	LevelBetter  = "better"
)

// Endpoint is one end of a job: a volume, the agent holding it when the
// name alone is ambiguous, and a directory inside it.
type Endpoint struct {
	// Volume is a volume name from the agents' configs (volumes[].name).
	Volume string `yaml:"volume" json:"volume"`
	// Agent names the one agent to use. Leave it empty for a shared volume,
	// or for a local volume only one agent of that side declares.
	Agent string `yaml:"agent" json:"agent,omitempty"`
	// Path is a directory relative to the volume root; empty for the root.
	Path string `yaml:"path" json:"path,omitempty"`
}

// Spec is a migration job as the operator wrote it, with defaults applied.
// Its yaml keys are the job file's; its json keys, the same names, are what
// leptonctl sends to the API and what Raft stores.
type Spec struct {
	// Name identifies the job for operators (job list, reports).
	Name string `yaml:"name" json:"name"`
	// Source is where the files come from.
	Source Endpoint `yaml:"source" json:"source"`
	// Target is where they go.
	Target Endpoint `yaml:"target" json:"target"`
	// Include lists glob patterns of files to take; empty takes every file.
	// See Matcher for the rules.
	Include []string `yaml:"include" json:"include,omitempty"`
	// Exclude lists glob patterns of files and directories to leave out.
	Exclude []string `yaml:"exclude" json:"exclude,omitempty"`
	// Mode is ModeCopy (default) or, later, ModeSync.
	Mode string `yaml:"mode" json:"mode"`
	// Compression is CompressionAuto (default), CompressionZstd or CompressionNone.
	Compression string `yaml:"compression" json:"compression"`
	// CompressionLevel is LevelFastest (default), LevelDefault or LevelBetter.
	CompressionLevel string `yaml:"compression_level" json:"compression_level"`
	// Verify re-reads the target and compares chunk hashes before the job
	// is done (default true).
	Verify bool `yaml:"verify" json:"verify"`
	// ChunkSize is the size of the chunks files are cut into (default 4MiB).
	ChunkSize ByteSize `yaml:"chunk_size" json:"chunk_size"`
}

// Defaults returns a Spec holding the default of every key that has one;
// a caller building a Spec in code fills in Name, Source and Target.
func Defaults() Spec {
	return Spec{
		Mode:             ModeCopy,
		Compression:      CompressionAuto,
		CompressionLevel: LevelFastest,
		Verify:           true,
		ChunkSize:        DefaultChunkSize,
	}
}

// normalize writes equal jobs alike: an empty list as nil, the volume root
// "." as "".
func (s *Spec) normalize() {
	if len(s.Include) == 0 {
		s.Include = nil
	}
	if len(s.Exclude) == 0 {
		s.Exclude = nil
	}
	for _, e := range []*Endpoint{&s.Source, &s.Target} {
		if e.Path == "." {
			e.Path = ""
		}
	}
}

// UnmarshalJSON decodes a Spec leniently (unknown keys are ignored, so a
// newer writer does not break an older reader) and gives every key the
// JSON leaves out its default, so a missing "verify" means true as in a
// file. The API's submit handler uses ParseJSON instead, which is strict.
func (s *Spec) UnmarshalJSON(data []byte) error {
	type plain Spec // without this method
	p := plain(Defaults())
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("decode job spec: %w", err)
	}
	*s = Spec(p)
	return nil
}
