package transport

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

func pingHandler(e *Endpoint) {
	e.HandleRPC("ping", func(context.Context, string, json.RawMessage) (any, error) { return "pong", nil })
}

func TestClientWithoutCertificateIsRefused(t *testing.T) {
	ca := newTestCA(t)
	idB := ca.identity("b")
	b := startNode(t, idB, Config{}, pingHandler)

	// A plain QUIC client that trusts the CA but has no certificate.
	ctx := testContext(t)
	conf := &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{ALPN}, RootCAs: idB.CAs, ServerName: "b"}
	err := func() error {
		conn, err := quic.DialAddr(ctx, b.addr, conf, nil)
		if err != nil {
			return err
		}
		defer conn.CloseWithError(0, "")
		s, err := conn.OpenStreamSync(ctx)
		if err != nil {
			return err
		}
		_ = s.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := s.Write([]byte{byte(KindRPC)}); err != nil {
			return err
		}
		if err := writeFrame(s, []byte(`{"method":"ping"}`)); err != nil {
			return err
		}
		_, err = io.ReadAll(s)
		return err
	}()
	if err == nil {
		t.Fatal("a client without a certificate got an answer")
	}
	waitFor(t, "b to count the failed handshake", func() bool { return b.Stats().HandshakesFailed >= 1 })
	if logs := b.logs.String(); !strings.Contains(logs, "inbound TLS handshake failed") || !strings.Contains(logs, "certificate") {
		t.Errorf("b's log does not explain the failed handshake:\n%s", logs)
	}
}

func TestClientWithCertificateFromAnotherCAIsRefused(t *testing.T) {
	ca := newTestCA(t)
	b := startNode(t, ca.identity("b"), Config{}, pingHandler)
	rogue := startNode(t, ca.foreignIdentity("a"), Config{})

	err := rogue.Call(testContext(t), b.addr, "b", "ping", nil, nil)
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("call with a foreign certificate: %v, want ErrRefused", err)
	}
	waitFor(t, "b to count the failed handshake", func() bool { return b.Stats().HandshakesFailed >= 1 })
	if logs := b.logs.String(); !strings.Contains(logs, "unknown authority") {
		t.Errorf("b's log does not name the unknown CA:\n%s", logs)
	}
}

func TestDialingTheWrongNodeNamesTheMismatch(t *testing.T) {
	ca := newTestCA(t)
	c := startNode(t, ca.identity("c"), Config{}, pingHandler)
	// x's certificate is also valid for the name b, but speaks for x.
	x := startNode(t, ca.identity("x", "b"), Config{}, pingHandler)
	a := startNode(t, ca.identity("a"), Config{})

	for _, server := range []*node{c, x} {
		err := a.Call(testContext(t), server.addr, "b", "ping", nil, nil)
		if !errors.Is(err, ErrPeerNameMismatch) {
			t.Errorf("expecting b at %s's address: %v, want ErrPeerNameMismatch", server.name, err)
			continue
		}
		want := fmt.Sprintf("certificate is for %q, expected %q", server.name, "b")
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %s", err, want)
		}
	}
	if n := a.Stats().HandshakesFailed; n != 2 {
		t.Errorf("a counted %d failed handshakes, want 2", n)
	}
	// With the right name the same addresses work.
	for _, server := range []*node{c, x} {
		if err := a.Call(testContext(t), server.addr, server.name, "ping", nil, nil); err != nil {
			t.Errorf("call %s by its own name: %v", server.name, err)
		}
	}
}

func TestAuthorizeRefusesInboundPeers(t *testing.T) {
	ca := newTestCA(t)
	var mu sync.Mutex
	var remotes []net.Addr
	authorize := func(peer string, remote net.Addr) error {
		mu.Lock()
		remotes = append(remotes, remote)
		mu.Unlock()
		if peer == "a" {
			return errors.New("a is not a gossip member")
		}
		return nil
	}
	b := startNode(t, ca.identity("b"), Config{Authorize: authorize}, pingHandler)
	a := startNode(t, ca.identity("a"), Config{})
	c := startNode(t, ca.identity("c"), Config{})

	err := a.Call(testContext(t), b.addr, "b", "ping", nil, nil)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "a is not a gossip member") {
		t.Fatalf("call from an unauthorized peer: %v, want ErrRefused with the reason", err)
	}
	waitFor(t, "b to count the refusal", func() bool { return b.Stats().Refused == 1 })
	logs := b.logs.String()
	if !strings.Contains(logs, "refused inbound peer") || !strings.Contains(logs, "peer=a") || !strings.Contains(logs, a.addr) {
		t.Errorf("b's log does not name the refused peer and its address:\n%s", logs)
	}

	var pong string
	if err := c.Call(testContext(t), b.addr, "b", "ping", nil, &pong); err != nil || pong != "pong" {
		t.Fatalf("call from an authorized peer: %q, %v", pong, err)
	}
	mu.Lock()
	defer mu.Unlock()
	// Authorize sees each peer's listening address, which gossip can confirm.
	want := []string{a.addr, c.addr}
	var got []string
	for _, r := range remotes {
		got = append(got, r.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("Authorize saw remotes %v, want %v", got, want)
	}
}
