package testcluster

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/leptonmesh/lepton/internal/linkemu"
)

// TestEmulatedNetCarriesUDPBetweenClouds checks that agents' addresses in
// the two clouds of an emulated net reach each other through the
// emulator, with its delay, and that Partition and Heal cut and restore
// that path. No agent runs: the cluster is only the namespaces' owner.
func TestEmulatedNetCarriesUDPBetweenClouds(t *testing.T) {
	c := &Cluster{t: t}
	const delay = 10 * time.Millisecond
	clouds, link, err := c.NewEmulatedNet(linkemu.Profile{Rate: 100e6, Delay: delay})
	if errors.Is(err, ErrNoNetns) {
		t.Skipf("an emulated net needs network namespaces and TUN devices (root and iproute2): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	srcIP, err := clouds.Source.AddAddress()
	if err != nil {
		t.Fatal(err)
	}
	tgtIP, err := clouds.Target.AddAddress()
	if err != nil {
		t.Fatal(err)
	}
	var server *net.UDPConn
	if err := linkemu.InNetns(clouds.Target.Name, func() (err error) {
		server, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(tgtIP)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	go func() { // echo until the socket closes
		buf := make([]byte, 1500)
		for {
			n, from, err := server.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, _ = server.WriteToUDP(buf[:n], from)
		}
	}()
	client, err := clouds.Source.DialContext(context.Background(), "udp4", server.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if got := client.LocalAddr().(*net.UDPAddr).IP.String(); got != srcIP {
		t.Fatalf("the source cloud sends from %s, want its agent address %s", got, srcIP)
	}

	// ping sends one datagram and waits up to wait for its echo.
	ping := func(msg string, wait time.Duration) (time.Duration, error) {
		start := time.Now()
		if _, err := client.Write([]byte(msg)); err != nil {
			return 0, err
		}
		_ = client.SetReadDeadline(time.Now().Add(wait))
		buf := make([]byte, 1500)
		n, err := client.Read(buf)
		if err != nil {
			return 0, err
		}
		if string(buf[:n]) != msg {
			return 0, errors.New("echo " + string(buf[:n]) + ", want " + msg)
		}
		return time.Since(start), nil
	}
	rtt, err := ping("hello", 5*time.Second)
	if err != nil {
		t.Fatalf("%s cannot reach %s across the emulated link: %v", srcIP, tgtIP, err)
	}
	if rtt < 2*delay {
		t.Fatalf("round trip %v, shorter than the link's two %v delays", rtt, delay)
	}
	ab, ba := link.Stats()
	if ab.Packets < 1 || ba.Packets < 1 {
		t.Fatalf("link counted source->target %+v, target->source %+v; want the ping each way", ab, ba)
	}

	if err := clouds.Partition(); err != nil {
		t.Fatal(err)
	}
	if _, err := ping("cut", 300*time.Millisecond); err == nil {
		t.Fatal("a ping crossed a partitioned link")
	}
	if err := clouds.Heal(); err != nil {
		t.Fatal(err)
	}
	// The late echo of "cut" cannot arrive: the target never got it.
	if _, err := ping("healed", 5*time.Second); err != nil {
		t.Fatalf("no ping across the healed link: %v", err)
	}
}
