package transport

import (
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// testChunk is a chunk as a sender builds it: header, payload, raw bytes.
type testChunk struct {
	h       ChunkHeader
	payload []byte
	raw     []byte
}

// sealChunk hashes and encodes raw into a chunk with the given parts.
func sealChunk(t testing.TB, c *Codec, unit uint64, parts []FilePart, raw []byte, p Policy) testChunk {
	t.Helper()
	payload, comp := c.Encode(nil, raw, p, LevelFastest)
	return testChunk{
		h:       ChunkHeader{Job: "job-7f3a", Unit: unit, Attempt: 1, Files: parts, RawLen: uint32(len(raw)), Hash: Hash(raw), Comp: comp},
		payload: payload,
		raw:     raw,
	}
}

// bigFileChunk is the second 1 MiB of a log file.
func bigFileChunk(t testing.TB, c *Codec) testChunk {
	raw := logText(1<<20, 21)
	return sealChunk(t, c, 1, []FilePart{{File: 42, Off: 1 << 20, Len: 1 << 20}}, raw, PolicyAuto)
}

// packChunk packs n small files (some empty, some random, most text).
func packChunk(t testing.TB, c *Codec, n int) testChunk {
	var raw []byte
	parts := make([]FilePart, n)
	for i := range parts {
		var data []byte
		switch i % 10 {
		case 0: // empty file
		case 1:
			data = randomBytes(100+i, uint64(i))
		default:
			data = logText(200+i%700, uint64(i))
		}
		parts[i] = FilePart{File: uint64(1000 + i), Off: 0, Len: int64(len(data))}
		raw = append(raw, data...)
	}
	return sealChunk(t, c, 2, parts, raw, PolicyAuto)
}

// sparseChunk covers 1 MiB of a sparse file holding two data runs, then an
// all-hole stretch of another file, then a small whole file.
func sparseChunk(t testing.TB, c *Codec) testChunk {
	a, b, d := randomBytes(4096, 31), logText(10000, 32), logText(500, 33)
	parts := []FilePart{
		{File: 7, Off: 8 << 20, Len: 1 << 20, Segments: []Segment{{Off: 8<<20 + 4096, Len: 4096}, {Off: 8<<20 + 500000, Len: 10000}}},
		{File: 8, Off: 0, Len: 64 << 30, Segments: []Segment{}},
		{File: 9, Off: 0, Len: 500},
	}
	raw := append(append(append([]byte(nil), a...), b...), d...)
	return sealChunk(t, c, 3, parts, raw, PolicyZstd)
}

func TestChunkFrameRoundTrip(t *testing.T) {
	c := NewCodec()
	chunks := []testChunk{
		bigFileChunk(t, c),
		packChunk(t, c, 1000),
		sparseChunk(t, c),
		sealChunk(t, c, 4, []FilePart{{File: 5, Len: 300 << 10}}, randomBytes(300<<10, 41), PolicyAuto),
		sealChunk(t, c, 5, []FilePart{{File: 6}}, nil, PolicyAuto), // one empty file
	}
	if chunks[0].h.Comp != CompressZstd || chunks[3].h.Comp != CompressNone {
		t.Fatalf("test data: want the log chunk compressed and the random one raw")
	}
	var stream bytes.Buffer
	for i := range chunks {
		if err := WriteChunk(&stream, &chunks[i].h, chunks[i].payload); err != nil {
			t.Fatalf("WriteChunk %d: %v", i, err)
		}
		if int(chunks[i].h.WireLen) != len(chunks[i].payload) {
			t.Fatalf("WriteChunk %d: WireLen %d, payload %d bytes", i, chunks[i].h.WireLen, len(chunks[i].payload))
		}
	}
	var buf, dec []byte
	for i, want := range chunks {
		h, payload, err := ReadChunk(&stream, buf, 4<<20)
		if err != nil {
			t.Fatalf("ReadChunk %d: %v", i, err)
		}
		if !reflect.DeepEqual(*h, want.h) {
			t.Fatalf("chunk %d header:\n got %+v\nwant %+v", i, *h, want.h)
		}
		raw, err := h.Unpack(c, dec, payload)
		if err != nil {
			t.Fatalf("Unpack %d: %v", i, err)
		}
		if !bytes.Equal(raw, want.raw) {
			t.Fatalf("chunk %d: raw bytes differ", i)
		}
		var sum int64
		for _, p := range h.Files {
			sum += p.DataLen()
		}
		if sum != int64(len(raw)) {
			t.Fatalf("chunk %d: parts hold %d bytes, raw is %d", i, sum, len(raw))
		}
		buf = payload
	}
	if _, _, err := ReadChunk(&stream, buf, 4<<20); err != io.EOF {
		t.Fatalf("ReadChunk at the end of the stream: %v, want io.EOF", err)
	}
}

func TestUnpackDetectsDamage(t *testing.T) {
	c := NewCodec()
	for _, ch := range []testChunk{bigFileChunk(t, c), sparseChunk(t, c), packChunk(t, c, 50)} {
		// Raw bytes changed after hashing (a file modified while read).
		changed := append([]byte(nil), ch.raw...)
		changed[len(changed)/2] ^= 0x20
		payload, comp := c.Encode(nil, changed, PolicyAuto, LevelFastest)
		h := ch.h
		h.Comp, h.WireLen = comp, uint32(len(payload))
		if _, err := h.Unpack(c, nil, payload); !errors.Is(err, ErrHashMismatch) {
			t.Errorf("unit %d with changed bytes: %v, want ErrHashMismatch", h.Unit, err)
		}
		// A payload damaged on the way.
		damaged := append([]byte(nil), ch.payload...)
		damaged[len(damaged)-len(damaged)/3] ^= 0xff
		h = ch.h
		h.WireLen = uint32(len(damaged))
		_, err := h.Unpack(c, nil, damaged)
		if !errors.Is(err, ErrHashMismatch) && !errors.Is(err, ErrBadPayload) {
			t.Errorf("unit %d with a damaged payload: %v, want ErrHashMismatch or ErrBadPayload", h.Unit, err)
		}
	}
}

// A sender and a receiver on a real QUIC data stream: chunks go one way,
// acks the other; a chunk whose bytes changed after hashing is refused with
// Retry, and the stream goes on.
func TestChunksOverQUIC(t *testing.T) {
	ca := newTestCA(t)
	c := NewCodec()
	type received struct {
		unit uint64
		raw  []byte
	}
	got := make(chan received, 8)
	handlerErr := make(chan error, 1)
	b := startNode(t, ca.identity("b"), Config{}, func(e *Endpoint) {
		e.Handle(KindData, func(s *Stream) {
			defer s.Close()
			_ = s.SetDeadline(time.Now().Add(10 * time.Second))
			var buf, dec []byte
			for range 100 {
				h, payload, err := ReadChunk(s, buf, 4<<20)
				if err == io.EOF {
					handlerErr <- nil
					return
				}
				if err != nil {
					handlerErr <- err
					return
				}
				buf = payload
				raw, err := h.Unpack(c, dec, payload)
				ack := &ChunkAck{Unit: h.Unit, Attempt: h.Attempt, OK: err == nil}
				if err != nil {
					ack.Retry = errors.Is(err, ErrHashMismatch) || errors.Is(err, ErrBadPayload)
					ack.Error = err.Error()
				} else {
					got <- received{h.Unit, append([]byte(nil), raw...)}
				}
				if err := WriteAck(s, ack); err != nil {
					handlerErr <- err
					return
				}
			}
			handlerErr <- errors.New("more than 100 chunks")
		})
	})
	a := startNode(t, ca.identity("a"), Config{})
	s, err := a.OpenStream(testContext(t), b.addr, "b", KindData)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))

	good1, good2 := bigFileChunk(t, c), packChunk(t, c, 300)
	bad := sparseChunk(t, c)
	bad.h.Unit = 9
	bad.raw = append([]byte(nil), bad.raw...)
	bad.raw[0] ^= 1 // changed after hashing
	bad.payload, bad.h.Comp = c.Encode(nil, bad.raw, PolicyAuto, LevelFastest)

	wantAcks := []ChunkAck{{Unit: 1, Attempt: 1, OK: true}, {Unit: 9, Attempt: 1, Retry: true}, {Unit: 2, Attempt: 1, OK: true}}
	for i, ch := range []testChunk{good1, bad, good2} {
		if err := WriteChunk(s, &ch.h, ch.payload); err != nil {
			t.Fatalf("send chunk %d: %v", i, err)
		}
		ack, err := ReadAck(s)
		if err != nil {
			t.Fatalf("ack %d: %v", i, err)
		}
		if ack.Unit != wantAcks[i].Unit || ack.OK != wantAcks[i].OK || ack.Retry != wantAcks[i].Retry {
			t.Fatalf("ack %d: %+v, want %+v", i, *ack, wantAcks[i])
		}
		if ack.Retry && !strings.Contains(ack.Error, "hash mismatch") {
			t.Errorf("retry ack says %q; want the reason", ack.Error)
		}
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-handlerErr:
		if err != nil {
			t.Fatalf("receiver: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("receiver did not see the end of the stream")
	}
	for _, want := range []testChunk{good1, good2} {
		r := <-got
		if r.unit != want.h.Unit || !bytes.Equal(r.raw, want.raw) {
			t.Fatalf("receiver got unit %d (%d bytes), want unit %d (%d bytes)", r.unit, len(r.raw), want.h.Unit, len(want.raw))
		}
	}
}

// validHeader is a small well-formed header for the refusal tables.
func validHeader() ChunkHeader {
	return ChunkHeader{Job: "j", Unit: 1, Attempt: 1, Files: []FilePart{{File: 1, Len: 10}}, RawLen: 10, Comp: CompressNone, WireLen: 10}
}

// manyParts is a header with n empty file parts.
func manyParts(n int) ChunkHeader {
	h := validHeader()
	h.Files = make([]FilePart, n)
	h.RawLen, h.WireLen = 0, 0
	return h
}

// manySegments is a header whose one part has n one-byte segments.
func manySegments(n int) ChunkHeader {
	h := validHeader()
	segs := make([]Segment, n)
	for i := range segs {
		segs[i] = Segment{Off: int64(2 * i), Len: 1}
	}
	h.Files = []FilePart{{File: 1, Len: int64(2 * n), Segments: segs}}
	h.RawLen, h.WireLen = uint32(n), uint32(n)
	return h
}

// badHeaders breaks one rule each; want is ErrBadFrame or ErrFrameTooLarge.
func badHeaders() []struct {
	name string
	h    ChunkHeader
	want error
} {
	with := func(f func(h *ChunkHeader)) ChunkHeader {
		h := validHeader()
		f(&h)
		return h
	}
	return []struct {
		name string
		h    ChunkHeader
		want error
	}{
		{"no job", with(func(h *ChunkHeader) { h.Job = "" }), ErrBadFrame},
		{"job id too long", with(func(h *ChunkHeader) { h.Job = strings.Repeat("j", MaxJobIDLen+1) }), ErrFrameTooLarge},
		{"no files", with(func(h *ChunkHeader) { h.Files = nil; h.RawLen, h.WireLen = 0, 0 }), ErrBadFrame},
		{"too many files", manyParts(MaxChunkFiles + 1), ErrFrameTooLarge},
		{"too many segments", manySegments(MaxChunkSegments + 1), ErrFrameTooLarge},
		{"raw above the limit", with(func(h *ChunkHeader) {
			h.Files[0].Len = MaxChunkSize + 1
			h.RawLen, h.WireLen = MaxChunkSize+1, MaxChunkSize+1
		}), ErrFrameTooLarge},
		{"zstd payload above its bound", with(func(h *ChunkHeader) {
			h.Comp, h.WireLen = CompressZstd, uint32(MaxWireLen(10)+1)
		}), ErrFrameTooLarge},
		{"unknown compression", with(func(h *ChunkHeader) { h.Comp = 9 }), ErrBadFrame},
		{"raw payload of another length", with(func(h *ChunkHeader) { h.WireLen = 9 }), ErrBadFrame},
		{"parts hold less than RawLen", with(func(h *ChunkHeader) { h.RawLen, h.WireLen = 11, 11 }), ErrBadFrame},
		{"parts hold more than RawLen", with(func(h *ChunkHeader) { h.RawLen, h.WireLen = 9, 9 }), ErrBadFrame},
		{"negative offset", with(func(h *ChunkHeader) { h.Files[0].Off = -1 }), ErrBadFrame},
		{"range overflows", with(func(h *ChunkHeader) { h.Files[0].Off = math.MaxInt64 - 5 }), ErrBadFrame},
		{"empty segment", with(func(h *ChunkHeader) {
			h.Files[0].Segments = []Segment{{Off: 0, Len: 10}, {Off: 10, Len: 0}}
		}), ErrBadFrame},
		{"overlapping segments", with(func(h *ChunkHeader) {
			h.Files[0].Len = 20
			h.Files[0].Segments = []Segment{{Off: 0, Len: 5}, {Off: 4, Len: 5}}
		}), ErrBadFrame},
		{"segment past the part", with(func(h *ChunkHeader) {
			h.Files[0].Segments = []Segment{{Off: 5, Len: 10}}
		}), ErrBadFrame},
		{"segment before the part", with(func(h *ChunkHeader) {
			h.Files[0].Off = 100
			h.Files[0].Segments = []Segment{{Off: 95, Len: 10}}
		}), ErrBadFrame},
	}
}

func TestWriteChunkRefuses(t *testing.T) {
	for _, tc := range badHeaders() {
		t.Run(tc.name, func(t *testing.T) {
			var w bytes.Buffer
			err := WriteChunk(&w, &tc.h, make([]byte, tc.h.WireLen))
			if !errors.Is(err, tc.want) {
				t.Fatalf("WriteChunk: %v, want %v", err, tc.want)
			}
			if w.Len() != 0 {
				t.Fatalf("WriteChunk wrote %d bytes of a refused chunk", w.Len())
			}
		})
	}
	// A header that passes every count but not the header size bound.
	h := manyParts(MaxChunkFiles)
	for i := range h.Files {
		h.Files[i] = FilePart{File: math.MaxUint64, Off: math.MaxInt64 / 2}
	}
	if err := WriteChunk(io.Discard, &h, nil); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("WriteChunk of a %d-part header with large numbers: %v, want ErrFrameTooLarge", len(h.Files), err)
	}
}

