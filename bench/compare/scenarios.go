package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/leptonmesh/lepton/internal/testcluster"
)

// runS1 is bulk: the mixed tree, one source agent to one target agent.
func (b *bench) runS1(sc *scope) {
	src := b.tree(kindMixed, b.cfg.s1Size)
	copiers := b.loopback(sc, "S1", src, 1, false)
	p := b.addPoint(&Point{Scenario: "S1", Title: "bulk", Unit: unitMBps}, src, b.cfg.timeout)
	b.measure(p, src, copiers, b.cfg.timeout, nil)
}

// runS2 is small files: per-file costs, not bandwidth, set the pace.
func (b *bench) runS2(sc *scope) {
	src := b.tree(kindSmall, int64(b.cfg.s2Files))
	copiers := b.loopback(sc, "S2", src, 1, false)
	p := b.addPoint(&Point{Scenario: "S2", Title: "small files", Unit: unitFiles}, src, b.cfg.timeout)
	b.measure(p, src, copiers, b.cfg.timeout, nil)
}

// runS4 is fan-out: three source agents sharing the source volume, three
// target agents sharing the target volume; rsync and rclone get the fair
// equivalent, three processes over disjoint thirds of the tree.
func (b *bench) runS4(sc *scope) {
	src := b.tree(kindMixed, b.cfg.s4Size)
	copiers := b.loopback(sc, "S4", src, 3, true)
	thirds := splitThree(src.top)
	p := b.addPoint(&Point{Scenario: "S4", Title: "fan-out", Unit: unitMBps, Notes: []string{
		"Lepton: 3 source agents share the source volume and 3 target agents the target volume (shared: true); one job, aggregate throughput.",
		fmt.Sprintf("rsync and rclone: the fair equivalent is 3 parallel processes over disjoint thirds of the tree (top-level dirs dealt round robin: %s | %s | %s), each its own ssh connection; time is until the last ends.",
			strings.Join(thirds[0], " "), strings.Join(thirds[1], " "), strings.Join(thirds[2], " ")),
	}}, src, b.cfg.timeout)
	b.measure(p, src, copiers, b.cfg.timeout, nil)
}

// loopback sets up the three tools on 127.0.0.1 for one scenario: n
// source and n target agents, and an sshd for rsync and rclone (parallel:
// three processes each over thirds of the tree).
func (b *bench) loopback(sc *scope, id string, src tree, n int, parallel bool) []copier {
	c := testcluster.New(sc)
	lepton := startLepton(sc, c, id, src, b.targetDir(sc, id, toolLepton), n, n, nil)
	d, err := startSSHD(filepath.Join(sc.TempDir(), "sshd"), "127.0.0.1", 0, "INFO", hostCommand, (&net.Dialer{}).DialContext)
	if err != nil {
		sc.Fatalf("sshd: %v", err)
	}
	sc.Cleanup(d.Stop)
	return b.tcpCopiers(sc, id, d, hostCommand, src, parallel, lepton)
}

// tcpCopiers makes the rsync and rclone copiers against sshd d and
// returns them after lepton, in the order runs interleave.
func (b *bench) tcpCopiers(sc *scope, id string, d *sshd, run commandFunc, src tree, parallel bool, lepton *leptonCopier) []copier {
	out := []copier{lepton}
	for _, tool := range []string{toolRsync, toolRclone} {
		t, err := newTCPCopier(sc, tool, d, run, src, b.targetDir(sc, id, tool), parallel, b.procs)
		if err != nil {
			sc.Fatalf("%s: %v", tool, err)
		}
		t.idle = lepton.pids()
		out = append(out, t)
	}
	return out
}

// probeCiphers starts an sshd on loopback that logs at DEBUG1, connects
// once with ssh and once with rclone, and reads from its log which cipher
// each negotiated (the measuring sshd logs at INFO).
func (b *bench) probeCiphers(sc *scope) {
	d, err := startSSHD(filepath.Join(sc.TempDir(), "sshd"), "127.0.0.1", 0, "DEBUG1", hostCommand, (&net.Dialer{}).DialContext)
	if err != nil {
		sc.Fatalf("sshd: %v", err)
	}
	defer d.Stop()
	conf := filepath.Join(sc.TempDir(), "rclone.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		sc.Fatal(err)
	}
	probes := []struct {
		key  string
		argv []string
	}{
		{"ssh cipher negotiated (rsync's ssh)", append(append(d.SSHArgs(), d.Dest()), "true")},
		{"ssh cipher negotiated (rclone)", []string{"rclone", "lsf", "--max-depth", "1", d.RcloneRemote("/")}},
	}
	for _, p := range probes {
		from := len(d.Log())
		cmd := exec.Command(p.argv[0], p.argv[1:]...)
		cmd.Env = append(os.Environ(), "RCLONE_CONFIG="+conf)
		out, err := runBounded(cmd, 30*time.Second)
		if err != nil {
			sc.Fatalf("%s cannot reach the benchmark's sshd: %v: %s\nsshd log: %s", p.argv[0], err, tail(string(out), 5), tail(d.Log(), 10))
		}
		waitNoneBelow(d.PID(), 5*time.Second)
		if c := ciphersSince(d.Log(), from); len(c) > 0 {
			b.rep.Versions[p.key] = strings.Join(c, ", ")
		} else {
			b.rep.Versions[p.key] = "unknown (not in sshd's log)"
		}
	}
}

// runBounded runs cmd to its end, killing it after timeout, and returns
// its combined output.
func runBounded(cmd *exec.Cmd, timeout time.Duration) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.Bytes(), err
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return out.Bytes(), fmt.Errorf("%s: killed after %v", cmd.Path, timeout)
	}
}
