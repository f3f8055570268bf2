package mover

import "sync"

// chunkBufs lends chunk-sized buffers to the receive path (and read
// buffers to verification, which re-reads units). A receiver may
// have hundreds of open data streams (lanes × pooled streams per lane, and
// stripes); buffers kept per stream would grow memory with the streams,
// buffers lent per chunk grow it only with the chunks being handled at once.
var chunkBufs = sync.Pool{New: func() any { return new([]byte) }}

// borrow returns a buffer of length 0 and some capacity (grow it as needed).
func borrow() *[]byte {
	b := chunkBufs.Get().(*[]byte)
	*b = (*b)[:0]
	return b
}

// giveBack returns a buffer; b (and slices of it) must not be used after.
func giveBack(b *[]byte) { chunkBufs.Put(b) }

// borrowRead lends a buffer for reading files back, of at least
// verifyRead bytes, as its full-length slice; give bp back when done.
func borrowRead() (bp *[]byte, buf []byte) {
	bp = borrow()
	if cap(*bp) < verifyRead {
		*bp = make([]byte, 0, verifyRead)
	}
	return bp, (*bp)[:cap(*bp)]
}