func TestReadChunkRefuses(t *testing.T) {
	frame := func(h ChunkHeader) []byte {
		return append(appendChunkFrame(nil, &h), make([]byte, min(h.WireLen, 1<<20))...)
	}
	for _, tc := range badHeaders() {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadChunk(bytes.NewReader(frame(tc.h)), nil, 0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadChunk: %v, want %v", err, tc.want)
			}
		})
	}

	good := frame(validHeader())
	patch := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	bigRaw := validHeader()
	bigRaw.Files[0].Len, bigRaw.RawLen, bigRaw.WireLen = 2<<20, 2<<20, 2<<20
	crafted := []struct {
		name   string
		frame  []byte
		maxRaw int
		want   error
	}{
		{"raw above the reader's limit", frame(bigRaw), 1 << 20, ErrFrameTooLarge},
		{"an ack frame", patch(func(b []byte) []byte { b[0] = frameAck; return b }), 0, ErrBadFrame},
		{"unknown frame type", patch(func(b []byte) []byte { b[0] = 0x7f; return b }), 0, ErrBadFrame},
		{"unknown version", patch(func(b []byte) []byte { b[1] = 2; return b }), 0, ErrBadFrame},
		{"header above 1 MiB", patch(func(b []byte) []byte {
			b[2], b[3], b[4], b[5] = 0, 0x10, 0, 1
			return b
		}), 0, ErrFrameTooLarge},
		{"empty header", patch(func(b []byte) []byte {
			b[2], b[3], b[4], b[5] = 0, 0, 0, 0
			return b
		}), 0, ErrBadFrame},
		{"trailing header bytes", patch(func(b []byte) []byte {
			hl := int(b[5]) // the header is short: one byte of length
			b[5]++
			return append(b[:framePrefix+hl], append([]byte{0}, b[framePrefix+hl:]...)...)
		}), 0, ErrBadFrame},
		{"header cut short", patch(func(b []byte) []byte {
			b[5] -= 3
			return b
		}), 0, ErrBadFrame},
		{"varint overflow", rawHeaderFrame(append([]byte{1, 'j'}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)), 0, ErrBadFrame},
		{"attempt above 2^32", rawHeaderFrame(append([]byte{1, 'j', 1}, 0x80, 0x80, 0x80, 0x80, 0x10)), 0, ErrBadFrame},
		{"more parts than the header holds", rawHeaderFrame([]byte{1, 'j', 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x08, 0, 0, 0, 0}), 0, ErrBadFrame},
		{"more segments than the header holds", rawHeaderFrame([]byte{1, 'j', 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 100, 0x80, 0x08, 0, 1}), 0, ErrBadFrame},
		{"segment overflows int64", rawHeaderFrame(append([]byte{1, 'j', 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 2, 2},
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)), 0, ErrBadFrame},
	}
	for _, tc := range crafted {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadChunk(bytes.NewReader(tc.frame), nil, tc.maxRaw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadChunk: %v, want %v", err, tc.want)
			}
		})
	}
}

