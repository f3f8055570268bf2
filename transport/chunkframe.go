package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Bounds of the chunk frame format. A reader refuses anything larger before
// allocating for it; a writer refuses to send what a reader would refuse.
const (
	MaxChunkHeader   = 1 << 20 // bytes of one encoded ChunkHeader
	MaxChunkFiles    = 65536   // FileParts in one chunk (a pack of small files)
	MaxChunkSegments = 65536   // Segments in one chunk, over all its parts
	MaxJobIDLen      = 256     // bytes of ChunkHeader.Job
	MaxAckError      = 4096    // bytes of ChunkAck.Error; WriteAck cuts longer ones
)

// Frame types and the format version: the first two bytes of every frame.
const (
	frameChunk   byte = 1
	frameAck     byte = 2
	frameVersion byte = 1
	// framePrefix is type, version and a uint32 big-endian body length.
	framePrefix = 6
	maxAckBody  = MaxAckError + 64
)

// Sentinel errors of the chunk frame format, for errors.Is. Bounds are
// ErrFrameTooLarge.
var (
	// ErrBadFrame means a frame is malformed: an unknown type or version,
	// lengths that disagree, segments out of order, a bad varint. The stream
	// is out of step afterwards; reset it.
	ErrBadFrame = errors.New("malformed chunk frame")
	// ErrHashMismatch means a chunk's raw bytes do not have the xxhash64 its
	// header announced: it was damaged or changed on the way. Retry it.
	ErrHashMismatch = errors.New("chunk hash mismatch")
)

// Segment is a range of data inside a FilePart: Off is an offset in the
// file (not in the chunk), Len > 0. What lies between segments is a hole:
// not sent, and left as zeros by the receiver.
type Segment struct{ Off, Len int64 }

// FilePart says which bytes of which file a stretch of the chunk's raw data
// is: the logical range [Off, Off+Len) of file File. Segments nil means the
// whole range is data; otherwise only the segments are (in order, not
// overlapping, inside the range; an empty non-nil list is an all-hole part).
type FilePart struct {
	File     uint64 // the file's id within the job
	Off      int64
	Len      int64
	Segments []Segment
}

// DataLen is how many raw bytes of the chunk belong to this part: Len, or
// the sum of the segments' lengths.
func (p *FilePart) DataLen() int64 {
	if p.Segments == nil {
		return p.Len
	}
	var n int64
	for _, s := range p.Segments {
		n += s.Len
	}
	return n
}

// ChunkHeader describes one chunk on a data stream. The raw bytes are the
// data of Files in order (for each part, its segments in order).
type ChunkHeader struct {
	Job     string // job id
	Unit    uint64 // work-unit id within the job
	Attempt uint32
	Files   []FilePart // one part for a piece of a big file; several for a pack
	RawLen  uint32     // raw bytes = sum of the parts' DataLen
	Hash    uint64     // xxhash64 of the raw bytes
	Comp    Compression
	WireLen uint32 // payload bytes that follow the header on the wire
}

// ChunkAck is a receiver's answer to one chunk, sent once the chunk is
// durable (OK) or refused.
type ChunkAck struct {
	Unit    uint64
	Attempt uint32
	OK      bool   // written and durable
	Retry   bool   // not now: the receiver is not ready (its plan is behind); resend later, no attempt counted. Refused without Retry: a failed attempt
	Error   string // why it was refused
	NoSpace bool   // the receiver's volume is full
}

// MaxWireLen is the largest payload a chunk of rawLen raw bytes may have on
// the wire: zstd's worst case (incompressible data) plus a margin.
func MaxWireLen(rawLen int) int { return rawLen + rawLen>>8 + 1024 }

// Unpack decodes the chunk's payload with c (see Codec.Decode about dst)
// and checks the raw bytes against h.Hash: ErrBadPayload or ErrHashMismatch
// (both worth a retry).
func (h *ChunkHeader) Unpack(c *Codec, dst, payload []byte) ([]byte, error) {
	if len(payload) != int(h.WireLen) {
		return nil, fmt.Errorf("chunk %s/%d: payload is %d bytes, header says %d: %w", h.Job, h.Unit, len(payload), h.WireLen, ErrBadPayload)
	}
	var raw []byte
	var err error
	if h.Comp == CompressSplit {
		raw, err = c.decodeSplit(dst, payload, h.Files, int(h.RawLen))
	} else {
		raw, err = c.Decode(dst, payload, h.Comp, int(h.RawLen))
	}
	if err != nil {
		return nil, fmt.Errorf("chunk %s/%d: %w", h.Job, h.Unit, err)
	}
	if got := Hash(raw); got != h.Hash {
		return nil, fmt.Errorf("chunk %s/%d: xxhash64 %016x, header says %016x: %w", h.Job, h.Unit, got, h.Hash, ErrHashMismatch)
	}
	return raw, nil
}

