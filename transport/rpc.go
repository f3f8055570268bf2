package transport

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"time"
)

// MaxFrameSize bounds one RPC frame (request or response), both when
// sending and when receiving. Bulk data belongs on KindData streams.
const MaxFrameSize = 4 << 20

// Error codes the transport itself puts in a RemoteError. Handlers may
// return a *RemoteError with codes of their own (positive ones, by convention).
const (
	CodeHandler       = 0  // the handler returned a plain error
	CodeUnknownMethod = -1 // no handler for the method
	CodeBadRequest    = -2 // the request frame was unreadable or too large
	CodeBadResponse   = -3 // the result could not be encoded or was too large
	CodeInternal      = -4 // the handler panicked
)

const (
	rpcReadTimeout  = 30 * time.Second // for the request frame to arrive
	rpcWriteTimeout = 30 * time.Second // for the response to be taken
)

// RPCHandler serves one method. ctx ends at the caller's deadline or when
// the caller goes away; peer is the caller's verified node name. The result
// is sent as JSON; an error is sent as a RemoteError (a *RemoteError keeps
// its Code and Message).
type RPCHandler func(ctx context.Context, peer string, req json.RawMessage) (any, error)

// RemoteError is an error returned by the remote side of a Call.
type RemoteError struct {
	Peer    string // node that answered
	Method  string
	Code    int // CodeHandler, CodeUnknownMethod, ... or the handler's own
	Message string
}

// Error says which method failed on which peer, and why.
func (e *RemoteError) Error() string {
	return fmt.Sprintf("rpc %s on %s: %s", e.Method, e.Peer, e.Message)
}

type rpcRequest struct {
	Method    string          `json:"method"`
	TimeoutMS int64           `json:"timeout_ms,omitempty"` // the caller's remaining time
	Body      json.RawMessage `json:"body,omitempty"`
}

