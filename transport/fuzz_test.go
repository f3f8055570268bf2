package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime/metrics"
	"testing"
	"time"
	"unsafe"

	"github.com/klauspost/compress/zstd"
)

// Fuzz targets for what a peer can send: RPC frames (FuzzRPCFrame), acks
// (FuzzAck), stripe and striped-chunk frames (FuzzStripeFrame), chunk frames
// and their payloads (FuzzChunkFrame; FuzzReadChunk in chunkframe_test.go
// covers ReadChunk's round trip). `make fuzz-short` runs each for a few
// seconds; for a long run:
//
//	go test -run '^$' -fuzz '^FuzzChunkFrame$' -fuzztime 10m ./transport/
//
// or `make fuzz` (FUZZTIME per target).

// frameError says whether err is one a frame reader documents: a clean end
// of stream, one inside a frame, a frame over a bound or a malformed one.
func frameError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, ErrFrameTooLarge) || errors.Is(err, ErrBadFrame)
}

// checkAlloc runs fn and fails t if it allocated more than limit() bytes
// (limit is asked after fn ran). It measures with runtime/metrics, which
// costs nothing and counts large allocations exactly but small ones by
// whole spans; over the limit, it runs fn again under runtime.ReadMemStats
// (exact, but it stops the world) before failing. fn must do the same work
// each time it runs. Both count the whole process: in a fuzzing worker the
// engine allocates a few KiB now and then, so no limit is that tight
// (allocSlack).
func checkAlloc(t *testing.T, what string, limit func() uint64, fn func()) {
	t.Helper()
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	fn()
	metrics.Read(s)
	if s[0].Value.Uint64()-before <= limit() {
		return
	}
	if n := bytesAllocated(fn); n > limit() {
		t.Fatalf("%s allocated %d bytes, limit %d", what, n, limit())
	}
}

// allocSlack is what a limit allows beyond what the code under test may
// allocate itself: the fuzzing engine's own allocations, counted alike.
const allocSlack = 64 << 10

// rpcFrameOverhead is what reading one RPC frame may allocate beyond a few
// times the bytes it really read: its first buffer, the decoder's state
// and error messages.
const rpcFrameOverhead = frameReadStep + allocSlack

// FuzzRPCFrame reads request and response frames from arbitrary streams.
// readFrame must never panic, must fail only with errBadFrame,
// ErrFrameTooLarge or a stream error, must allocate in proportion to the
// bytes that really arrived (a length the peer claims is not a reason to
// allocate it), and what it decodes must survive writeFrame and a re-read.
func FuzzRPCFrame(f *testing.F) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	frame := func(payload []byte) []byte {
		var b bytes.Buffer
		if err := writeFrame(&b, payload); err != nil {
			f.Fatal(err)
		}
		return b.Bytes()
	}
	req, err := encodeRequest(ctx, "plan.progress", map[string]any{"id": "j-1", "done": []int{1, 2, 3}})
	if err != nil {
		f.Fatal(err)
	}
	resp, _ := json.Marshal(rpcResponse{Body: json.RawMessage(`{"ok":true}`)})
	bad, _ := json.Marshal(rpcResponse{Error: &rpcError{Code: CodeUnknownMethod, Message: "unknown method x"}})
	f.Add(frame(req))
	f.Add(append(frame(req), frame(resp)...))
	f.Add(frame(resp))
	f.Add(frame(bad))
	f.Add(frame([]byte(`{"method":"\ud800","timeout_ms":-9223372036854775808,"body":[1e999]}`)))
	f.Add(frame([]byte(`null`)))
	f.Add(frame(nil))
	f.Add(frame(req)[:10])
	f.Add([]byte{0, 0x40, 0, 0})          // announces 4 MiB, sends nothing
	f.Add([]byte{0, 0x40, 0, 1, '{'})     // one byte over the limit
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}) // 4 GiB
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typ := range []reflect.Type{reflect.TypeFor[rpcRequest](), reflect.TypeFor[rpcResponse]()} {
			off := 0
			for range 4 { // one frame a stream, but a confused peer may send more
				var v any
				var err error
				read := 0
				checkAlloc(t, "reading a frame", func() uint64 { return 16*uint64(read) + rpcFrameOverhead }, func() {
					r := bytes.NewReader(data[off:])
					v = reflect.New(typ).Interface()
					err = readFrame(r, v)
					read = len(data) - off - r.Len()
				})
				off += read
				if err != nil {
					if !errors.Is(err, errBadFrame) && !errors.Is(err, ErrFrameTooLarge) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
						t.Fatalf("undocumented error: %v", err)
					}
					break
				}
				// What was read survives a trip: encode, frame, read, encode.
				enc, err := json.Marshal(v)
				if err != nil {
					t.Fatalf("re-encode %+v: %v", v, err)
				}
				if len(enc) > MaxFrameSize {
					continue // escaping grew it; a reply that large becomes an error reply
				}
				back := reflect.New(typ).Interface()
				if err := readFrame(bytes.NewReader(frame(enc)), back); err != nil {
					t.Fatalf("re-read: %v", err)
				}
				if again, _ := json.Marshal(back); !bytes.Equal(enc, again) {
					t.Fatalf("re-read differs:\n%s\n%s", enc, again)
				}
			}
		}
	})
}

