package transport

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Striped chunks. Across a lossy long-distance link one QUIC connection is
// held to its NewReno share, so a sender may cut a chunk's payload into
// stripes and send them at once over streams on several connections (lanes)
// of the pool. The chunk's header goes on one stream as a striped-chunk
// frame (the header, a transfer id, no payload); each stripe goes on another
// data stream as a stripe frame (transfer id, offset, length, total) followed
// by its bytes. The receiver puts the stripes of a transfer together and then
// treats the chunk as if it had come whole, acking it on the header's stream.
const (
	frameStriped byte = 3 // a chunk header whose payload comes as stripes
	frameStripe  byte = 4 // one stripe of a striped chunk's payload

	maxStripeHeader = 64
)

// Stripe is one piece of a striped chunk's payload: bytes [Off, Off+Len)
// of Total, for the sender's delivery Transfer.
type Stripe struct {
	Transfer uint64 // the sender's random id for this delivery of the chunk
	Off      uint32
	Len      uint32
	Total    uint32 // the whole payload's length (the chunk's WireLen)
}

// DataFrame is one frame read from a data stream: a chunk (Chunk and
// Payload), a striped chunk's header (Chunk and Transfer, no payload), or a
// stripe (Stripe; its Len bytes of data follow on the stream, for the caller
// to read where they belong).
type DataFrame struct {
	Chunk    *ChunkHeader
	Payload  []byte
	Transfer uint64
	Stripe   *Stripe
}

// WriteStripedChunk writes h as the header of a chunk whose payload of
// wireLen bytes the caller sends as stripes of transfer on other streams.
// h is checked as WriteChunk checks it.
func WriteStripedChunk(w io.Writer, h *ChunkHeader, transfer uint64, wireLen int) error {
	if wireLen <= 0 || wireLen > MaxWireLen(MaxChunkSize) {
		return fmt.Errorf("write striped chunk: payload of %d bytes: %w", wireLen, ErrFrameTooLarge)
	}
	h.WireLen = uint32(wireLen)
	if err := h.check(MaxChunkSize); err != nil {
		return fmt.Errorf("write striped chunk: %w", err)
	}
	body := appendChunkFrame(nil, h)[framePrefix:]
	b := make([]byte, framePrefix+8, framePrefix+8+len(body))
	binary.BigEndian.PutUint64(b[framePrefix:], transfer)
	b = append(b, body...)
	if len(b)-framePrefix > MaxChunkHeader {
		return fmt.Errorf("write striped chunk: header of %d bytes, limit %d: %w", len(b)-framePrefix, MaxChunkHeader, ErrFrameTooLarge)
	}
	putPrefix(b, frameStriped, len(b)-framePrefix)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write striped chunk header: %w", err)
	}
	return nil
}

// WriteStripe writes one stripe frame and its data.
func WriteStripe(w io.Writer, st Stripe, data []byte) error {
	if err := st.check(); err != nil {
		return fmt.Errorf("write stripe: %w", err)
	}
	if len(data) != int(st.Len) {
		return fmt.Errorf("write stripe: %d bytes of data for a stripe of %d: %w", len(data), st.Len, ErrBadFrame)
	}
	b := make([]byte, framePrefix, framePrefix+maxStripeHeader)
	b = binary.BigEndian.AppendUint64(b, st.Transfer)
	b = binary.AppendUvarint(b, uint64(st.Off))
	b = binary.AppendUvarint(b, uint64(st.Len))
	b = binary.AppendUvarint(b, uint64(st.Total))
	putPrefix(b, frameStripe, len(b)-framePrefix)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write stripe header: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("write stripe data: %w", err)
	}
	return nil
}

func (st *Stripe) check() error {
	switch {
	case st.Total == 0 || int64(st.Total) > int64(MaxWireLen(MaxChunkSize)):
		return fmt.Errorf("stripe of a %d-byte payload: %w", st.Total, ErrFrameTooLarge)
	case st.Len == 0 || uint64(st.Off)+uint64(st.Len) > uint64(st.Total):
		return fmt.Errorf("stripe [%d, +%d) outside a %d-byte payload: %w", st.Off, st.Len, st.Total, ErrBadFrame)
	}
	return nil
}

// ReadDataFrame reads the next frame of a data stream: a chunk (as
// ReadChunk), a striped chunk's header, or a stripe's header, whose Len
// data bytes the caller must read next. Frame bodies and payloads are read
// into alloc(n), which must return n bytes (it may return the same storage
// again: the header is parsed before the payload is read); alloc is called
// only once a frame has begun, so a stream waiting for its next frame holds
// no buffer. nil allocates. The bounds are ReadChunk's; a clean end of
// stream before a frame is io.EOF.
func ReadDataFrame(r io.Reader, alloc func(n int) []byte, maxRaw int) (DataFrame, error) {
	if alloc == nil {
		alloc = func(n int) []byte { return make([]byte, n) }
	}
	if maxRaw <= 0 || maxRaw > MaxChunkSize {
		maxRaw = MaxChunkSize
	}
	var p [framePrefix]byte
	if _, err := io.ReadFull(r, p[:]); err != nil {
		if err == io.EOF {
			return DataFrame{}, io.EOF
		}
		return DataFrame{}, fmt.Errorf("read data frame: %w", err)
	}
	typ := p[0]
	limit := MaxChunkHeader
	if typ == frameStripe {
		limit = maxStripeHeader
	}
	if typ != frameChunk && typ != frameStriped && typ != frameStripe {
		return DataFrame{}, fmt.Errorf("read data frame: frame type %d (%s): %w", typ, frameName(typ), ErrBadFrame)
	}
	n, err := checkPrefix(p, typ, limit)
	if err != nil {
		return DataFrame{}, err
	}
	if typ == frameChunk {
		h, payload, err := readChunkBody(r, n, alloc, maxRaw)
		return DataFrame{Chunk: h, Payload: payload}, err
	}
	if n < 8 {
		return DataFrame{}, fmt.Errorf("read %s frame: body of %d bytes: %w", frameName(typ), n, ErrBadFrame)
	}
	body := alloc(n)
	if _, err := io.ReadFull(r, body); err != nil {
		return DataFrame{}, fmt.Errorf("read %s frame: %w", frameName(typ), noEOF(err))
	}
	transfer := binary.BigEndian.Uint64(body)
	if typ == frameStriped {
		h, err := parseChunkHeader(body[8:])
		if err == nil {
			err = h.check(maxRaw)
		}
		if err == nil && (h.WireLen == 0 || h.Comp == CompressProbe) {
			err = fmt.Errorf("striped chunk %s/%d with no payload: %w", h.Job, h.Unit, ErrBadFrame)
		}
		if err != nil {
			return DataFrame{}, fmt.Errorf("read striped chunk: %w", err)
		}
		return DataFrame{Chunk: h, Transfer: transfer}, nil
	}
	d := fieldReader{b: body[8:]}
	st := &Stripe{Transfer: transfer}
	st.Off = d.uint32("stripe offset")
	st.Len = d.uint32("stripe length")
	st.Total = d.uint32("stripe total")
	if err := d.end(); err != nil {
		return DataFrame{}, fmt.Errorf("read stripe: %w", err)
	}
	if err := st.check(); err != nil {
		return DataFrame{}, fmt.Errorf("read stripe: %w", err)
	}
	return DataFrame{Stripe: st}, nil
}