// WriteChunk writes h and payload as one chunk frame. It sets h.WireLen to
// len(payload), checks h against the same bounds ReadChunk enforces (with
// MaxChunkSize as the raw limit) and writes nothing if they fail.
func WriteChunk(w io.Writer, h *ChunkHeader, payload []byte) error {
	if uint64(len(payload)) > math.MaxUint32 {
		return fmt.Errorf("write chunk: payload of %d bytes: %w", len(payload), ErrFrameTooLarge)
	}
	h.WireLen = uint32(len(payload))
	if err := h.check(MaxChunkSize); err != nil {
		return fmt.Errorf("write chunk: %w", err)
	}
	b := appendChunkFrame(make([]byte, 0, framePrefix+64+len(h.Job)+len(h.Files)*16), h)
	if len(b)-framePrefix > MaxChunkHeader {
		return fmt.Errorf("write chunk: header of %d bytes, limit %d: %w", len(b)-framePrefix, MaxChunkHeader, ErrFrameTooLarge)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write chunk header: %w", err)
	}
	if len(payload) > 0 {
		if _, err := w.Write(payload); err != nil {
			return fmt.Errorf("write chunk payload: %w", err)
		}
	}
	return nil
}

// appendChunkFrame appends h's frame prefix and encoded header to b,
// unchecked.
func appendChunkFrame(b []byte, h *ChunkHeader) []byte {
	start := len(b)
	b = append(b, make([]byte, framePrefix)...)
	b = binary.AppendUvarint(b, uint64(len(h.Job)))
	b = append(b, h.Job...)
	b = binary.AppendUvarint(b, h.Unit)
	b = binary.AppendUvarint(b, uint64(h.Attempt))
	b = append(b, byte(h.Comp))
	b = binary.AppendUvarint(b, uint64(h.RawLen))
	b = binary.AppendUvarint(b, uint64(h.WireLen))
	b = binary.BigEndian.AppendUint64(b, h.Hash)
	b = binary.AppendUvarint(b, uint64(len(h.Files)))
	for i := range h.Files {
		p := &h.Files[i]
		b = binary.AppendUvarint(b, p.File)
		b = binary.AppendUvarint(b, uint64(p.Off))
		b = binary.AppendUvarint(b, uint64(p.Len))
		if p.Segments == nil {
			b = binary.AppendUvarint(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(p.Segments))+1)
		end := p.Off
		for _, s := range p.Segments {
			b = binary.AppendUvarint(b, uint64(s.Off-end))
			b = binary.AppendUvarint(b, uint64(s.Len))
			end = s.Off + s.Len
		}
	}
	putPrefix(b[start:], frameChunk, len(b)-start-framePrefix)
	return b
}

// ReadChunk reads one chunk frame. The payload is read into buf's storage
// when it is large enough (reuse the returned payload as the next buf),
// else into a new buffer. maxRaw bounds RawLen (≤ 0 or above MaxChunkSize
// means MaxChunkSize); WireLen is bounded by MaxWireLen(RawLen), the header
// by MaxChunkHeader, parts and segments by MaxChunkFiles and
// MaxChunkSegments. Nothing is allocated before its size has been checked.
//
// A clean end of stream before a frame is io.EOF; a stream that ends inside
// a frame is a wrapped io.ErrUnexpectedEOF. Bounds are ErrFrameTooLarge,
// anything malformed ErrBadFrame.
func ReadChunk(r io.Reader, buf []byte, maxRaw int) (*ChunkHeader, []byte, error) {
	if maxRaw <= 0 || maxRaw > MaxChunkSize {
		maxRaw = MaxChunkSize
	}
	n, err := readPrefix(r, frameChunk, MaxChunkHeader)
	if err != nil {
		return nil, nil, err
	}
	return readChunkBody(r, n, func(n int) []byte { buf = grow(buf, n); return buf }, maxRaw)
}