// FuzzAck reads ack frames from arbitrary streams. ReadAck must never
// panic, must fail only with the documented errors, must allocate no more
// than one ack body a frame, and every ack it accepts must survive WriteAck
// and a re-read unchanged.
func FuzzAck(f *testing.F) {
	var stream bytes.Buffer
	for _, a := range []ChunkAck{
		{Unit: 7, Attempt: 1, OK: true},
		{Unit: 1 << 40, Attempt: 1<<32 - 1, Retry: true, Error: "plan behind"},
		{Unit: 3, Attempt: 2, NoSpace: true, Error: "no space left on device"},
		{Unit: 9, Error: string(bytes.Repeat([]byte("é"), MaxAckError))}, // cut at a character boundary
	} {
		var one bytes.Buffer
		if err := WriteAck(&one, &a); err != nil {
			f.Fatal(err)
		}
		f.Add(one.Bytes())
		stream.Write(one.Bytes())
	}
	f.Add(stream.Bytes())
	f.Add(stream.Bytes()[:stream.Len()-3])
	f.Add([]byte{frameAck, frameVersion, 0, 0, 0x10, 0x40}) // one byte over the body limit
	f.Add([]byte{frameAck, frameVersion, 0, 0, 0, 4, 1, 1, 0x80, 0})
	f.Add([]byte{frameChunk, frameVersion, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for off := 0; ; {
			var a *ChunkAck
			var err error
			read := 0
			checkAlloc(t, "reading an ack", func() uint64 { return 2*maxAckBody + allocSlack }, func() {
				r := bytes.NewReader(data[off:])
				a, err = ReadAck(r)
				read = len(data) - off - r.Len()
			})
			off += read
			if err != nil {
				if !frameError(err) {
					t.Fatalf("undocumented error: %v", err)
				}
				return
			}
			if len(a.Error) > MaxAckError {
				t.Fatalf("accepted an error of %d bytes", len(a.Error))
			}
			var w bytes.Buffer
			if err := WriteAck(&w, a); err != nil {
				t.Fatal(err)
			}
			back, err := ReadAck(&w)
			if err != nil {
				t.Fatalf("re-read: %v", err)
			}
			if !reflect.DeepEqual(a, back) {
				t.Fatalf("re-read differs:\n%+v\n%+v", a, back)
			}
		}
	})
}

// frameBuffers stand for a receiver's pooled buffers: ReadDataFrame's alloc
// hands out frame storage, Unpack decodes into dst. A request larger than
// they hold is allocated (and counted against the bound).
type frameBuffers struct {
	frame, dst []byte
	asked      []int  // sizes alloc was asked for
	made       uint64 // bytes alloc allocated
}

