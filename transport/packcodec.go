package transport

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"
)

// Tuning of EncodeParts; DESIGN.md has the measurements.
const (
	// A part shorter than classifyMin is not judged on its own: it goes
	// the way of the part before it (a pack's first part is compressed).
	classifyMin = 1 << 10
	// looksRandom counts the bytes of at most entropySample bytes of a
	// part, in entropySlices slices spread over it.
	entropySample = 2 << 10
	entropySlices = 8
	// A sample at or above randomBits of order-0 entropy a byte is taken
	// for incompressible. Random bytes measure 7.91 on 2 KiB (7.64 on 1
	// KiB: a small sample under-counts), compressed and encrypted files
	// the same; log text 5–5.5, source code and JSON 5–6, base64 6.0.
	randomBits = 7.5
	// EncodeParts gathers the compressible parts of a split pack into
	// buffers of gatherSize bytes, one zstd frame each: it bounds the
	// memory a pack costs beyond its own buffers.
	gatherSize = 256 << 10
)

// EncodeParts is Encode for a chunk that joins several parts, such as a
// pack of small files: ends[i] is where part i ends in raw (the last end is
// len(raw)).
//
// Under PolicyAuto each part is judged on its own by the order-0 entropy of
// a sample of it (about a microsecond a part) instead of by probing the
// chunk: a part that looks random (compressed, encrypted, media) goes raw,
// the rest is compressed. On a pack that mixes both, zstd costs as much per
// random byte as per text byte, so a mixed pack travels as CompressSplit:
// its compressible parts gathered and compressed together, its random parts
// after them as they are (see decodeSplit for the layout). A pack all of
// one kind is CompressZstd or CompressNone, as Encode would send it. The
// result must save 1/keepSaving, or the chunk goes raw.
//
// A single part, or another policy, is Encode's case.
func (c *Codec) EncodeParts(dst, raw []byte, ends []int, p Policy, l Level) (payload []byte, comp Compression) {
	if len(ends) < 2 || len(raw) == 0 || p != PolicyAuto || ends[len(ends)-1] != len(raw) {
		return c.Encode(dst, raw, p, l)
	}
	// Judge the parts; the bitmap (bit i: part i goes raw) leads the
	// payload.
	n := (len(ends) + 7) / 8
	out := slices.Grow(dst[:0], n)[:n]
	clear(out)
	bitmap := out
	stored, judged := 0, false
	isRaw, start := false, 0
	for i, end := range ends {
		if end < start {
			return c.Encode(dst, raw, p, l) // ends out of order: no parts to judge
		}
		if part := raw[start:end]; len(part) >= classifyMin {
			isRaw, judged = looksRandom(part), true
		}
		if isRaw {
			bitmap[i/8] |= 1 << (i % 8)
			stored += end - start
		}
		start = end
	}
	switch {
	case !judged: // tiny parts only: Encode probes
		return c.Encode(dst, raw, p, l)
	case stored == len(raw):
		return raw, CompressNone
	case stored == 0:
		out = c.encoder(l).EncodeAll(raw, dst[:0])
		comp = CompressZstd
	default:
		out = c.appendSplit(out, raw, ends, l)
		comp = CompressSplit
	}
	if len(out) > len(raw)-len(raw)/keepSaving {
		return raw, CompressNone
	}
	return out, comp
}

// appendSplit appends the rest of a CompressSplit payload to out, which
// holds its bitmap: the length of the compressed section, the compressible
// parts as zstd frames of at most gatherSize raw bytes, and the raw parts.
func (c *Codec) appendSplit(out, raw []byte, ends []int, l Level) []byte {
	bitmap := out
	goesRaw := func(i int) bool { return bitmap[i/8]&(1<<(i%8)) != 0 }
	out = append(out, 0, 0, 0, 0)
	enc := c.encoder(l)
	gp, _ := c.gather.Get().(*[]byte)
	if gp == nil {
		b := make([]byte, 0, gatherSize)
		gp = &b
	}
	defer c.gather.Put(gp)
	gather := (*gp)[:0]
	flush := func() {
		if len(gather) > 0 {
			out = enc.EncodeAll(gather, out)
			gather = gather[:0]
		}
	}
	start := 0
	for i, end := range ends {
		part := raw[start:end]
		start = end
		switch {
		case goesRaw(i):
		case len(gather)+len(part) <= gatherSize:
			gather = append(gather, part...)
		case len(part) >= gatherSize: // contiguous already: one frame of its own
			flush()
			out = enc.EncodeAll(part, out)
		default:
			flush()
			gather = append(gather, part...)
		}
	}
	flush()
	binary.LittleEndian.PutUint32(out[len(bitmap):], uint32(len(out)-len(bitmap)-4))
	start = 0
	for i, end := range ends {
		if goesRaw(i) {
			out = append(out, raw[start:end]...)
		}
		start = end
	}
	return out
}

