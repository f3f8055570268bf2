package transport

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// pack joins parts as a sender's chunk does and returns it with the ends.
func pack(parts ...[]byte) (raw []byte, ends []int) {
	for _, p := range parts {
		raw = append(raw, p...)
		ends = append(ends, len(raw))
	}
	return raw, ends
}

// header describes a pack of dense parts ending at ends, as a sender does.
func header(raw []byte, ends []int, payload []byte, comp Compression) *ChunkHeader {
	h := &ChunkHeader{Job: "j", Unit: 1, RawLen: uint32(len(raw)), Hash: Hash(raw), Comp: comp, WireLen: uint32(len(payload))}
	start := 0
	for i, end := range ends {
		h.Files = append(h.Files, FilePart{File: uint64(i), Len: int64(end - start)})
		start = end
	}
	return h
}

// roundTrip decodes payload as a receiver does and checks it is raw.
func roundTrip(t *testing.T, c *Codec, raw []byte, ends []int, payload []byte, comp Compression) {
	t.Helper()
	out, err := header(raw, ends, payload, comp).Unpack(c, nil, payload)
	if err != nil {
		t.Fatalf("decode %v payload of %d bytes: %v", comp, len(payload), err)
	}
	if !bytes.Equal(out, raw) {
		t.Fatal("decoded pack differs from what was sent")
	}
}

func TestEncodePartsSendsRandomPartsRaw(t *testing.T) {
	c := NewCodec()
	// A pack of small files as S2's tree has them: random and log text by
	// turns, 4 KiB each, with a few tiny files among them.
	var parts [][]byte
	random, text := 0, 0
	for i := range 200 {
		switch {
		case i%10 == 9:
			parts = append(parts, logText(300, uint64(i))[:300])
		case i%2 == 0:
			parts = append(parts, randomBytes(4096, uint64(i)))
			random += 4096
		default:
			parts = append(parts, logText(4096, uint64(i))[:4096])
			text += 4096
		}
	}
	raw, ends := pack(parts...)
	payload, comp := c.EncodeParts(nil, raw, ends, PolicyAuto, LevelFastest)
	if comp != CompressSplit {
		t.Fatalf("a pack half text went %v; want split", comp)
	}
	roundTrip(t, c, raw, ends, payload, comp)
	// The random half travels as it is (plus frame and block headers); the
	// text half shrinks.
	if len(payload) < random {
		t.Fatalf("payload %d bytes is smaller than the pack's %d random bytes: were they compressed?", len(payload), random)
	}
	if len(payload) > random+text/2 {
		t.Errorf("payload %d bytes for %d random and %d text bytes; want the text at least halved", len(payload), random, text)
	}
	// Whole-chunk compression gives about the same size: sending the random
	// parts raw costs nothing on the wire.
	whole, _ := c.Encode(nil, raw, PolicyAuto, LevelFastest)
	if len(payload) > len(whole)+len(whole)/20 {
		t.Errorf("parts judged one by one: %d bytes; the whole chunk compressed: %d", len(payload), len(whole))
	}
	t.Logf("pack %d bytes → %d (whole-chunk zstd: %d)", len(raw), len(payload), len(whole))
}

func TestEncodePartsAllAlike(t *testing.T) {
	c := NewCodec()
	rnd, ends := pack(randomBytes(8192, 1), randomBytes(4096, 2), randomBytes(20000, 3))
	if payload, comp := c.EncodeParts(nil, rnd, ends, PolicyAuto, LevelFastest); comp != CompressNone || !bytes.Equal(payload, rnd) {
		t.Errorf("a pack of random files went %v, %d bytes; want raw", comp, len(payload))
	}
	txt, ends := pack(logText(5000, 1)[:5000], logText(3000, 2)[:3000])
	payload, comp := c.EncodeParts(nil, txt, ends, PolicyAuto, LevelFastest)
	if comp != CompressZstd || len(payload) > len(txt)/2 {
		t.Errorf("a pack of log files went %v, %d of %d bytes; want zstd, halved", comp, len(payload), len(txt))
	}
	roundTrip(t, c, txt, ends, payload, comp)

	// Other policies and single parts are Encode's.
	if _, comp := c.EncodeParts(nil, rnd, ends, PolicyNone, LevelFastest); comp != CompressNone {
		t.Errorf("PolicyNone compressed")
	}
	if _, comp := c.EncodeParts(nil, rnd, []int{len(rnd)}, PolicyZstd, LevelFastest); comp != CompressZstd {
		t.Errorf("PolicyZstd did not compress")
	}
}

func TestEncodePartsRandomFirst(t *testing.T) {
	c := NewCodec()
	// Starting with a random part; tiny parts that go with the one before;
	// a text part larger than a gather buffer; an empty part.
	raw, ends := pack(randomBytes(6000, 1), []byte("a"), logText(9000, 2)[:9000], randomBytes(300_000, 3),
		[]byte("x"), []byte("yz"), logText(gatherSize+5000, 4), nil, logText(gatherSize-100, 5)[:gatherSize-100], randomBytes(2000, 6))
	payload, comp := c.EncodeParts(nil, raw, ends, PolicyAuto, LevelBetter)
	if comp != CompressSplit {
		t.Fatalf("went %v; want split", comp)
	}
	roundTrip(t, c, raw, ends, payload, comp)
	// Into a reused buffer too, as receivers do.
	dst := make([]byte, 0, len(raw)+64)
	out, err := header(raw, ends, payload, comp).Unpack(c, dst, payload)
	if err != nil || !bytes.Equal(out, raw) || &out[0] != &dst[:1][0] {
		t.Fatalf("decode into a reused buffer: %v, same bytes %v, in place %v", err, bytes.Equal(out, raw), err == nil && &out[0] == &dst[:1][0])
	}
}