func (b *frameBuffers) alloc(n int) []byte {
	b.asked = append(b.asked, n)
	if n <= cap(b.frame) {
		return b.frame[:n]
	}
	b.made += uint64(n)
	return make([]byte, n)
}

var fuzzBuffers = &frameBuffers{frame: make([]byte, 0, readBound(MaxChunkSize)), dst: make([]byte, 0, MaxChunkSize+decodeSlack)}

// headerOverhead is the most reading a chunk header may allocate besides
// its buffer: its parts and their segments (twice, for size classes) and
// an error message.
const headerOverhead = allocSlack + 2*(MaxChunkFiles*uint64(unsafe.Sizeof(FilePart{}))+MaxChunkSegments*uint64(unsafe.Sizeof(Segment{})))

// readBound is the most a data frame reader may ask alloc for with maxRaw
// (as ReadDataFrame takes it).
func readBound(maxRaw int) int { return max(MaxChunkHeader, MaxWireLen(readMaxRaw(maxRaw))) }

// readMaxRaw is the raw limit ReadDataFrame applies for maxRaw.
func readMaxRaw(maxRaw int) int {
	if maxRaw <= 0 || maxRaw > MaxChunkSize {
		return MaxChunkSize
	}
	return maxRaw
}

// readFrames reads data frames from data as a receiver would until an
// error or the end, checking the bounds and error kinds, and calls each
// for every frame (with the stripe's data, for a stripe).
func readFrames(t *testing.T, data []byte, maxRaw int, each func(fr DataFrame, stripeData []byte)) {
	t.Helper()
	bufs := fuzzBuffers
	for off := 0; off <= len(data); {
		atEnd := off == len(data)
		var fr DataFrame
		var err error
		read := 0
		// Beyond the buffers: a header's parts and segments, and the error.
		checkAlloc(t, "ReadDataFrame, besides its buffers,", func() uint64 { return headerOverhead + bufs.made }, func() {
			bufs.asked, bufs.made = bufs.asked[:0], 0
			r := bytes.NewReader(data[off:])
			fr, err = ReadDataFrame(r, bufs.alloc, maxRaw)
			read = len(data) - off - r.Len()
		})
		off += read
		for _, n := range bufs.asked {
			if n > readBound(maxRaw) || n < 0 {
				t.Fatalf("ReadDataFrame asked for a buffer of %d bytes with maxRaw %d", n, maxRaw)
			}
		}
		if atEnd && len(bufs.asked) > 0 {
			t.Fatalf("ReadDataFrame asked for a buffer of %d bytes on a stream that had ended", bufs.asked[0])
		}
		if err != nil {
			if !frameError(err) {
				t.Fatalf("undocumented error: %v", err)
			}
			if err == io.EOF && !atEnd || errors.Is(err, io.EOF) && err != io.EOF {
				t.Fatalf("io.EOF inside a frame: %v", err)
			}
			return
		}
		var stripe []byte
		switch {
		case fr.Stripe != nil:
			st := fr.Stripe
			if st.Len == 0 || st.Total == 0 || uint64(st.Off)+uint64(st.Len) > uint64(st.Total) || int(st.Total) > MaxWireLen(MaxChunkSize) {
				t.Fatalf("accepted stripe %+v", *st)
			}
			if fr.Chunk != nil || fr.Payload != nil {
				t.Fatalf("a stripe frame with a chunk: %+v", fr)
			}
			if int(st.Len) > len(data)-off {
				return // the stream ends inside the stripe's data
			}
			stripe = data[off : off+int(st.Len)]
			off += int(st.Len)
		case fr.Chunk != nil:
			h := fr.Chunk
			if err := h.check(readMaxRaw(maxRaw)); err != nil {
				t.Fatalf("accepted a chunk header its own check refuses: %v", err)
			}
			if fr.Payload == nil && (h.WireLen == 0 || h.Comp == CompressProbe) {
				t.Fatalf("a striped chunk with no payload: %+v", *h)
			}
			if fr.Payload != nil && len(fr.Payload) != int(h.WireLen) {
				t.Fatalf("payload of %d bytes, header says %d", len(fr.Payload), h.WireLen)
			}
		default:
			t.Fatalf("a frame that is neither chunk nor stripe: %+v", fr)
		}
		each(fr, stripe)
	}
}