// looksRandom says whether b looks incompressible: the order-0 entropy of a
// sample of it (all of b up to entropySample bytes, else entropySlices
// slices spread over it) is at least randomBits a byte.
func looksRandom(b []byte) bool {
	var hist [4][256]uint16 // four counters per byte value: no store waits on the last
	count := func(s []byte) {
		for len(s) >= 4 {
			hist[0][s[0]]++
			hist[1][s[1]]++
			hist[2][s[2]]++
			hist[3][s[3]]++
			s = s[4:]
		}
		for _, x := range s {
			hist[0][x]++
		}
	}
	n := len(b)
	if n <= entropySample {
		count(b)
	} else {
		const slice = entropySample / entropySlices
		step := (n - slice) / (entropySlices - 1)
		for i := range entropySlices {
			count(b[i*step : i*step+slice])
		}
		n = entropySample
	}
	if n == 0 {
		return false
	}
	// H = log2(n) − Σ c·log2(c) / n
	clog := clog2()
	sum := float32(0)
	for v := range 256 {
		sum += clog[int(hist[0][v])+int(hist[1][v])+int(hist[2][v])+int(hist[3][v])]
	}
	return float32(math.Log2(float64(n)))-sum/float32(n) >= randomBits
}

// clog2 is c·log2(c) for every count a sample can hold, computed once.
var clog2 = sync.OnceValue(func() *[entropySample + 1]float32 {
	var t [entropySample + 1]float32
	for c := 2; c <= entropySample; c++ {
		t[c] = float32(float64(c) * math.Log2(float64(c)))
	}
	return &t
})

// decodeSplit turns a CompressSplit payload back into the chunk's raw bytes,
// given its parts (their DataLen in order) and rawLen, their sum. The
// payload is:
//
//	bitmap      ⌈parts/8⌉ bytes; bit i (LSB first) set: part i travels raw
//	zlen        uint32, little-endian: the length of the next section
//	compressed  zlen bytes of zstd frames: the other parts, in order
//	raw parts   the parts with their bit set, in order, as they are
//
// It decodes the compressed section into the end of dst and moves each part
// into place from the front, so it needs no buffer beyond dst (see Decode
// about dst). Anything that does not fit the parts exactly is ErrBadPayload.
func (c *Codec) decodeSplit(dst, payload []byte, parts []FilePart, rawLen int) ([]byte, error) {
	bad := func(format string, args ...any) ([]byte, error) {
		return nil, fmt.Errorf("decode split chunk: "+format+": %w", append(args, ErrBadPayload)...)
	}
	bitmapLen := (len(parts) + 7) / 8
	if len(payload) < bitmapLen+4 {
		return bad("%d bytes, too short for %d parts", len(payload), len(parts))
	}
	bitmap := payload[:bitmapLen]
	goesRaw := func(i int) bool { return bitmap[i/8]&(1<<(i%8)) != 0 }
	stored, total := 0, 0
	for i := range parts {
		k := parts[i].DataLen()
		if k < 0 || k > int64(rawLen-total) {
			return bad("parts hold more than %d raw bytes", rawLen)
		}
		total += int(k)
		if goesRaw(i) {
			stored += int(k)
		}
	}
	if total != rawLen {
		return bad("parts hold %d raw bytes, the chunk %d", total, rawLen)
	}
	zlen := binary.LittleEndian.Uint32(payload[bitmapLen:])
	rest := payload[bitmapLen+4:]
	if uint64(zlen) > uint64(len(rest)) || len(rest)-int(zlen) != stored || stored > rawLen {
		return bad("sections of %d and %d bytes do not fit %d raw bytes of %d", zlen, len(rest)-int(min(uint64(zlen), uint64(len(rest)))), stored, rawLen)
	}
	z, rawParts := rest[:zlen], rest[zlen:]
	dec, err := c.decoder()
	if err != nil {
		return nil, fmt.Errorf("decode split chunk: zstd decoder: %w", err)
	}
	n := rawLen + decodeSlack
	if cap(dst) < n {
		dst = make([]byte, 0, n)
	}
	dst = dst[:rawLen]
	// The compressed parts land at the end: [stored, rawLen). The decoder
	// stops at the capacity it is given, so a bomb stops there.
	text, err := dec.DecodeAll(z, dst[stored:stored:n])
	if err != nil {
		return bad("zstd: %v", err)
	}
	if len(text) != rawLen-stored {
		return bad("compressed section holds %d bytes, want %d", len(text), rawLen-stored)
	}
	if len(text) > 0 && &text[0] != &dst[stored] {
		copy(dst[stored:], text) // the decoder chose another buffer
	}
	// Front to back, part i goes to d, its bytes from the end (s) or from
	// rawParts. d ≤ s always: d counts the parts placed so far, s the
	// compressed ones placed plus every raw one. So a copy never writes
	// over compressed bytes still to be moved.
	d, s := 0, stored
	for i := range parts {
		k := int(parts[i].DataLen())
		if goesRaw(i) {
			d += copy(dst[d:d+k], rawParts[:k])
			rawParts = rawParts[k:]
			continue
		}
		copy(dst[d:d+k], dst[s:s+k])
		d, s = d+k, s+k
	}
	return dst, nil
}
