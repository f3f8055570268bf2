package transport

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// A striped chunk's header and its stripes, written in any order on any
// streams, read back as one header and the stripes' exact bytes, which put
// together unpack to the chunk's raw data.
func TestStripedChunkRoundTrip(t *testing.T) {
	c := NewCodec()
	ch := bigFileChunk(t, c)
	var head bytes.Buffer
	h := ch.h
	if err := WriteStripedChunk(&head, &h, 77, len(ch.payload)); err != nil {
		t.Fatal(err)
	}
	f, err := ReadDataFrame(&head, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if f.Chunk == nil || f.Payload != nil || f.Transfer != 77 || f.Chunk.WireLen != uint32(len(ch.payload)) {
		t.Fatalf("striped header read back as %+v", f)
	}
	want := ch.h
	want.WireLen = uint32(len(ch.payload))
	if !reflect.DeepEqual(*f.Chunk, want) {
		t.Fatalf("header %+v, want %+v", *f.Chunk, want)
	}

	// Three stripes, sent last first on one stream here.
	total := uint32(len(ch.payload))
	cuts := []uint32{0, total / 3, 2 * total / 3, total}
	var s bytes.Buffer
	for i := 2; i >= 0; i-- {
		st := Stripe{Transfer: 77, Off: cuts[i], Len: cuts[i+1] - cuts[i], Total: total}
		if err := WriteStripe(&s, st, ch.payload[st.Off:st.Off+st.Len]); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, total)
	for range 3 {
		f, err := ReadDataFrame(&s, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if f.Stripe == nil || f.Chunk != nil {
			t.Fatalf("stripe frame read as %+v", f)
		}
		if _, err := io.ReadFull(&s, got[f.Stripe.Off:f.Stripe.Off+f.Stripe.Len]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ReadDataFrame(&s, nil, 0); err != io.EOF {
		t.Fatalf("after the stripes: %v, want io.EOF", err)
	}
	raw, err := f.Chunk.Unpack(c, nil, got)
	if err != nil || !bytes.Equal(raw, ch.raw) {
		t.Fatalf("stripes put together unpack to %d bytes (%v), want the chunk's %d", len(raw), err, len(ch.raw))
	}
}

// A plain chunk reads the same through ReadDataFrame as through ReadChunk.
func TestReadDataFrameReadsPlainChunks(t *testing.T) {
	c := NewCodec()
	ch := packChunk(t, c, 50)
	var b bytes.Buffer
	h := ch.h
	if err := WriteChunk(&b, &h, ch.payload); err != nil {
		t.Fatal(err)
	}
	f, err := ReadDataFrame(&b, nil, 0)
	if err != nil || f.Chunk == nil || !bytes.Equal(f.Payload, ch.payload) || f.Stripe != nil {
		t.Fatalf("plain chunk: %+v, %v", f, err)
	}
}

func TestBadStripesAreRefused(t *testing.T) {
	for name, st := range map[string]Stripe{
		"past the end":     {Transfer: 1, Off: 90, Len: 20, Total: 100},
		"empty":            {Transfer: 1, Off: 0, Len: 0, Total: 100},
		"payload too big":  {Transfer: 1, Off: 0, Len: 10, Total: uint32(MaxWireLen(MaxChunkSize)) + 1},
		"offset overflows": {Transfer: 1, Off: 1<<32 - 1, Len: 2, Total: 100},
	} {
		var b bytes.Buffer
		if err := WriteStripe(&b, st, make([]byte, st.Len)); err == nil {
			t.Errorf("%s: WriteStripe accepted %+v", name, st)
		}
		// Hand-made, as a hostile peer would send it.
		frame := []byte{frameStripe, frameVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
		frame = append(frame, uvarint(uint64(st.Off))...)
		frame = append(frame, uvarint(uint64(st.Len))...)
		frame = append(frame, uvarint(uint64(st.Total))...)
		putPrefix(frame, frameStripe, len(frame)-framePrefix)
		if _, err := ReadDataFrame(bytes.NewReader(frame), nil, 0); err == nil {
			t.Errorf("%s: ReadDataFrame accepted %+v", name, st)
		}
	}
	// An ack where a data frame belongs is out of step.
	var b bytes.Buffer
	if err := WriteAck(&b, &ChunkAck{Unit: 1, OK: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDataFrame(&b, nil, 0); !errors.Is(err, ErrBadFrame) {
		t.Errorf("an ack frame on a data stream: %v, want ErrBadFrame", err)
	}
}

func uvarint(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