// FuzzStripeFrame reads data streams of stripe and striped-chunk frames
// (and chunks among them) as a receiver does, reading each stripe's data
// after its header. ReadDataFrame must never panic, fail only with the
// documented errors, ask for buffers only once a frame has begun and
// never larger than its bounds, and every stripe and striped header it
// accepts must survive WriteStripe or WriteStripedChunk and a re-read.
func FuzzStripeFrame(f *testing.F) {
	c := NewCodec()
	ch := packChunk(f, c, 12)
	var head bytes.Buffer
	h := ch.h
	if err := WriteStripedChunk(&head, &h, 0x1234_5678_9abc_def0, len(ch.payload)); err != nil {
		f.Fatal(err)
	}
	f.Add(head.Bytes(), uint32(64<<10))
	total := uint32(len(ch.payload))
	var stripes bytes.Buffer
	for _, cut := range [][2]uint32{{total / 2, total}, {0, total / 2}} {
		st := Stripe{Transfer: 0x1234_5678_9abc_def0, Off: cut[0], Len: cut[1] - cut[0], Total: total}
		var one bytes.Buffer
		if err := WriteStripe(&one, st, ch.payload[st.Off:st.Off+st.Len]); err != nil {
			f.Fatal(err)
		}
		f.Add(one.Bytes()[:min(one.Len(), 40)], uint32(0))
		stripes.Write(one.Bytes())
	}
	f.Add(stripes.Bytes(), uint32(0))
	f.Add(append(append([]byte(nil), head.Bytes()...), stripes.Bytes()...), uint32(1<<20))
	var whole bytes.Buffer
	if err := WriteChunk(&whole, &h, ch.payload); err != nil {
		f.Fatal(err)
	}
	f.Add(append(whole.Bytes(), stripes.Bytes()...), uint32(1<<20))
	// A stripe past its payload, one of a payload over the bound, a body
	// too long for a stripe, a striped chunk that is a probe.
	f.Add([]byte{frameStripe, frameVersion, 0, 0, 0, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 2, 10}, uint32(0))
	f.Add([]byte{frameStripe, frameVersion, 0, 0, 0, 14, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0xff, 0xff, 0xff, 0x7f}, uint32(0))
	f.Add([]byte{frameStripe, frameVersion, 0, 0, 0, 65}, uint32(0))
	probe := h
	probe.Comp, probe.WireLen = CompressProbe, 0
	f.Add(append([]byte{frameStriped, frameVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, appendChunkFrame(nil, &probe)[framePrefix:]...), uint32(0))
	f.Add([]byte{}, uint32(0))
	f.Fuzz(func(t *testing.T, data []byte, maxRaw uint32) {
		readFrames(t, data, int(maxRaw), func(fr DataFrame, stripe []byte) {
			var w bytes.Buffer
			switch {
			case fr.Stripe != nil:
				if err := WriteStripe(&w, *fr.Stripe, stripe); err != nil {
					t.Fatalf("WriteStripe refuses what ReadDataFrame accepted: %v", err)
				}
			case fr.Payload == nil:
				h := *fr.Chunk
				if err := WriteStripedChunk(&w, &h, fr.Transfer, int(h.WireLen)); err != nil {
					t.Fatalf("WriteStripedChunk refuses what ReadDataFrame accepted: %v", err)
				}
			default:
				h := *fr.Chunk
				if err := WriteChunk(&w, &h, fr.Payload); err != nil {
					t.Fatalf("WriteChunk refuses what ReadDataFrame accepted: %v", err)
				}
			}
			back, err := ReadDataFrame(&w, nil, int(maxRaw))
			if err != nil {
				t.Fatalf("re-read: %v", err)
			}
			if fr.Stripe != nil {
				got := make([]byte, back.Stripe.Len)
				if _, err := io.ReadFull(&w, got); err != nil || !bytes.Equal(got, stripe) {
					t.Fatalf("stripe data re-read: %v", err)
				}
			}
			if !reflect.DeepEqual(fr, back) {
				t.Fatalf("re-read differs:\n%+v\n%+v", fr, back)
			}
		})
	})
}

// decodeOverhead is what decoding a payload may allocate beyond the buffer
// it decodes into: the decoder's block buffers and the error.
const decodeOverhead = 1<<20 + allocSlack

// unpackBound is the most decoding a chunk of rawLen bytes into dst may
// allocate: a buffer of rawLen+16 when dst is too small, and the overhead.
func unpackBound(dst []byte, rawLen int) uint64 {
	n := uint64(decodeOverhead)
	if cap(dst) < rawLen+decodeSlack {
		n += uint64(rawLen + decodeSlack)
	}
	return n
}

// fuzzParts reads part lengths from b (uvarints, each at most 256 KiB, at
// most 2048 parts and 1 MiB in all) for a pack the fuzzer shapes.
func fuzzParts(b []byte) ([]FilePart, int) {
	var parts []FilePart
	total := 0
	for len(b) > 0 && len(parts) < 2048 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			break
		}
		b = b[n:]
		k := int(v % (256 << 10))
		if total+k > 1<<20 {
			break
		}
		p := FilePart{File: uint64(len(parts)), Len: int64(k)}
		if v&1 == 1 && k > 2 { // a sparse part: its data is one segment, a byte in
			p.Len = int64(k) + 1
			p.Segments = []Segment{{Off: 1, Len: int64(k)}}
		}
		parts = append(parts, p)
		total += k
	}
	return parts, total
}