// readChunkBody reads the rest of a chunk frame whose prefix announced a
// body of n bytes (at most MaxChunkHeader): header, then payload, each into
// alloc(size), which may return the same storage both times.
func readChunkBody(r io.Reader, n int, alloc func(int) []byte, maxRaw int) (*ChunkHeader, []byte, error) {
	buf := alloc(n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, nil, fmt.Errorf("read chunk header: %w", noEOF(err))
	}
	h, err := parseChunkHeader(buf)
	if err == nil {
		err = h.check(maxRaw)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read chunk: %w", err)
	}
	buf = alloc(int(h.WireLen))
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, nil, fmt.Errorf("read chunk %s/%d payload: %w", h.Job, h.Unit, noEOF(err))
	}
	return h, buf, nil
}

// WriteAck writes a as one ack frame. An Error longer than MaxAckError
// bytes is cut (at a character boundary).
func WriteAck(w io.Writer, a *ChunkAck) error {
	msg := a.Error
	if len(msg) > MaxAckError {
		msg = strings.ToValidUTF8(msg[:MaxAckError], "")
	}
	var flags byte
	if a.OK {
		flags |= ackOK
	}
	if a.Retry {
		flags |= ackRetry
	}
	if a.NoSpace {
		flags |= ackNoSpace
	}
	b := make([]byte, framePrefix, framePrefix+24+len(msg))
	b = binary.AppendUvarint(b, a.Unit)
	b = binary.AppendUvarint(b, uint64(a.Attempt))
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(msg)))
	b = append(b, msg...)
	putPrefix(b, frameAck, len(b)-framePrefix)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write chunk ack: %w", err)
	}
	return nil
}

// ReadAck reads one ack frame: io.EOF at a clean end of stream, a wrapped
// io.ErrUnexpectedEOF inside a frame, ErrBadFrame or ErrFrameTooLarge for a
// frame that breaks the format.
func ReadAck(r io.Reader) (*ChunkAck, error) {
	n, err := readPrefix(r, frameAck, maxAckBody)
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("read chunk ack: %w", noEOF(err))
	}
	d := fieldReader{b: b}
	a := &ChunkAck{Unit: d.uvarint("unit"), Attempt: d.uint32("attempt")}
	flags := d.byte("flags")
	a.OK, a.Retry, a.NoSpace = flags&ackOK != 0, flags&ackRetry != 0, flags&ackNoSpace != 0
	a.Error = d.string("error", MaxAckError)
	if d.err == nil && flags&^(ackOK|ackRetry|ackNoSpace) != 0 {
		d.err = fmt.Errorf("unknown ack flags %#x: %w", flags, ErrBadFrame)
	}
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("read chunk ack: %w", err)
	}
	return a, nil
}

const (
	ackOK byte = 1 << iota
	ackRetry
	ackNoSpace
)