type rpcResponse struct {
	Body  json.RawMessage `json:"body,omitempty"`
	Error *rpcError       `json:"error,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// HandleRPC registers fn for method on KindRPC streams. Register before Serve.
func (e *Endpoint) HandleRPC(method string, fn RPCHandler) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.methods[method] = fn
}

// Call sends one request to method on peerName at addr and decodes the
// result into resp (which may be nil). ctx's deadline travels with the
// request. A refusal by the remote side is a *RemoteError.
func (e *Endpoint) Call(ctx context.Context, addr, peerName, method string, req, resp any) error {
	frame, err := encodeRequest(ctx, method, req)
	if err != nil {
		return fmt.Errorf("rpc %s to %s: %w", method, peerName, err)
	}
	s, err := e.OpenStream(ctx, addr, peerName, KindRPC)
	if err != nil {
		return fmt.Errorf("rpc %s: %w", method, err)
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, s.abort)
	defer stop()
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline {
		_ = s.SetDeadline(deadline)
	}

	var r rpcResponse
	err = writeFrame(s, frame)
	if err == nil {
		// A peer that has read the request may stop reading (and so reset
		// our write side) before our FIN goes out: its answer still comes,
		// so a failed CloseWrite is not the call's failure.
		_ = s.CloseWrite()
		err = readFrame(s, &r)
	}
	if err != nil {
		switch {
		case ctx.Err() != nil:
			err = context.Cause(ctx)
		case hasDeadline && !time.Now().Before(deadline):
			err = context.DeadlineExceeded // the stream's deadline fired just before ctx's timer
		}
		return fmt.Errorf("rpc %s to %s at %s: %w", method, peerName, addr, explain(err))
	}
	if r.Error != nil {
		return &RemoteError{Peer: s.Peer(), Method: method, Code: r.Error.Code, Message: r.Error.Message}
	}
	if resp != nil {
		if err := json.Unmarshal(r.Body, resp); err != nil {
			return fmt.Errorf("rpc %s to %s: decode result: %w", method, peerName, err)
		}
	}
	return nil
}

func encodeRequest(ctx context.Context, method string, req any) ([]byte, error) {
	r := rpcRequest{Method: method}
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return nil, context.DeadlineExceeded
		}
		r.TimeoutMS = max(1, left.Milliseconds())
	}
	if req != nil {
		body, err := json.Marshal(req)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		r.Body = body
	}
	frame, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	if len(frame) > MaxFrameSize {
		return nil, fmt.Errorf("request of %d bytes: %w (limit %d)", len(frame), ErrFrameTooLarge, MaxFrameSize)
	}
	return frame, nil
}

// serveRPC answers one request on an inbound KindRPC stream.
func (e *Endpoint) serveRPC(s *Stream) {
	defer s.Close()
	_ = s.SetReadDeadline(time.Now().Add(rpcReadTimeout))
	var req rpcRequest
	if err := readFrame(s, &req); err != nil {
		level := slog.LevelDebug // the caller went away
		if errors.Is(err, ErrFrameTooLarge) || errors.Is(err, errBadFrame) {
			level = slog.LevelWarn
		}
		e.log.Log(context.Background(), level, "bad rpc request", "peer", s.Peer(), "err", err.Error())
		e.reply(s, req.Method, rpcResponse{Error: &rpcError{Code: CodeBadRequest, Message: err.Error()}})
		return
	}
	e.mu.Lock()
	fn := e.methods[req.Method]
	e.mu.Unlock()
	if fn == nil {
		e.reply(s, req.Method, rpcResponse{Error: &rpcError{Code: CodeUnknownMethod, Message: "unknown method " + req.Method}})
		return
	}

	// The stream's context ends when the caller stops reading or the
	// connection dies; the caller's deadline bounds it further.
	ctx := s.qs.Context()
	if req.TimeoutMS > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.TimeoutMS)*time.Millisecond)
		defer cancel()
	}
	e.reply(s, req.Method, e.invoke(ctx, fn, s.Peer(), req))
}

// invoke runs a handler, turning its result, error or panic into a response.
func (e *Endpoint) invoke(ctx context.Context, fn RPCHandler, peer string, req rpcRequest) (resp rpcResponse) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("rpc handler panicked", "method", req.Method, "peer", peer, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			resp = rpcResponse{Error: &rpcError{Code: CodeInternal, Message: "internal error"}}
		}
	}()
	result, err := fn(ctx, peer, req.Body)
	if err != nil {
		if re, ok := errors.AsType[*RemoteError](err); ok {
			return rpcResponse{Error: &rpcError{Code: re.Code, Message: re.Message}}
		}
		return rpcResponse{Error: &rpcError{Code: CodeHandler, Message: err.Error()}}
	}
	body, err := json.Marshal(result)
	if err != nil {
		return rpcResponse{Error: &rpcError{Code: CodeBadResponse, Message: "encode result: " + err.Error()}}
	}
	return rpcResponse{Body: body}
}

// reply writes resp; a response too large to send becomes an error reply.
func (e *Endpoint) reply(s *Stream, method string, resp rpcResponse) {
	frame, err := json.Marshal(resp)
	if err == nil && len(frame) > MaxFrameSize {
		err = fmt.Errorf("response of %d bytes: %w (limit %d)", len(frame), ErrFrameTooLarge, MaxFrameSize)
		e.log.Warn("rpc response too large", "method", method, "peer", s.Peer(), "bytes", len(frame))
		frame, err = json.Marshal(rpcResponse{Error: &rpcError{Code: CodeBadResponse, Message: err.Error()}})
	}
	if err != nil {
		e.log.Error("encode rpc response", "method", method, "err", err.Error())
		return
	}
	_ = s.SetWriteDeadline(time.Now().Add(rpcWriteTimeout))
	if err := writeFrame(s, frame); err != nil {
		e.log.Debug("write rpc response", "method", method, "peer", s.Peer(), "err", err.Error())
	}
}

// errBadFrame means a frame's JSON could not be decoded.
var errBadFrame = errors.New("undecodable rpc frame")

// writeFrame writes a 4-byte big-endian length and the payload.
func writeFrame(w io.Writer, payload []byte) error {
	if len(payload) > MaxFrameSize {
		return fmt.Errorf("frame of %d bytes: %w (limit %d)", len(payload), ErrFrameTooLarge, MaxFrameSize)
	}
	buf := make([]byte, 4+len(payload))
	binary.BigEndian.PutUint32(buf, uint32(len(payload)))
	copy(buf[4:], payload)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// readFrame reads one frame, refusing lengths above MaxFrameSize before
// allocating, and decodes its JSON into v.
func readFrame(r io.Reader, v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return fmt.Errorf("read frame header: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrameSize {
		return fmt.Errorf("frame of %d bytes: %w (limit %d)", n, ErrFrameTooLarge, MaxFrameSize)
	}
	buf, err := readBody(r, int(n))
	if err != nil {
		return fmt.Errorf("read frame of %d bytes: %w", n, err)
	}
	if err := json.Unmarshal(buf, v); err != nil {
		return fmt.Errorf("%w: %w", errBadFrame, err)
	}
	return nil
}

// frameReadStep is the buffer a frame body is first read into; it doubles
// as the body arrives.
const frameReadStep = 4 << 10

// readBody reads an n-byte frame body (io.ReadFull's errors), growing its
// buffer as the bytes arrive rather than allocating n at once: a peer that
// announces a 4 MiB frame and sends nothing, on each of the 1024 streams a
// connection may hold, would otherwise make us allocate 4 GiB for the 30 s
// of rpcReadTimeout (FuzzRPCFrame). A frame that does arrive costs about
// twice its size in buffers.
func readBody(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, frameReadStep))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), n-len(buf)))
		}
		m, err := io.ReadFull(r, buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err == io.EOF && len(buf) > 0 {
			err = io.ErrUnexpectedEOF // as one io.ReadFull of n bytes says it
		}
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}
