package transport

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// logText returns n bytes of realistic service logs: timestamps, levels,
// components, request ids, client addresses, paths, status codes, latencies.
func logText(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	comps := []string{"api", "auth", "db", "cache", "worker", "gateway"}
	methods := []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	msgs := []string{"request served", "cache miss, fetching from origin", "upstream timeout, retrying",
		"user authenticated", "rate limit exceeded for client", "connection reset by peer", "slow query detected"}
	statuses := []int64{200, 200, 200, 201, 204, 304, 404, 500}
	b := make([]byte, 0, n+256)
	t := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	for len(b) < n {
		t = t.Add(time.Duration(r.IntN(5000)) * time.Microsecond)
		b = t.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
		lv := "INFO"
		switch x := r.IntN(100); {
		case x < 3:
			lv = "ERROR"
		case x < 10:
			lv = "WARN"
		case x < 30:
			lv = "DEBUG"
		}
		b = append(b, ' ')
		b = append(b, lv...)
		b = append(b, " ["...)
		b = append(b, comps[r.IntN(len(comps))]...)
		b = append(b, "] req="...)
		b = strconv.AppendUint(b, r.Uint64()>>16, 16)
		b = append(b, " client=10."...)
		b = strconv.AppendInt(b, int64(r.IntN(4)), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(r.IntN(256)), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(r.IntN(256)), 10)
		b = append(b, ' ')
		b = append(b, methods[r.IntN(len(methods))]...)
		b = append(b, " /api/v1/orders/"...)
		b = strconv.AppendInt(b, int64(r.IntN(100000)), 10)
		b = append(b, " status="...)
		b = strconv.AppendInt(b, statuses[r.IntN(len(statuses))], 10)
		b = append(b, " dur="...)
		b = strconv.AppendFloat(b, r.ExpFloat64()*20, 'f', 3, 64)
		b = append(b, "ms msg=\""...)
		b = append(b, msgs[r.IntN(len(msgs))]...)
		b = append(b, "\"\n"...)
	}
	return b[:n]
}

// randomBytes returns n incompressible bytes.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	var key [32]byte
	key[0] = byte(seed)
	key[1] = byte(seed >> 8)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// compressedBytes returns n bytes of zstd output (of log text): what a
// .zst or .parquet file looks like to the codec.
func compressedBytes(t testing.TB, n int) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var out []byte
	for seed := uint64(100); len(out) < n; seed++ {
		out = enc.EncodeAll(logText(1<<20, seed), out)
	}
	return out[:n]
}

var (
	allPolicies = []Policy{PolicyAuto, PolicyZstd, PolicyNone}
	allLevels   = []Level{LevelFastest, LevelDefault, LevelBetter}
)

func TestCodecRoundTrip(t *testing.T) {
	const n = 320 << 10 // above probeMin, so PolicyAuto probes
	data := []struct {
		name string
		raw  []byte
		auto Compression // what PolicyAuto should choose
	}{
		{"random", randomBytes(n, 1), CompressNone},
		{"zeros", make([]byte, n), CompressZstd},
		{"logs", logText(n, 2), CompressZstd},
		{"compressed", compressedBytes(t, n), CompressNone},
		{"hex", []byte(fmt.Sprintf("%x", randomBytes(n/2, 3))), CompressZstd},
		{"small-logs", logText(3000, 4), CompressZstd},
		{"small-random", randomBytes(3000, 5), CompressNone},
		{"one-byte", []byte{7}, CompressNone},
		{"empty", nil, CompressNone},
	}
	c := NewCodec()
	for _, d := range data {
		for _, p := range allPolicies {
			for _, l := range allLevels {
				t.Run(fmt.Sprintf("%s/%v/%v", d.name, p, l), func(t *testing.T) {
					payload, comp := c.Encode(nil, d.raw, p, l)
					want := map[Policy]Compression{PolicyAuto: d.auto, PolicyZstd: CompressZstd, PolicyNone: CompressNone}[p]
					if len(d.raw) == 0 {
						want = CompressNone
					}
					if comp != want {
						t.Fatalf("Encode chose %v, want %v (payload %d of %d bytes)", comp, want, len(payload), len(d.raw))
					}
					if comp == CompressNone && len(d.raw) > 0 && &payload[0] != &d.raw[0] {
						t.Fatalf("uncompressed payload is a copy; want raw itself")
					}
					if comp == CompressZstd && p == PolicyAuto && len(payload) > len(d.raw)*97/100 {
						t.Fatalf("auto sent %d of %d bytes compressed: saves less than 3%%", len(payload), len(d.raw))
					}
					if len(payload) > MaxWireLen(len(d.raw)) {
						t.Fatalf("payload %d bytes for %d raw, above MaxWireLen %d", len(payload), len(d.raw), MaxWireLen(len(d.raw)))
					}
					got, err := c.Decode(nil, payload, comp, len(d.raw))
					if err != nil {
						t.Fatalf("Decode: %v", err)
					}
					if !bytes.Equal(got, d.raw) {
						t.Fatalf("round trip changed the data (%d bytes back, %d sent)", len(got), len(d.raw))
					}
				})
			}
		}
	}
}