// rawHeaderFrame wraps hand-made header bytes in a chunk frame prefix.
func rawHeaderFrame(header []byte) []byte {
	b := make([]byte, framePrefix, framePrefix+len(header))
	putPrefix(b, frameChunk, len(header))
	return append(b, header...)
}

func TestReadChunkTruncated(t *testing.T) {
	c := NewCodec()
	ch := sparseChunk(t, c)
	var w bytes.Buffer
	if err := WriteChunk(&w, &ch.h, ch.payload); err != nil {
		t.Fatal(err)
	}
	frame := w.Bytes()
	if _, _, err := ReadChunk(bytes.NewReader(nil), nil, 0); err != io.EOF {
		t.Fatalf("empty stream: %v, want io.EOF", err)
	}
	for cut := 1; cut < len(frame); cut += 1 + cut/512 { // every byte of the header, then a sample
		_, _, err := ReadChunk(bytes.NewReader(frame[:cut]), nil, 0)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("frame of %d bytes cut at %d: %v, want io.ErrUnexpectedEOF", len(frame), cut, err)
		}
	}
	if _, _, err := ReadChunk(bytes.NewReader(frame), nil, 0); err != nil {
		t.Fatalf("whole frame: %v", err)
	}
}

// A peer announcing large sizes and then sending nothing costs the
// receiver no more memory than the bounds allow.
func TestReadChunkAllocationBounded(t *testing.T) {
	allocated := func(frame []byte, maxRaw int) (uint64, error) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, err := ReadChunk(bytes.NewReader(frame), nil, maxRaw)
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, err
	}
	// A header announced at 1 MiB: at most the header is allocated.
	prefix := make([]byte, framePrefix)
	putPrefix(prefix, frameChunk, MaxChunkHeader)
	if n, err := allocated(prefix, 0); !errors.Is(err, io.ErrUnexpectedEOF) || n > MaxChunkHeader+64<<10 {
		t.Errorf("1 MiB header announced, none sent: %d bytes allocated, err %v", n, err)
	}
	// 64 MiB of raw data announced to a reader that takes 1 MiB: nothing.
	h := validHeader()
	h.Files[0].Len, h.RawLen, h.WireLen = MaxChunkSize, MaxChunkSize, MaxChunkSize
	if n, err := allocated(appendChunkFrame(nil, &h), 1<<20); !errors.Is(err, ErrFrameTooLarge) || n > 64<<10 {
		t.Errorf("64 MiB announced to a 1 MiB reader: %d bytes allocated, err %v", n, err)
	}
	// 65536 parts announced in a short header: refused before allocating.
	short := rawHeaderFrame([]byte{1, 'j', 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x80, 0x04})
	if n, err := allocated(short, 0); !errors.Is(err, ErrBadFrame) || n > 64<<10 {
		t.Errorf("65536 parts announced in an 18-byte header: %d bytes allocated, err %v", n, err)
	}
}

