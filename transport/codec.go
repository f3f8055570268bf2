package transport

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"
)

// MaxChunkSize bounds the raw (uncompressed) bytes of one chunk: the largest
// chunk_size a job may ask for, and the most a Codec will ever decode.
const MaxChunkSize = 64 << 20

// Compression says how a chunk's payload is encoded on the wire.
type Compression uint8

// Wire values of Compression; they never change meaning.
const (
	CompressNone Compression = 0 // the payload is the raw bytes
	CompressZstd Compression = 1 // the payload is zstd: one frame, or a pack's several (EncodeParts)
	// CompressProbe carries no payload: the sender asks whether the
	// receiver already holds the chunk's bytes (Hash is the xxhash64 of
	// them). A receiver that does acks OK; one that does not asks for the
	// data with Retry. It spares a resend after a lost report.
	CompressProbe Compression = 2
	// CompressSplit is a pack whose compressible parts are compressed
	// together and whose random ones travel raw (Codec.EncodeParts); only
	// ChunkHeader.Unpack, which knows the parts, decodes it.
	CompressSplit Compression = 3
)

// String names the compression for logs and metrics: "none", "zstd" or
// "compression(N)".
func (c Compression) String() string {
	switch c {
	case CompressNone:
		return "none"
	case CompressZstd:
		return "zstd"
	case CompressProbe:
		return "probe"
	case CompressSplit:
		return "split"
	}
	return fmt.Sprintf("compression(%d)", uint8(c))
}

// Policy is a job's `compression` setting: when the sender compresses.
type Policy uint8

// Policies. The zero value is PolicyAuto.
const (
	PolicyAuto Policy = iota // compress what pays; send the rest raw
	PolicyZstd               // always compress
	PolicyNone               // never compress
)

// ParsePolicy reads a job's `compression` value: "auto" (or ""), "zstd" or
// "none".
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "", "auto":
		return PolicyAuto, nil
	case "zstd":
		return PolicyZstd, nil
	case "none":
		return PolicyNone, nil
	}
	return 0, fmt.Errorf("compression %q: want auto, zstd or none", s)
}