func TestAutoCompressesText(t *testing.T) {
	c := NewCodec()
	raw := logText(1<<20, 9)
	for _, l := range allLevels {
		payload, comp := c.Encode(nil, raw, PolicyAuto, l)
		if comp != CompressZstd || len(payload)*3 > len(raw) {
			t.Errorf("level %v: log text sent as %v, %d of %d bytes; want zstd, at least 3x smaller", l, comp, len(payload), len(raw))
		}
	}
}

// A pack whose first files do not compress but whose rest does is still
// compressed: the probe samples the whole chunk, not just its start.
func TestAutoLooksPastTheFirstFile(t *testing.T) {
	c := NewCodec()
	raw := append(randomBytes(1<<20, 10), logText(3<<20, 11)...)
	payload, comp := c.Encode(nil, raw, PolicyAuto, LevelFastest)
	if comp != CompressZstd || len(payload) > len(raw)/2 {
		t.Fatalf("1 MiB random + 3 MiB logs sent as %v, %d of %d bytes; want zstd, under half", comp, len(payload), len(raw))
	}
	got, err := c.Decode(nil, payload, comp, len(raw))
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestEncodeDecodeReuseBuffers(t *testing.T) {
	c := NewCodec()
	raw := logText(1<<20, 12)
	enc := make([]byte, 0, MaxWireLen(len(raw)))
	dec := make([]byte, 0, len(raw)+64)
	var payload []byte
	for range runtime.GOMAXPROCS(0) + 1 { // warm every pooled encoder and decoder
		payload, _ = c.Encode(enc, raw, PolicyAuto, LevelFastest)
		if _, err := c.Decode(dec, payload, CompressZstd, len(raw)); err != nil {
			t.Fatal(err)
		}
	}
	// Small allocations inside the zstd library come and go (its pools drop
	// entries under -race); a buffer the size of the chunk must not.
	const bound = 64 << 10
	if n := bytesAllocated(func() { payload, _ = c.Encode(enc, raw, PolicyAuto, LevelFastest) }); n > bound {
		t.Errorf("Encode into a large enough dst allocated %d bytes", n)
	}
	if &payload[0] != &enc[:1][0] {
		t.Errorf("Encode did not use dst's storage")
	}
	var got []byte
	if n := bytesAllocated(func() { got, _ = c.Decode(dec, payload, CompressZstd, len(raw)) }); n > bound {
		t.Errorf("Decode into a large enough dst allocated %d bytes", n)
	}
	if !bytes.Equal(got, raw) || &got[0] != &dec[:1][0] {
		t.Errorf("Decode did not return the data in dst's storage")
	}
}

// bytesAllocated is how many bytes of heap f allocates.
func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestDecodeRefusesBombs(t *testing.T) {
	c := NewCodec()
	const claimed = 4 << 20
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(false))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	big := make([]byte, 64<<20)

	// A frame that says it holds 64 MiB: refused from its header.
	honest := enc.EncodeAll(big, nil)

	// A frame whose header lies: it claims 4 MiB, its blocks hold 64 MiB.
	var fh zstd.Header
	if err := fh.Decode(honest); err != nil {
		t.Fatal(err)
	}
	lying := append(patchedHeader(t, claimed, false), honest[fh.HeaderSize:]...)

	// Two frames: the announced 4 MiB, then 60 MiB more.
	twoFrames := append(enc.EncodeAll(big[:claimed], nil), enc.EncodeAll(big[claimed:], nil)...)

	// A streamed frame that does not announce its size at all.
	var streamed bytes.Buffer
	w, err := zstd.NewWriter(&streamed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(big); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	for _, b := range []struct {
		name    string
		payload []byte
		claimed int
	}{
		{"announces 64 MiB", honest, claimed},
		{"header lies", lying, claimed},
		{"second frame", twoFrames, claimed},
		{"size unknown", streamed.Bytes(), claimed},
		{"size unknown, tiny claim", streamed.Bytes(), 100}, // zstd omits sizes under 256
	} {
		t.Run(b.name, func(t *testing.T) {
			if len(b.payload) > 64<<10 {
				t.Fatalf("test bomb is %d bytes; want a small payload", len(b.payload))
			}
			var out []byte
			var err error
			// The decoder may allocate the announced size, not the 64 MiB.
			if n := bytesAllocated(func() { out, err = c.Decode(nil, b.payload, CompressZstd, b.claimed) }); n > 3*claimed {
				t.Errorf("refusing the bomb allocated %d bytes; want under %d", n, 3*claimed)
			}
			if !errors.Is(err, ErrBadPayload) {
				t.Fatalf("Decode of a %d-byte bomb claiming %d bytes: %d bytes, err %v; want ErrBadPayload", len(b.payload), b.claimed, len(out), err)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// patchedHeader returns a zstd frame header announcing size bytes.
func patchedHeader(t *testing.T, size uint64, checksum bool) []byte {
	t.Helper()
	h := zstd.Header{SingleSegment: true, HasFCS: true, FrameContentSize: size, HasCheckSum: checksum}
	b, err := h.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeRefusesWrongLengths(t *testing.T) {
	c := NewCodec()
	raw := logText(100_000, 13)
	z, comp := c.Encode(nil, raw, PolicyZstd, LevelFastest)
	if comp != CompressZstd {
		t.Fatal("PolicyZstd did not compress")
	}
	cases := []struct {
		name    string
		payload []byte
		comp    Compression
		rawLen  int
	}{
		{"zstd, one byte short", z, CompressZstd, len(raw) - 1},
		{"zstd, one byte long", z, CompressZstd, len(raw) + 1},
		{"zstd, truncated", z[:len(z)/2], CompressZstd, len(raw)},
		{"zstd, garbage", randomBytes(1000, 14), CompressZstd, len(raw)},
		{"zstd, empty", nil, CompressZstd, 0},
		{"raw, short", raw[:len(raw)-1], CompressNone, len(raw)},
		{"raw, long", raw, CompressNone, len(raw) - 1},
		{"unknown compression", z, Compression(7), len(raw)},
		{"negative length", raw, CompressNone, -1},
		{"above MaxChunkSize", raw, CompressZstd, MaxChunkSize + 1},
	}
	for _, tc := range cases {
		if out, err := c.Decode(nil, tc.payload, tc.comp, tc.rawLen); !errors.Is(err, ErrBadPayload) {
			t.Errorf("%s: got %d bytes, err %v; want ErrBadPayload", tc.name, len(out), err)
		}
	}
}

func TestHashDetectsChange(t *testing.T) {
	raw := logText(1<<20, 15)
	h := Hash(raw)
	if Hash(append([]byte(nil), raw...)) != h {
		t.Fatal("Hash differs for equal bytes")
	}
	for _, i := range []int{0, len(raw) / 2, len(raw) - 1} {
		changed := append([]byte(nil), raw...)
		changed[i] ^= 1
		if Hash(changed) == h {
			t.Errorf("flipping bit 0 of byte %d left the hash unchanged", i)
		}
	}
	if Hash(raw[:len(raw)-1]) == h {
		t.Error("dropping the last byte left the hash unchanged")
	}
}

// Eight goroutines share one Codec, each with its own data, policy and
// level, as an agent's senders and receivers do. Run with -race.
func TestCodecConcurrent(t *testing.T) {
	c := NewCodec()
	const workers, rounds = 8, 4
	inputs := make([][]byte, workers)
	for i := range inputs {
		if i%2 == 0 {
			inputs[i] = logText(300<<10+i*1000, uint64(i))
		} else {
			inputs[i] = randomBytes(300<<10+i*1000, uint64(i))
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw := inputs[i]
			var enc, dec []byte
			for r := range rounds {
				p, l := allPolicies[(i+r)%3], allLevels[(i/3+r)%3]
				payload, comp := c.Encode(enc, raw, p, l)
				if comp == CompressZstd {
					enc = payload
				}
				got, err := c.Decode(dec, payload, comp, len(raw))
				if err != nil {
					errs <- fmt.Errorf("worker %d round %d (%v/%v): %w", i, r, p, l, err)
					return
				}
				if Hash(got) != Hash(raw) {
					errs <- fmt.Errorf("worker %d round %d (%v/%v): data changed", i, r, p, l)
					return
				}
				if comp == CompressZstd {
					dec = got
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestParsePolicyAndLevel(t *testing.T) {
	for _, p := range allPolicies {
		if got, err := ParsePolicy(p.String()); err != nil || got != p {
			t.Errorf("ParsePolicy(%q) = %v, %v", p.String(), got, err)
		}
	}
	for _, l := range allLevels {
		if got, err := ParseLevel(l.String()); err != nil || got != l {
			t.Errorf("ParseLevel(%q) = %v, %v", l.String(), got, err)
		}
	}
	if _, err := ParsePolicy("gzip"); err == nil {
		t.Error(`ParsePolicy("gzip") accepted`)
	}
	if _, err := ParseLevel("ultra"); err == nil {
		t.Error(`ParseLevel("ultra") accepted`)
	}
}

const benchSize = 4 << 20

func benchEncode(b *testing.B, raw []byte) {
	c := NewCodec()
	for _, p := range allPolicies {
		for _, l := range allLevels {
			if p == PolicyNone && l != LevelFastest {
				continue // the level does not matter
			}
			b.Run(fmt.Sprintf("%v/%v", p, l), func(b *testing.B) {
				dst := make([]byte, 0, MaxWireLen(len(raw)))
				payload, _ := c.Encode(dst, raw, p, l)
				b.SetBytes(int64(len(raw)))
				b.ResetTimer()
				for b.Loop() {
					payload, _ = c.Encode(dst, raw, p, l)
				}
				b.ReportMetric(float64(len(raw))/float64(len(payload)), "ratio")
			})
		}
	}
}

func BenchmarkEncodeRandom4MiB(b *testing.B) { benchEncode(b, randomBytes(benchSize, 1)) }

func BenchmarkEncodeText4MiB(b *testing.B) { benchEncode(b, logText(benchSize, 1)) }

// BenchmarkEncodeText4MiBParallel encodes on every core at once through
// one Codec, as an agent's senders do: the pooled encoders should scale.
func BenchmarkEncodeText4MiBParallel(b *testing.B) {
	c := NewCodec()
	raw := logText(benchSize, 1)
	b.SetBytes(int64(len(raw)))
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]byte, 0, MaxWireLen(len(raw)))
		for pb.Next() {
			c.Encode(dst, raw, PolicyAuto, LevelFastest)
		}
	})
}

func BenchmarkDecodeText4MiB(b *testing.B) {
	c := NewCodec()
	raw := logText(benchSize, 1)
	for _, l := range allLevels {
		b.Run(l.String(), func(b *testing.B) {
			payload, comp := c.Encode(nil, raw, PolicyZstd, l)
			dst := make([]byte, 0, len(raw)+64)
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := c.Decode(dst, payload, comp, len(raw)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkHash4MiB(b *testing.B) {
	raw := randomBytes(benchSize, 1)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		Hash(raw)
	}
}