func TestDecodeSplitRefusesWhatDoesNotFit(t *testing.T) {
	c := NewCodec()
	raw, ends := pack(logText(8192, 1)[:8192], randomBytes(4096, 2), logText(8192, 3)[:8192])
	good, comp := c.EncodeParts(nil, raw, ends, PolicyAuto, LevelFastest)
	if comp != CompressSplit {
		t.Fatalf("went %v; want split", comp)
	}
	with := func(edit func(p []byte) []byte) []byte { return edit(append([]byte(nil), good...)) }
	zlen := func(p []byte, n uint32) []byte { binary.LittleEndian.PutUint32(p[1:], n); return p }
	// A compressed section that decodes to 64 MiB, for a chunk of 20 KiB.
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	defer enc.Close()
	bomb := enc.EncodeAll(make([]byte, 64<<20), nil)
	bombPayload := append(append([]byte{0b010}, 0, 0, 0, 0), bomb...)
	binary.LittleEndian.PutUint32(bombPayload[1:], uint32(len(bomb)))
	bombPayload = append(bombPayload, raw[8192:8192+4096]...)
	for _, b := range []struct {
		name    string
		payload []byte
	}{
		{"truncated", good[:3]},
		{"section past the end", with(func(p []byte) []byte { return zlen(p, uint32(len(p))) })},
		{"raw section short", with(func(p []byte) []byte { return p[:len(p)-1] })},
		{"another part raw", with(func(p []byte) []byte { p[0] ^= 1; return p })},
		{"bomb", bombPayload},
	} {
		t.Run(b.name, func(t *testing.T) {
			h := header(raw, ends, b.payload, CompressSplit)
			var err error
			if n := bytesAllocated(func() { _, err = h.Unpack(c, nil, b.payload) }); n > uint64(4*len(raw)+(1<<20)) {
				t.Errorf("refusing it allocated %d bytes for a %d-byte chunk", n, len(raw))
			}
			if !errors.Is(err, ErrBadPayload) {
				t.Fatalf("Unpack: %v; want ErrBadPayload", err)
			}
			t.Logf("refused: %v", err)
		})
	}
	// Parts that do not add up to the chunk (a header not checked by
	// ReadChunk) are refused, not a panic.
	h := header(raw, ends, good, CompressSplit)
	for _, k := range []int64{1, -1} {
		parts := slices.Clone(h.Files)
		parts[1].Len += k
		if _, err := c.decodeSplit(nil, good, parts, len(raw)); !errors.Is(err, ErrBadPayload) {
			t.Errorf("parts %d bytes off the chunk: %v; want ErrBadPayload", k, err)
		}
	}
	// Only Unpack, which knows the parts, decodes a split pack.
	if _, err := c.Decode(nil, good, CompressSplit, len(raw)); !errors.Is(err, ErrBadPayload) {
		t.Errorf("Decode of a split pack without its parts: %v; want ErrBadPayload", err)
	}
}

func TestLooksRandom(t *testing.T) {
	b64 := []byte(base64.StdEncoding.EncodeToString(randomBytes(30_000, 9)))
	z, _ := NewCodec().Encode(nil, logText(1<<20, 4), PolicyZstd, LevelDefault)
	for _, c := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"random 1 KiB", randomBytes(1024, 1), true},
		{"random 4 KiB", randomBytes(4096, 2), true},
		{"random 4 MiB", randomBytes(4<<20, 3), true},
		{"zstd output", z, true},
		{"log text 4 KiB", logText(4096, 1)[:4096], false},
		{"log text 4 MiB", logText(4<<20, 1), false},
		{"base64", b64, false},
		{"zeros", make([]byte, 8192), false},
		{"empty", nil, false},
	} {
		if got := looksRandom(c.b); got != c.want {
			t.Errorf("looksRandom(%s) = %v; want %v", c.name, got, c.want)
		}
	}
}

// BenchmarkEncodePack compares judging a pack's parts one by one with
// compressing it whole, on 1,000 files of 4 KiB, random and log text by
// turns (S2's tree).
func BenchmarkEncodePack(b *testing.B) {
	var parts [][]byte
	for i := range 1000 {
		if i%2 == 0 {
			parts = append(parts, randomBytes(4096, uint64(i)))
		} else {
			parts = append(parts, logText(4096, uint64(i))[:4096])
		}
	}
	raw, ends := pack(parts...)
	c := NewCodec()
	dst := make([]byte, 0, MaxWireLen(len(raw)))
	for _, v := range []struct {
		name string
		ends []int
	}{{"parts", ends}, {"whole", nil}} {
		var payload []byte
		var comp Compression
		b.Run("encode-"+v.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				payload, comp = c.EncodeParts(dst, raw, v.ends, PolicyAuto, LevelFastest)
			}
			b.ReportMetric(float64(len(raw))/float64(len(payload)), "ratio")
		})
		h := header(raw, ends, payload, comp)
		out := make([]byte, 0, len(raw)+64)
		b.Run("decode-"+v.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := h.Unpack(c, out, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
