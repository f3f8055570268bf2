package main

import (
	"os"
	"path/filepath"

	"github.com/leptonmesh/lepton/internal/linkemu"
	"github.com/leptonmesh/lepton/internal/testcluster"
)

// sshPortInNamespace is the sshd port inside the target namespace, which
// is new and empty, so any port is free.
const sshPortInNamespace = 22

// runS3 is WAN: the mixed tree across the userspace link emulator (two
// network namespaces joined by TUN devices: 1 Gbit/s, 50 ms round trip, a
// one-BDP drop-tail queue), with random loss swept. Lepton's agents sit
// one in each namespace; sshd listens in the target namespace and rsync
// and rclone run in the source namespace, so every tool crosses the very
// same link. Each run is capped (-cap): a capped run reports what landed.
func (b *bench) runS3(sc *scope) {
	if os.Geteuid() != 0 {
		sc.Fatalf("S3 needs root: network namespaces and TUN devices (run `sudo make bench`)")
	}
	if len(b.cfg.s3Loss) == 0 {
		sc.Fatalf("S3: no loss to sweep")
	}
	src := b.tree(kindMixed, b.cfg.s3Size)
	c := testcluster.New(sc)
	nets, link, err := c.NewEmulatedNet(linkemu.WAN(b.cfg.s3Loss[0]))
	if err != nil {
		sc.Fatalf("emulated link: %v", err)
	}
	tuneTCP(sc, nets)
	lepton := startLepton(sc, c, "S3", src, b.targetDir(sc, "S3", toolLepton), 1, 1, nets)
	addr, err := nets.Target.AddAddress()
	if err != nil {
		sc.Fatalf("sshd address in the target namespace: %v", err)
	}
	d, err := startSSHD(filepath.Join(sc.TempDir(), "sshd"), addr, sshPortInNamespace, "INFO", nets.Target.Command, nets.Source.DialContext)
	if err != nil {
		sc.Fatalf("sshd in the target namespace: %v", err)
	}
	sc.Cleanup(d.Stop)
	copiers := b.tcpCopiers(sc, "S3", d, nets.Source.Command, src, false, lepton)
	for _, loss := range b.cfg.s3Loss {
		prof := linkemu.WAN(loss)
		link.SetProfile(prof)
		p := b.addPoint(&Point{Scenario: "S3", Title: "WAN", Variant: "loss " + fmtLoss(loss), Loss: loss, Unit: unitMBps,
			Notes: []string{"link: " + prof.String() + "; sshd in the target namespace, rsync and rclone in the source namespace, one Lepton agent in each; TCP buffer limits 32 MiB in both namespaces"}},
			src, b.cfg.wanCap)
		b.measure(p, src, copiers, b.cfg.wanCap, linkStats(link))
	}
}

// linkStats returns measure's hook that adds the link's counters over
// each run (packets, bytes, drops by the queue and by random loss, each
// direction; the link's A end is the source namespace) to the run's Extra.
func linkStats(l *linkemu.Link) func() func() map[string]float64 {
	return func() func() map[string]float64 {
		a0, b0 := l.Stats()
		return func() map[string]float64 {
			a1, b1 := l.Stats()
			out := map[string]float64{}
			for _, d := range []struct {
				name     string
				from, to linkemu.Stats
			}{{"link_src_to_tgt_", a0, a1}, {"link_tgt_to_src_", b0, b1}} {
				out[d.name+"packets"] = float64(d.to.Packets - d.from.Packets)
				out[d.name+"bytes"] = float64(d.to.Bytes - d.from.Bytes)
				out[d.name+"queue_drops"] = float64(d.to.QueueDrops - d.from.QueueDrops)
				out[d.name+"loss_drops"] = float64(d.to.LossDrops - d.from.LossDrops)
			}
			return out
		}
	}
}

// tcpBuffers are the TCP autotuning limits set inside S3's two namespaces
// (min, default, max bytes). A namespace starts with the host's, whose
// send maximum here (4 MiB) would cap one TCP stream at about 56 MB/s on a
// 50 ms path; 32 MiB is what a VM tuned for long fat links runs with, so
// rsync and rclone are measured at their best, as Lepton is with its UDP
// buffer limits raised (see -sysctl).
var tcpBuffers = map[string]string{
	"net.ipv4.tcp_rmem": "4096 131072 33554432",
	"net.ipv4.tcp_wmem": "4096 16384 33554432",
}

// tuneTCP applies tcpBuffers in both namespaces (they vanish with them).
func tuneTCP(sc *scope, nets *testcluster.Net) {
	for _, ns := range []*testcluster.Netns{nets.Source, nets.Target} {
		for key, v := range tcpBuffers {
			if out, err := ns.Command("sysctl", "-w", key+"="+v).CombinedOutput(); err != nil {
				sc.Fatalf("set %s in namespace %s: %v: %s", key, ns.Name, err, out)
			}
		}
	}
	sc.Logf("S3: TCP buffer limits in both namespaces: %v", tcpBuffers)
}