func TestAckRoundTrip(t *testing.T) {
	long := strings.Repeat("é", MaxAckError) // 2 bytes a rune: cut mid-rune
	acks := []ChunkAck{
		{Unit: 1, Attempt: 1, OK: true},
		{Unit: 1 << 40, Attempt: math.MaxUint32, Retry: true, Error: "chunk job/9: xxhash64 mismatch"},
		{Unit: 3, Attempt: 2, NoSpace: true, Error: "volume data on tgt-1: 4194304 bytes needed, 0 free"},
		{Unit: 4, Attempt: 1, Error: long},
	}
	var stream bytes.Buffer
	for i := range acks {
		if err := WriteAck(&stream, &acks[i]); err != nil {
			t.Fatalf("WriteAck %d: %v", i, err)
		}
	}
	for i, want := range acks {
		got, err := ReadAck(&stream)
		if err != nil {
			t.Fatalf("ReadAck %d: %v", i, err)
		}
		if want.Error == long {
			if len(got.Error) > MaxAckError || !utf8.ValidString(got.Error) || !strings.HasPrefix(long, got.Error) || len(got.Error) < MaxAckError-4 {
				t.Fatalf("long error came back as %d bytes (valid UTF-8: %v); want a prefix of at most %d", len(got.Error), utf8.ValidString(got.Error), MaxAckError)
			}
			want.Error = got.Error
		}
		if *got != want {
			t.Fatalf("ack %d: got %+v, want %+v", i, *got, want)
		}
	}
	if _, err := ReadAck(&stream); err != io.EOF {
		t.Fatalf("ReadAck at the end: %v, want io.EOF", err)
	}
}