// FuzzChunkFrame reads chunk frames as a receiver does and unpacks what it
// accepts (decoding zstd or a split pack and checking the hash), then
// decodes payload directly as each compression, against parts the fuzzer
// shapes. Nothing may panic; reading asks for no buffer over the bounds
// maxRaw sets; decoding allocates no more than the raw length (when dst is
// too small) and a fixed overhead, whatever a zstd frame claims or holds
// (bombs, lengths that do not add up); a successful decode is exactly the
// raw length, and a pack it decodes survives EncodeParts and Unpack.
func FuzzChunkFrame(f *testing.F) {
	c := NewCodec()
	var chunks []testChunk
	chunks = append(chunks, packChunk(f, c, 30), sparseChunk(f, c),
		sealChunk(f, c, 4, []FilePart{{File: 5, Len: 3000}}, logText(3000, 51), PolicyZstd),
		sealChunk(f, c, 5, []FilePart{{File: 6}}, nil, PolicyAuto))
	raw, ends := pack(logText(8192, 1)[:8192], randomBytes(4096, 2), logText(5000, 3)[:5000], randomBytes(2000, 4))
	split, comp := c.EncodeParts(nil, raw, ends, PolicyAuto, LevelFastest)
	if comp != CompressSplit {
		f.Fatalf("test pack went %v; want split", comp)
	}
	sh := header(raw, ends, split, comp)
	chunks = append(chunks, testChunk{h: *sh, payload: split, raw: raw})
	var lens []byte
	for i, end := range ends {
		start := 0
		if i > 0 {
			start = ends[i-1]
		}
		lens = binary.AppendUvarint(lens, uint64(end-start)&^1) // even: dense parts
	}
	for _, ch := range chunks {
		var w bytes.Buffer
		if err := WriteChunk(&w, &ch.h, ch.payload); err != nil {
			f.Fatal(err)
		}
		f.Add(w.Bytes(), ch.payload, lens, uint32(1<<20))
		f.Add(w.Bytes()[:w.Len()-1], []byte{}, []byte{}, uint32(0))
	}
	f.Add([]byte{}, split, lens, uint32(0))
	// Bombs: a zstd frame of 4 MiB of zeros, one that claims 4 MiB, one that
	// omits its size; a split pack whose section decodes past its parts.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(false))
	if err != nil {
		f.Fatal(err)
	}
	defer enc.Close()
	zeros := enc.EncodeAll(make([]byte, 4<<20), nil)
	var streamed bytes.Buffer
	sw, _ := zstd.NewWriter(&streamed)
	sw.Write(make([]byte, 1<<20))
	sw.Close()
	small := binary.AppendUvarint(nil, 4000)
	f.Add([]byte{}, zeros, small, uint32(0))
	f.Add([]byte{}, streamed.Bytes(), small, uint32(0))
	bomb := append([]byte{0b10, 0, 0, 0, 0}, zeros...)
	binary.LittleEndian.PutUint32(bomb[1:], uint32(len(zeros)))
	f.Add([]byte{}, append(bomb, make([]byte, 4000)...), append(binary.AppendUvarint(nil, 4000), small...), uint32(0))
	bombHeader := ChunkHeader{Job: "j", Unit: 1, Files: []FilePart{{Len: 1 << 20}}, RawLen: 1 << 20, Comp: CompressZstd}
	var bw bytes.Buffer
	if err := WriteChunk(&bw, &bombHeader, zeros); err != nil {
		f.Fatal(err)
	}
	f.Add(bw.Bytes(), []byte{}, []byte{}, uint32(0))

	f.Fuzz(func(t *testing.T, frame, payload, lens []byte, maxRaw uint32) {
		// As a receiver: read, then unpack into a reused buffer.
		readFrames(t, frame, int(maxRaw), func(fr DataFrame, _ []byte) {
			if fr.Payload == nil {
				return
			}
			h := fr.Chunk
			dst := fuzzBuffers.dst
			var out []byte
			var err error
			checkAlloc(t, fmt.Sprintf("unpacking a %v chunk of %d raw bytes (%d on the wire)", h.Comp, h.RawLen, h.WireLen),
				func() uint64 { return unpackBound(dst, int(h.RawLen)) },
				func() { out, err = h.Unpack(c, dst, fr.Payload) })
			if err != nil {
				if !errors.Is(err, ErrBadPayload) && !errors.Is(err, ErrHashMismatch) {
					t.Fatalf("undocumented error: %v", err)
				}
				return
			}
			if len(out) != int(h.RawLen) || Hash(out) != h.Hash {
				t.Fatalf("unpacked %d bytes, want %d with hash %x", len(out), h.RawLen, h.Hash)
			}
		})

		// The decoders themselves, on parts the fuzzer shapes.
		parts, rawLen := fuzzParts(lens)
		for _, comp := range []Compression{CompressNone, CompressZstd, CompressSplit} {
			var out []byte
			var err error
			checkAlloc(t, fmt.Sprintf("decoding %d bytes as %v for %d raw bytes", len(payload), comp, rawLen),
				func() uint64 { return unpackBound(nil, rawLen) },
				func() {
					if comp == CompressSplit {
						out, err = c.decodeSplit(nil, payload, parts, rawLen)
					} else {
						out, err = c.Decode(nil, payload, comp, rawLen)
					}
				})
			if err != nil {
				if !errors.Is(err, ErrBadPayload) {
					t.Fatalf("undocumented error: %v", err)
				}
				continue
			}
			if len(out) != rawLen {
				t.Fatalf("%v decoded %d bytes, want %d", comp, len(out), rawLen)
			}
			if comp != CompressSplit || len(parts) < 2 {
				continue
			}
			// A pack decoded survives being packed again and unpacked.
			var packEnds []int
			end := 0
			for i := range parts {
				end += int(parts[i].DataLen())
				packEnds = append(packEnds, end)
			}
			again, comp2 := c.EncodeParts(nil, out, packEnds, PolicyAuto, LevelFastest)
			h := &ChunkHeader{Job: "j", Unit: 1, Files: parts, RawLen: uint32(rawLen), Hash: Hash(out), Comp: comp2, WireLen: uint32(len(again))}
			back, err := h.Unpack(c, nil, again)
			if err != nil || !bytes.Equal(back, out) {
				t.Fatalf("a decoded pack re-encoded as %v does not unpack: %v", comp2, err)
			}
		}
	})
}