// check validates h against the format's bounds with raw data limited to
// maxRaw bytes.
func (h *ChunkHeader) check(maxRaw int) error {
	switch {
	case h.Job == "":
		return fmt.Errorf("no job id: %w", ErrBadFrame)
	case len(h.Job) > MaxJobIDLen:
		return fmt.Errorf("job id of %d bytes, limit %d: %w", len(h.Job), MaxJobIDLen, ErrFrameTooLarge)
	case len(h.Files) == 0:
		return fmt.Errorf("chunk %s/%d names no file: %w", h.Job, h.Unit, ErrBadFrame)
	case len(h.Files) > MaxChunkFiles:
		return fmt.Errorf("chunk %s/%d has %d file parts, limit %d: %w", h.Job, h.Unit, len(h.Files), MaxChunkFiles, ErrFrameTooLarge)
	case int64(h.RawLen) > int64(maxRaw):
		return fmt.Errorf("chunk %s/%d has %d raw bytes, limit %d: %w", h.Job, h.Unit, h.RawLen, maxRaw, ErrFrameTooLarge)
	}
	switch h.Comp {
	case CompressNone:
		if h.WireLen != h.RawLen {
			return fmt.Errorf("chunk %s/%d: uncompressed, but %d bytes on the wire for %d raw: %w", h.Job, h.Unit, h.WireLen, h.RawLen, ErrBadFrame)
		}
	case CompressProbe:
		if h.WireLen != 0 {
			return fmt.Errorf("chunk %s/%d: a probe with %d payload bytes: %w", h.Job, h.Unit, h.WireLen, ErrBadFrame)
		}
	case CompressZstd, CompressSplit:
		if int64(h.WireLen) > int64(MaxWireLen(int(h.RawLen))) {
			return fmt.Errorf("chunk %s/%d: %d bytes on the wire for %d raw, limit %d: %w", h.Job, h.Unit, h.WireLen, h.RawLen, MaxWireLen(int(h.RawLen)), ErrFrameTooLarge)
		}
	default:
		return fmt.Errorf("chunk %s/%d: unknown %v: %w", h.Job, h.Unit, h.Comp, ErrBadFrame)
	}
	var data int64 // raw bytes so far; stays ≤ RawLen ≤ MaxChunkSize, so no overflow
	segs := 0
	for i := range h.Files {
		p := &h.Files[i]
		if p.Off < 0 || p.Len < 0 || p.Off > math.MaxInt64-p.Len {
			return fmt.Errorf("chunk %s/%d part %d: range %d+%d: %w", h.Job, h.Unit, i, p.Off, p.Len, ErrBadFrame)
		}
		if p.Segments == nil {
			if p.Len > int64(h.RawLen)-data {
				return fmt.Errorf("chunk %s/%d: parts hold more than %d raw bytes: %w", h.Job, h.Unit, h.RawLen, ErrBadFrame)
			}
			data += p.Len
			continue
		}
		segs += len(p.Segments)
		if segs > MaxChunkSegments {
			return fmt.Errorf("chunk %s/%d has more than %d segments: %w", h.Job, h.Unit, MaxChunkSegments, ErrFrameTooLarge)
		}
		end, limit := p.Off, p.Off+p.Len
		for j, s := range p.Segments {
			if s.Len <= 0 || s.Off < end || s.Off > limit-s.Len {
				return fmt.Errorf("chunk %s/%d part %d segment %d: %d+%d is empty, out of order or outside %d+%d: %w", h.Job, h.Unit, i, j, s.Off, s.Len, p.Off, p.Len, ErrBadFrame)
			}
			if s.Len > int64(h.RawLen)-data {
				return fmt.Errorf("chunk %s/%d: parts hold more than %d raw bytes: %w", h.Job, h.Unit, h.RawLen, ErrBadFrame)
			}
			data += s.Len
			end = s.Off + s.Len
		}
	}
	if data != int64(h.RawLen) {
		return fmt.Errorf("chunk %s/%d: parts hold %d raw bytes, header says %d: %w", h.Job, h.Unit, data, h.RawLen, ErrBadFrame)
	}
	return nil
}

// parseChunkHeader decodes an encoded header. Counts are checked against
// the bytes left before anything is allocated for them (a part takes at
// least 4 bytes, a segment 2), and against the format's bounds.
func parseChunkHeader(b []byte) (*ChunkHeader, error) {
	d := fieldReader{b: b}
	h := &ChunkHeader{}
	h.Job = d.string("job", MaxJobIDLen)
	h.Unit = d.uvarint("unit")
	h.Attempt = d.uint32("attempt")
	h.Comp = Compression(d.byte("compression"))
	h.RawLen = d.uint32("raw length")
	h.WireLen = d.uint32("wire length")
	h.Hash = d.uint64BE("hash")
	n := d.count("file parts", d.uvarint("file parts"), MaxChunkFiles, 4)
	if d.err != nil {
		return nil, d.err
	}
	h.Files = make([]FilePart, n)
	segs := 0
	for i := range h.Files {
		p := &h.Files[i]
		p.File = d.uvarint("file")
		p.Off = d.int64("offset")
		p.Len = d.int64("length")
		v := d.uvarint("segments") // 0: all data; k+1: k segments follow
		if d.err != nil {
			return nil, d.err
		}
		if v == 0 {
			continue
		}
		k := d.count("segments", v-1, MaxChunkSegments-segs, 2)
		if d.err != nil {
			return nil, d.err
		}
		segs += k
		p.Segments = make([]Segment, k)
		end := p.Off
		for j := range p.Segments {
			gap, n := d.int64("segment gap"), d.int64("segment length")
			if d.err == nil && (gap > math.MaxInt64-end || n > math.MaxInt64-end-gap) {
				d.err = fmt.Errorf("segment %d of part %d overflows: %w", j, i, ErrBadFrame)
			}
			if d.err != nil {
				return nil, d.err
			}
			p.Segments[j] = Segment{Off: end + gap, Len: n}
			end += gap + n
		}
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return h, nil
}

// fieldReader decodes the fields of a frame body; the first error sticks
// and later reads return zero values.
type fieldReader struct {
	b   []byte
	err error
}

func (d *fieldReader) fail(what, why string) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %s: %w", what, why, ErrBadFrame)
	}
}