// String is the job-file spelling of the policy.
func (p Policy) String() string {
	switch p {
	case PolicyAuto:
		return "auto"
	case PolicyZstd:
		return "zstd"
	case PolicyNone:
		return "none"
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

// Level is a job's `compression_level`: zstd speed against ratio.
type Level uint8

// Levels, mapped to klauspost's zstd.SpeedFastest, SpeedDefault and
// SpeedBetterCompression. The zero value is LevelFastest.
const (
	LevelFastest Level = iota // ≈ zstd -1; the fastest, for fast links
	LevelDefault              // ≈ zstd -3
	LevelBetter               // ≈ zstd -7; for slow links with CPU to spare
	levelCount
)

// ParseLevel reads a job's `compression_level` value: "fastest" (or ""),
// "default" or "better".
func ParseLevel(s string) (Level, error) {
	switch s {
	case "", "fastest":
		return LevelFastest, nil
	case "default":
		return LevelDefault, nil
	case "better":
		return LevelBetter, nil
	}
	return 0, fmt.Errorf("compression_level %q: want fastest, default or better", s)
}

// String is the job-file spelling of the level.
func (l Level) String() string {
	switch l {
	case LevelFastest:
		return "fastest"
	case LevelDefault:
		return "default"
	case LevelBetter:
		return "better"
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

func (l Level) zstd() zstd.EncoderLevel {
	switch l {
	case LevelDefault:
		return zstd.SpeedDefault
	case LevelBetter:
		return zstd.SpeedBetterCompression
	}
	return zstd.SpeedFastest
}

// ErrBadPayload means a chunk payload did not decode to exactly its
// announced raw length: corrupt, truncated, an unknown compression, or a
// decompression bomb. The chunk is refused; the sender may retry it.
var ErrBadPayload = errors.New("chunk payload does not decode to its raw length")

// Tuning of PolicyAuto and the encoders; DESIGN.md has the measurements.
const (
	// Chunks at least this large are probed before being compressed whole.
	probeMin = 256 << 10
	// The probe compresses probeSamples slices of probeSample bytes spread
	// evenly over the chunk (so a pack whose first file is a JPEG and the rest
	// text is still seen as text) with the fastest encoder.
	probeSamples = 4
	probeSample  = 16 << 10
	// The probe must save at least 1/probeSaving (≈5%) for a full compression.
	probeSaving = 20
	// The compressed chunk must save at least 1/keepSaving (≈3%) to be sent.
	keepSaving = 32
	// zstd window: log-like text compresses no better with 8 MiB, and the
	// window sizes each encoder's history buffer (2× the window).
	encoderWindow = 2 << 20
	// decodeSlack is spare capacity for the decoder's 16-byte copies, so the
	// last block of a chunk decodes on the fast path.
	decodeSlack = 16
)

// Codec compresses and decompresses chunk payloads. It is safe for
// concurrent use; an agent needs one. Encoders (one per Level) and the
// decoder are created on first use and reused: each serves up to GOMAXPROCS
// concurrent calls, further callers wait for a free one.
type Codec struct {
	enc     [levelCount]lazyEncoder
	decOnce sync.Once
	dec     *zstd.Decoder
	decErr  error
	gather  sync.Pool // *[]byte of gatherSize: EncodeParts' compressible parts
}

type lazyEncoder struct {
	once sync.Once
	enc  *zstd.Encoder
}

// NewCodec returns a Codec. It allocates nothing until first used.
func NewCodec() *Codec { return &Codec{} }

// Hash is the xxhash64 of b: the checksum a chunk carries of its raw bytes.
func Hash(b []byte) uint64 { return xxhash.Sum64(b) }

func (c *Codec) encoder(l Level) *zstd.Encoder {
	if l >= levelCount {
		l = LevelDefault
	}
	e := &c.enc[l]
	e.once.Do(func() {
		enc, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(l.zstd()),
			zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
			zstd.WithEncoderCRC(false), // the chunk's xxhash64 covers the raw bytes
			zstd.WithWindowSize(encoderWindow),
			// Entropy-code literals even where no matches are found: hex,
			// base64 or DNA then shrink by a quarter or more at every level
			// (SpeedFastest would send them raw), and the probe keeps random
			// data away from the encoders anyway.
			zstd.WithAllLitEntropyCompression(true),
		)
		if err != nil {
			// The options are constants; only a programming error gets here.
			panic(fmt.Sprintf("transport: zstd encoder options rejected: %v", err))
		}
		e.enc = enc
	})
	return e.enc
}

func (c *Codec) decoder() (*zstd.Decoder, error) {
	c.decOnce.Do(func() {
		c.dec, c.decErr = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
			zstd.WithDecoderMaxMemory(MaxChunkSize),
			// DecodeAll stops at cap(dst): Decode passes a dst whose capacity
			// is the announced raw length (plus decodeSlack), so a bomb stops
			// there.
			zstd.WithDecodeAllCapLimit(true),
		)
	})
	return c.dec, c.decErr
}

// Encode prepares raw for the wire under policy p at level l and says how
// the result is encoded.
//
// When it compresses, Encode appends to dst[:0] (reuse dst across calls to
// avoid allocating) and returns that. When it does not, the payload is raw
// itself, not a copy: keep raw unchanged until the payload has been written.
//
//   - PolicyNone never compresses.
//   - PolicyZstd always compresses (even when the result is larger).
//   - PolicyAuto compresses when it pays: a chunk of 256 KiB or more is first
//     probed (four 16 KiB samples spread over it, compressed at the fastest
//     level, 2–4% of the cost of compressing a text chunk); if the
//     samples shrink by less than 5% the chunk goes raw. Otherwise, or for a
//     smaller chunk, it is compressed at l, and sent compressed only if that
//     saves at least 3%.
//
// Empty raw is always sent as CompressNone. An unknown level acts as
// LevelDefault and an unknown policy as PolicyAuto.
func (c *Codec) Encode(dst, raw []byte, p Policy, l Level) (payload []byte, comp Compression) {
	if len(raw) == 0 || p == PolicyNone {
		return raw, CompressNone
	}
	if p == PolicyZstd {
		return c.encoder(l).EncodeAll(raw, dst[:0]), CompressZstd
	}
	if len(raw) >= probeMin {
		var pays bool
		if pays, dst = c.probe(dst, raw); !pays {
			return raw, CompressNone
		}
	}
	out := c.encoder(l).EncodeAll(raw, dst[:0])
	if len(out) > len(raw)-len(raw)/keepSaving {
		return raw, CompressNone
	}
	return out, CompressZstd
}

// probe says whether samples of raw compress by at least 1/probeSaving.
// It uses dst's storage as scratch and returns it, perhaps grown.
func (c *Codec) probe(dst, raw []byte) (bool, []byte) {
	enc := c.encoder(LevelFastest)
	step := (len(raw) - probeSample) / (probeSamples - 1)
	packed := 0
	for i := range probeSamples {
		off := i * step
		dst = enc.EncodeAll(raw[off:off+probeSample], dst[:0])
		packed += len(dst)
	}
	const sampled = probeSamples * probeSample
	return packed <= sampled-sampled/probeSaving, dst
}

// Decode turns a payload back into the rawLen raw bytes it was made from.
//
// For CompressZstd it decodes into dst's storage when cap(dst) is at least
// rawLen+16, else into a new buffer, and never produces more than rawLen
// bytes: a payload that would (a zstd bomb) is refused as soon as it
// crosses the bound. For CompressNone it returns payload itself, not a copy.
// Any payload that is not exactly rawLen bytes once decoded, and any
// unknown compression, is ErrBadPayload. The caller checks Hash.
func (c *Codec) Decode(dst, payload []byte, comp Compression, rawLen int) ([]byte, error) {
	if rawLen < 0 || rawLen > MaxChunkSize {
		return nil, fmt.Errorf("decode chunk: raw length %d outside 0..%d: %w", rawLen, MaxChunkSize, ErrBadPayload)
	}
	switch comp {
	case CompressNone:
		if len(payload) != rawLen {
			return nil, fmt.Errorf("decode chunk: %d raw bytes, want %d: %w", len(payload), rawLen, ErrBadPayload)
		}
		return payload, nil
	case CompressZstd:
	case CompressSplit:
		return nil, fmt.Errorf("decode chunk: a split pack needs its parts (ChunkHeader.Unpack): %w", ErrBadPayload)
	default:
		return nil, fmt.Errorf("decode chunk: unknown %v: %w", comp, ErrBadPayload)
	}
	dec, err := c.decoder()
	if err != nil {
		return nil, fmt.Errorf("decode chunk: zstd decoder: %w", err)
	}
	// A first frame announcing more than the chunk is refused before any
	// work. (A pack may be several frames, see EncodeParts, and zstd leaves
	// the size out of frames under 256 bytes; the decoder's cap stops the
	// rest.)
	var fh zstd.Header
	if err := fh.Decode(payload); err != nil {
		return nil, fmt.Errorf("decode chunk: zstd frame header: %v: %w", err, ErrBadPayload)
	}
	if fh.Skippable || fh.HasFCS && fh.FrameContentSize > uint64(rawLen) {
		return nil, fmt.Errorf("decode chunk: zstd frame announces more than the chunk's %d raw bytes: %w", rawLen, ErrBadPayload)
	}
	n := rawLen + decodeSlack
	if cap(dst) < n {
		dst = make([]byte, 0, n)
	}
	out, err := dec.DecodeAll(payload, dst[:0:n])
	if err != nil {
		return nil, fmt.Errorf("decode chunk: zstd: %v: %w", err, ErrBadPayload)
	}
	if len(out) != rawLen {
		return nil, fmt.Errorf("decode chunk: %d raw bytes, want %d: %w", len(out), rawLen, ErrBadPayload)
	}
	return out, nil
}
