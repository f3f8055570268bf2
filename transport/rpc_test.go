package transport

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

type echoReq struct {
	Msg string `json:"msg"`
}

type echoResp struct {
	Msg  string `json:"msg"`
	From string `json:"from"`
}

func startRPCPair(t *testing.T, setup func(e *Endpoint)) (a, b *node) {
	t.Helper()
	ca := newTestCA(t)
	b = startNode(t, ca.identity("b"), Config{}, setup)
	a = startNode(t, ca.identity("a"), Config{})
	return a, b
}

func TestCallRoundTrip(t *testing.T) {
	a, b := startRPCPair(t, func(e *Endpoint) {
		e.HandleRPC("echo", func(ctx context.Context, peer string, raw json.RawMessage) (any, error) {
			var req echoReq
			if err := json.Unmarshal(raw, &req); err != nil {
				return nil, err
			}
			return echoResp{Msg: req.Msg, From: peer}, nil
		})
	})
	var resp echoResp
	if err := a.Call(testContext(t), b.addr, "b", "echo", echoReq{Msg: "hi"}, &resp); err != nil {
		t.Fatalf("call: %v", err)
	}
	if resp != (echoResp{Msg: "hi", From: "a"}) {
		t.Fatalf("response %+v, want the message back and the caller's name a", resp)
	}
	if err := a.Call(testContext(t), b.addr, "b", "echo", echoReq{Msg: "ignored"}, nil); err != nil {
		t.Fatalf("call without a response value: %v", err)
	}
}

func TestCallReturnsRemoteErrors(t *testing.T) {
	a, b := startRPCPair(t, func(e *Endpoint) {
		e.HandleRPC("fail", func(context.Context, string, json.RawMessage) (any, error) {
			return nil, errors.New("disk full")
		})
		e.HandleRPC("coded", func(context.Context, string, json.RawMessage) (any, error) {
			return nil, &RemoteError{Code: 7, Message: "not the leader"}
		})
		e.HandleRPC("panic", func(context.Context, string, json.RawMessage) (any, error) {
			panic("bug")
		})
	})
	cases := []struct {
		method string
		code   int
		msg    string
	}{
		{"fail", CodeHandler, "disk full"},
		{"coded", 7, "not the leader"},
		{"panic", CodeInternal, "internal error"},
		{"nope", CodeUnknownMethod, "unknown method nope"},
	}
	for _, c := range cases {
		err := a.Call(testContext(t), b.addr, "b", c.method, nil, nil)
		re, ok := errors.AsType[*RemoteError](err)
		if !ok {
			t.Errorf("%s: error %v is not a *RemoteError", c.method, err)
			continue
		}
		if re.Method != c.method || re.Peer != "b" || re.Code != c.code || re.Message != c.msg {
			t.Errorf("%s: got %+v, want code %d message %q", c.method, *re, c.code, c.msg)
		}
	}
}

func TestOversizeFramesAreRefusedBothWays(t *testing.T) {
	called := make(chan struct{}, 1)
	big := strings.Repeat("x", MaxFrameSize+1)
	a, b := startRPCPair(t, func(e *Endpoint) {
		e.HandleRPC("take", func(context.Context, string, json.RawMessage) (any, error) {
			called <- struct{}{}
			return nil, nil
		})
		e.HandleRPC("give", func(context.Context, string, json.RawMessage) (any, error) {
			return big, nil
		})
	})

	err := a.Call(testContext(t), b.addr, "b", "take", big, nil)
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("sending an oversize request: %v, want ErrFrameTooLarge", err)
	}
	select {
	case <-called:
		t.Errorf("the handler ran for an oversize request")
	default:
	}

	err = a.Call(testContext(t), b.addr, "b", "give", nil, nil)
	if re, ok := errors.AsType[*RemoteError](err); !ok || re.Code != CodeBadResponse || !strings.Contains(re.Message, "too large") {
		t.Errorf("asking for an oversize response: %v, want a RemoteError saying it is too large", err)
	}

	// A peer that announces an oversize frame gets an error reply, not an allocation.
	s, err := a.OpenStream(testContext(t), b.addr, "b", KindRPC)
	if err != nil {
		t.Fatalf("open rpc stream: %v", err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], MaxFrameSize+1)
	if _, err := s.Write(hdr[:]); err != nil {
		t.Fatalf("write header: %v", err)
	}
	var resp rpcResponse
	if err := readFrame(s, &resp); err != nil {
		t.Fatalf("read reply to an oversize header: %v", err)
	}
	if resp.Error == nil || resp.Error.Code != CodeBadRequest || !strings.Contains(resp.Error.Message, "too large") {
		t.Errorf("reply to an oversize header: %+v, want a bad-request error saying too large", resp.Error)
	}
}

func TestCallDeadlineReachesTheHandler(t *testing.T) {
	handlerDone := make(chan error, 1)
	a, b := startRPCPair(t, func(e *Endpoint) {
		e.HandleRPC("slow", func(ctx context.Context, _ string, _ json.RawMessage) (any, error) {
			select {
			case <-ctx.Done():
				handlerDone <- ctx.Err()
			case <-time.After(10 * time.Second):
				handlerDone <- errors.New("handler context never ended")
			}
			return nil, nil
		})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := a.Call(ctx, b.addr, "b", "slow", nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("call past its deadline: %v, want context.DeadlineExceeded", err)
	}
	select {
	case err := <-handlerDone:
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			t.Errorf("handler context: %v, want it ended", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("handler did not return")
	}
}