func (d *fieldReader) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what, "bad or truncated varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *fieldReader) uint32(what string) uint32 {
	v := d.uvarint(what)
	if v > math.MaxUint32 {
		d.fail(what, "above 2^32-1")
		return 0
	}
	return uint32(v)
}

func (d *fieldReader) int64(what string) int64 {
	v := d.uvarint(what)
	if v > math.MaxInt64 {
		d.fail(what, "above 2^63-1")
		return 0
	}
	return int64(v)
}

func (d *fieldReader) byte(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail(what, "missing")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *fieldReader) uint64BE(what string) uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail(what, "truncated")
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// string reads a length-prefixed string of at most limit bytes.
func (d *fieldReader) string(what string, limit int) string {
	n := d.uvarint(what)
	if d.err != nil {
		return ""
	}
	if n > uint64(limit) {
		d.err = fmt.Errorf("%s of %d bytes, limit %d: %w", what, n, limit, ErrFrameTooLarge)
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail(what, "truncated")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// count checks a count n of items that take at least minSize bytes each
// against limit and the bytes left, so that allocating n items is safe.
func (d *fieldReader) count(what string, n uint64, limit, minSize int) int {
	if d.err != nil {
		return 0
	}
	if n > uint64(limit) {
		d.err = fmt.Errorf("%d %s, limit %d: %w", n, what, limit, ErrFrameTooLarge)
		return 0
	}
	if n > uint64(len(d.b)/minSize) {
		d.fail(what, fmt.Sprintf("%d announced, the header has room for fewer", n))
		return 0
	}
	return int(n)
}

// end reports the first error, or trailing bytes after the last field.
func (d *fieldReader) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d unexpected bytes after the last field: %w", len(d.b), ErrBadFrame)
	}
	return d.err
}

func putPrefix(b []byte, typ byte, bodyLen int) {
	b[0], b[1] = typ, frameVersion
	binary.BigEndian.PutUint32(b[2:framePrefix], uint32(bodyLen))
}

// readPrefix reads a frame's prefix, checks its type and version, and
// returns the body length, at most limit.
func readPrefix(r io.Reader, typ byte, limit int) (int, error) {
	var p [framePrefix]byte
	if _, err := io.ReadFull(r, p[:]); err != nil {
		if err == io.EOF {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("read %s frame: %w", frameName(typ), err)
	}
	return checkPrefix(p, typ, limit)
}

// checkPrefix checks a frame prefix's type and version and returns the
// body length, at most limit.
func checkPrefix(p [framePrefix]byte, typ byte, limit int) (int, error) {
	if p[0] != typ {
		return 0, fmt.Errorf("read %s frame: got frame type %d (%s): %w", frameName(typ), p[0], frameName(p[0]), ErrBadFrame)
	}
	if p[1] != frameVersion {
		return 0, fmt.Errorf("read %s frame: version %d, this agent speaks %d: %w", frameName(typ), p[1], frameVersion, ErrBadFrame)
	}
	n := binary.BigEndian.Uint32(p[2:])
	if n > uint32(limit) {
		return 0, fmt.Errorf("read %s frame: body of %d bytes, limit %d: %w", frameName(typ), n, limit, ErrFrameTooLarge)
	}
	return int(n), nil
}

func frameName(typ byte) string {
	switch typ {
	case frameChunk:
		return "chunk"
	case frameAck:
		return "ack"
	case frameStriped:
		return "striped chunk"
	case frameStripe:
		return "stripe"
	}
	return "unknown"
}

// grow returns buf resized to n bytes, reallocated only when too small.
func grow(buf []byte, n int) []byte {
	if cap(buf) < n {
		return make([]byte, n)
	}
	return buf[:n]
}

// noEOF turns io.EOF inside a frame into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