func TestReadAckRefuses(t *testing.T) {
	var w bytes.Buffer
	if err := WriteAck(&w, &ChunkAck{Unit: 5, Attempt: 1, Retry: true, Error: "hash"}); err != nil {
		t.Fatal(err)
	}
	good := w.Bytes()
	for cut := 1; cut < len(good); cut++ {
		if _, err := ReadAck(bytes.NewReader(good[:cut])); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("ack cut at %d: %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}
	patch := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	cases := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"chunk frame", patch(func(b []byte) { b[0] = frameChunk }), ErrBadFrame},
		{"unknown version", patch(func(b []byte) { b[1] = 0 }), ErrBadFrame},
		{"body too large", patch(func(b []byte) { b[3] = 1 }), ErrFrameTooLarge},
		{"unknown flag", patch(func(b []byte) { b[framePrefix+2] |= 0x80 }), ErrBadFrame},
		{"error longer than its body", patch(func(b []byte) { b[framePrefix+3] = 9 }), ErrBadFrame},
	}
	for _, tc := range cases {
		if _, err := ReadAck(bytes.NewReader(tc.frame)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// FuzzReadChunk feeds ReadChunk arbitrary streams. It must never panic,
// must fail only with the documented errors, must hold what it accepts to
// the bounds, and what it accepts must survive WriteChunk and a re-read.
func FuzzReadChunk(f *testing.F) {
	const maxRaw = 64 << 10
	c := NewCodec()
	for _, ch := range []testChunk{
		packChunk(f, c, 20),
		sparseChunk(f, c),
		sealChunk(f, c, 4, []FilePart{{File: 5, Len: 3000}}, logText(3000, 51), PolicyZstd),
		sealChunk(f, c, 5, []FilePart{{File: 6}}, nil, PolicyAuto),
	} {
		var w bytes.Buffer
		if err := WriteChunk(&w, &ch.h, ch.payload); err != nil {
			f.Fatal(err)
		}
		f.Add(w.Bytes())
		f.Add(w.Bytes()[:w.Len()/2])
	}
	for _, tc := range badHeaders() {
		if tc.h.WireLen < 1<<16 {
			f.Add(append(appendChunkFrame(nil, &tc.h), make([]byte, tc.h.WireLen)...))
		}
	}
	f.Add([]byte{})
	f.Add([]byte{frameChunk, frameVersion, 0, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, payload, err := ReadChunk(bytes.NewReader(data), nil, maxRaw)
		if err != nil {
			if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrBadFrame) && !errors.Is(err, ErrFrameTooLarge) {
				t.Fatalf("undocumented error: %v", err)
			}
			return
		}
		if h.RawLen > maxRaw || len(payload) != int(h.WireLen) || cap(payload) > max(MaxChunkHeader, MaxWireLen(maxRaw)) {
			t.Fatalf("accepted RawLen %d, payload %d bytes (cap %d), WireLen %d", h.RawLen, len(payload), cap(payload), h.WireLen)
		}
		var w bytes.Buffer
		h2 := *h
		if err := WriteChunk(&w, &h2, payload); err != nil {
			t.Fatalf("WriteChunk refused what ReadChunk accepted: %v", err)
		}
		h3, payload3, err := ReadChunk(&w, nil, maxRaw)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if !reflect.DeepEqual(h, h3) || !bytes.Equal(payload, payload3) {
			t.Fatalf("re-read differs:\n%+v\n%+v", h, h3)
		}
	})
}
